package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

func openTestSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestSQLiteStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTestSQLite(t, filepath.Join(t.TempDir(), "auth.db"))
	})
}

func TestOpenSQLiteCreatesPrivateFileAndDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	path := filepath.Join(dir, "auth.db")
	s := openTestSQLite(t, path)
	defer s.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode(), want)
		}
	}
	var mode string
	if err := s.read.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var fk int
	if err := s.write.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Error("foreign keys are off")
	}
}

func TestOpenSQLiteReopenKeepsDataAndSchemaVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	s := openTestSQLite(t, path)
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s = openTestSQLite(t, path)
		if _, err := s.User(ctx, "alice"); err != nil {
			t.Fatalf("user lost on reopen: %v", err)
		}
		var n, v int
		if err := s.read.QueryRow(`SELECT count(*), max(version) FROM schema_version`).Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		if want := len(migrations()); n != want || v != want {
			t.Errorf("schema_version has %d rows up to %d, want %d", n, v, want)
		}
		s.Close()
	}
}

func TestOpenSQLiteRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	s := openTestSQLite(t, path)
	if _, err := s.write.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, len(migrations())+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open accepted a database from a newer version")
	}
}

func TestOpenSQLitePathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "a&b=c.db")
	s := openTestSQLite(t, path)
	defer s.Close()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the given path: %v", err)
	}
}

func TestOpenSQLiteErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, ""); err == nil {
		t.Error("empty path accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, filepath.Join(file, "auth.db")); err == nil {
		t.Error("path under a regular file accepted")
	}
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not an SQLite database, not at all, no"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, garbage); err == nil {
		s.Close()
		t.Error("a file that is not a database was accepted")
	}
}

// Two handles on one file stand for the server and an admin subcommand (or
// two server processes): concurrent writes through both never fail with
// SQLITE_BUSY, and rotation stays single-winner across them.
func TestSQLiteConcurrentWritersOnOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	a := openTestSQLite(t, path)
	defer a.Close()
	b := openTestSQLite(t, path)
	defer b.Close()

	base := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 50 {
		for j, s := range []*Store{a, b} {
			wg.Go(func() {
				name := fmt.Sprintf("user-%d-%d", j, i)
				if err := s.CreateUser(ctx, store.User{Username: name, PasswordHash: "h"}); err != nil {
					errs <- err
				}
				if err := s.Deny(ctx, store.DeniedToken{JTI: name, ExpiresAt: base.Add(time.Hour)}); err != nil {
					errs <- err
				}
				if _, err := s.RevocationsSince(ctx, 0); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write failed: %v", err)
	}
	users, err := b.ListUsers(ctx)
	if err != nil || len(users) != 100 {
		t.Errorf("ListUsers = %d users, %v; want 100", len(users), err)
	}

	if err := a.CreateRefresh(ctx, storetest.Family("x", base)); err != nil {
		t.Fatal(err)
	}
	var wins, reused int
	var mu sync.Mutex
	for i := range 20 {
		s := []*Store{a, b}[i%2]
		wg.Go(func() {
			_, err := storetest.Rotate(s, storetest.Digest("x"), store.RefreshToken{Digest: storetest.Digest(fmt.Sprint("x", i))}, base)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrRefreshReused):
				reused++
			default:
				t.Errorf("RotateRefresh: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || reused != 19 {
		t.Errorf("%d wins and %d reuses across two handles, want 1 and 19", wins, reused)
	}
}

// A database created by the first schema version is brought up to date
// with its data intact: clients gain a zero not-before time, the feed keeps
// its events and sequence, and sessions rotated before keep working.
func TestOpenSQLiteMigratesVersion1Data(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	for _, stmt := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		migrations()[0],
		`INSERT INTO schema_version VALUES (1, 0)`,
		`INSERT INTO clients VALUES ('svc', 'hash', '["a"]', 1)`,
		`INSERT INTO revocations (subject, expires_at, not_before) VALUES ('alice', 0, 5)`,
		fmt.Sprintf(`INSERT INTO revocations (jti, expires_at, not_before) VALUES ('j', %d, 0)`, base.Add(time.Hour).UnixNano()),
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	s := openTestSQLite(t, path)
	defer s.Close()
	c, err := s.Client(ctx, "svc")
	if err != nil || c.SecretHash != "hash" || !c.NotBefore.IsZero() {
		t.Errorf("client after migration: %+v, %v", c, err)
	}
	evs, err := s.RevocationsSince(ctx, 0)
	if err != nil || len(evs) != 2 || evs[0].Subject != "alice" || evs[0].ClientID != "" || evs[1].JTI != "j" || evs[1].Seq != 2 {
		t.Errorf("feed after migration: %+v, %v", evs, err)
	}
	if err := s.CreateRefresh(ctx, storetest.Family("a", base)); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.Rotate(s, storetest.Digest("a"), store.RefreshToken{Digest: storetest.Digest("a2")}, base); err != nil {
		t.Errorf("rotation after migration: %v", err)
	}
}

// BenchmarkStore measures the store calls of the hot paths (see
// storetest.Benchmark) on SQLite; compare the PostgreSQL store's.
func BenchmarkStore(b *testing.B) {
	s, err := Open(context.Background(), b.TempDir()+"/auth.db")
	if err != nil {
		b.Fatal(err)
	}
	storetest.Benchmark(b, s)
}
