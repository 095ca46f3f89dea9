package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres/pgtest"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

// openTestPostgres opens a store on a new schema.
func openTestPostgres(tb testing.TB) *Store {
	tb.Helper()
	return openTestPostgresConfig(tb, pgtest.Config(tb))
}

func openTestPostgresConfig(tb testing.TB, cfg *pgxpool.Config) *Store {
	tb.Helper()
	s, err := OpenConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("OpenConfig: %v", err)
	}
	return s
}

// twoInstances opens two stores on one new schema, as two server
// instances sharing a database would.
func twoInstances(t *testing.T, cfg *pgxpool.Config) (a, b *Store) {
	t.Helper()
	a = openTestPostgresConfig(t, cfg.Copy())
	t.Cleanup(func() { a.Close() })
	b = openTestPostgresConfig(t, cfg.Copy())
	t.Cleanup(func() { b.Close() })
	return a, b
}

func TestPostgresStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openTestPostgres(t) })
}

// Two pools on one schema stand for two server instances: rotation stays
// single-winner across them, and the losers' reuse revokes the family.
func TestPostgresConcurrentRotationAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoInstances(t, pgtest.Config(t))
	base := time.Now()
	if err := a.CreateRefresh(ctx, storetest.Family("x", base)); err != nil {
		t.Fatal(err)
	}
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		wins, reuse int
		winner      []byte
	)
	for i := range 20 {
		s := []*Store{a, b}[i%2]
		wg.Go(func() {
			next := store.RefreshToken{Digest: storetest.Digest(fmt.Sprint("x", i))}
			_, err := storetest.Rotate(s, storetest.Digest("x"), next, base)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				winner = next.Digest
			case errors.Is(err, store.ErrRefreshReused):
				reuse++
			default:
				t.Errorf("RotateRefresh: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || reuse != 19 {
		t.Fatalf("%d wins and %d reuses across two instances, want 1 and 19", wins, reuse)
	}
	_, err := storetest.Rotate(b, winner, store.RefreshToken{Digest: storetest.Digest("after")}, base)
	storetest.WantErr(t, "RotateRefresh of the winner's token", err, store.ErrRefreshReused)
}

// A rotated token presented again while the live token of its family is
// being rotated on another instance: whichever order the two transactions
// take, no token of the family may stay live. (Locking only the presented
// token would let the revocation miss the successor being inserted.)
func TestPostgresReuseRacingRotationLeavesNothingLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoInstances(t, pgtest.Config(t))
	base := time.Now()
	for round := range 40 {
		name := fmt.Sprint("r", round)
		if err := a.CreateRefresh(ctx, storetest.Family(name, base)); err != nil {
			t.Fatal(err)
		}
		if _, err := storetest.Rotate(a, storetest.Digest(name), store.RefreshToken{Digest: storetest.Digest(name + "-1")}, base); err != nil {
			t.Fatal(err)
		}
		// Access tokens recorded with the successor make its rotation a
		// longer transaction, so that the two overlap more often.
		next := store.RefreshToken{Digest: storetest.Digest(name + "-2")}
		for i := range 16 {
			next.AccessJTIs = append(next.AccessJTIs, store.DeniedToken{JTI: fmt.Sprint(name, "-jti-", i), ExpiresAt: base.Add(time.Hour)})
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, err := storetest.Rotate(a, storetest.Digest(name+"-1"), next, base)
			if err != nil && !errors.Is(err, store.ErrRefreshReused) {
				t.Errorf("rotate live token: %v", err)
			}
		})
		wg.Go(func() {
			<-start
			_, err := storetest.Rotate(b, storetest.Digest(name), store.RefreshToken{Digest: storetest.Digest(name + "-x")}, base)
			storetest.WantErr(t, "present the rotated token", err, store.ErrRefreshReused)
		})
		close(start)
		wg.Wait()
		// The successor, if the rotation won, must be dead. (Presenting
		// the other token first would revoke the family itself.)
		_, err := storetest.Rotate(a, storetest.Digest(name+"-2"), store.RefreshToken{Digest: storetest.Digest(name + "-3")}, base)
		if err == nil {
			t.Fatalf("round %d: the successor stayed live after the family was revoked", round)
		}
		if !errors.Is(err, store.ErrRefreshReused) && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// Retries within the grace period sent to two instances at once share
// one successor, as on one store.
func TestPostgresRetriesAcrossInstancesShareOneSuccessor(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t, pgtest.Config(t))
	storetest.RaceRetries(t, a, b)
}

// A retry of a rotated token on one instance while its successor is being
// rotated on another: the retry is answered with the successor only while
// the successor is live. Whichever transaction goes first, either the
// retry succeeds and the successor's own rotation too, or the retry is
// reuse and the family, the newest token included, is revoked.
func TestPostgresRetryRacingRotationOfTheSuccessor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoInstances(t, pgtest.Config(t))
	base := time.Now()
	const grace = time.Minute
	for round := range 40 {
		name := fmt.Sprint("r", round)
		if err := a.CreateRefresh(ctx, storetest.Family(name, base)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.RotateRefresh(ctx, storetest.RetryRotation(name, name+"-1", base, grace)); err != nil {
			t.Fatal(err)
		}
		var (
			wg       sync.WaitGroup
			retry    store.RefreshRotated
			retryErr error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, err := a.RotateRefresh(ctx, storetest.RetryRotation(name+"-1", name+"-2", base, grace))
			if err != nil && !errors.Is(err, store.ErrRefreshReused) {
				t.Errorf("round %d: rotate the successor: %v", round, err)
			}
		})
		wg.Go(func() {
			<-start
			retry, retryErr = b.RotateRefresh(ctx, storetest.RetryRotation(name, name+"-x", base, grace))
		})
		close(start)
		wg.Wait()
		_, newest := storetest.Rotate(a, storetest.Digest(name+"-2"), store.RefreshToken{Digest: storetest.Digest(name + "-3")}, base)
		switch {
		case retryErr == nil:
			if !retry.Retry || !slices.Equal(retry.Token.Digest, storetest.Digest(name+"-1")) {
				t.Fatalf("round %d: the retry was answered with %+v, want the successor %s-1", round, retry, name)
			}
			if newest != nil {
				t.Fatalf("round %d: the retry succeeded, but the newest token is dead: %v", round, newest)
			}
		case errors.Is(retryErr, store.ErrRefreshReused):
			if !errors.Is(newest, store.ErrRefreshReused) {
				t.Fatalf("round %d: the retry was reuse, but the newest token is not revoked: %v", round, newest)
			}
		default:
			t.Fatalf("round %d: retry: %v", round, retryErr)
		}
	}
}

// Writers on two instances append to the revocation feed while a reader
// follows it the way Revocations does, by the highest sequence number it
// has seen: it must end up with every event.
func TestPostgresRevocationFeedSkipsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgtest.Config(t)
	cfg.MaxConns = 16
	a, b := twoInstances(t, cfg)
	exp := time.Now().Add(time.Hour)
	const writers, perWriter = 8, 40
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
		seen = map[string]bool{}
	)
	reader := make(chan error, 1)
	go func() {
		var cursor int64
		for {
			select {
			case <-done:
				reader <- nil
				return
			default:
			}
			evs, err := b.RevocationsSince(ctx, cursor)
			if err != nil {
				reader <- err
				return
			}
			for _, ev := range evs {
				seen[ev.JTI] = true
				cursor = ev.Seq
			}
		}
	}()
	for w := range writers {
		s := []*Store{a, b}[w%2]
		wg.Go(func() {
			for i := range perWriter {
				if err := s.Deny(ctx, store.DeniedToken{JTI: fmt.Sprintf("w%d-%d", w, i), ExpiresAt: exp}); err != nil {
					t.Errorf("Deny: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-reader; err != nil {
		t.Fatal(err)
	}
	// Events after the reader's last read are not lost (the next poll
	// brings them); an event numbered below an event the reader saw is.
	all, err := b.RevocationsSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*perWriter {
		t.Errorf("the feed has %d events, want %d", len(all), writers*perWriter)
	}
	var last int64
	for _, ev := range all {
		if seen[ev.JTI] {
			last = ev.Seq
		}
	}
	var lost []string
	for _, ev := range all {
		if !seen[ev.JTI] && ev.Seq < last {
			lost = append(lost, ev.JTI)
		}
	}
	if len(lost) > 0 {
		t.Errorf("the reader's cursor passed %d events it never saw: %q", len(lost), lost)
	}
}

func TestPostgresMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgtest.Config(t)
	const n = 4
	stores := make([]*Store, n)
	for i := range stores {
		s, err := newStore(ctx, cfg.Copy())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	results := make([]store.SchemaVersions, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	latest := len(migrations())
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Migrate %d: %v", i, errs[i])
		}
		if results[i].Current != latest {
			t.Errorf("Migrate %d: at version %d, want %d", i, results[i].Current, latest)
		}
		if results[i].Opened == 0 {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d of %d concurrent migrations found an empty schema, want 1: %+v", fresh, n, results)
	}
	var rows, top int
	if err := stores[0].pool.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &top); err != nil {
		t.Fatal(err)
	}
	if rows != latest || top != latest {
		t.Errorf("schema_migrations has %d rows up to %d, want %d", rows, top, latest)
	}
	// The advisory lock was released: a later opener does not wait.
	s := openTestPostgresConfig(t, cfg.Copy())
	defer s.Close()
	v, err := s.Migrate(ctx)
	if err != nil || v != (store.SchemaVersions{Opened: latest, Current: latest}) {
		t.Errorf("Migrate of a current schema = %+v, %v", v, err)
	}
}

// A schema created by the first version is brought up to date with its
// data intact: clients gain a zero not-before time, the feed keeps its
// events and sequence, a live session rotates, and a token rotated before
// the upgrade (no sealed successor) is reuse even within a grace period.
func TestPostgresMigratesVersion1Data(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgtest.Config(t)
	old, err := newStore(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	week := base.Add(7 * 24 * time.Hour).UnixNano()
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		migrations()[0],
		`INSERT INTO schema_migrations (version) VALUES (1)`,
		`INSERT INTO clients VALUES ('web', 'hash', '{a}', 1)`,
		`INSERT INTO revocations (subject, expires_at, not_before) VALUES ('alice', 0, 5)`,
		fmt.Sprintf(`INSERT INTO revocations (jti, expires_at, not_before) VALUES ('j', %d, 0)`, base.Add(time.Hour).UnixNano()),
		fmt.Sprintf(`INSERT INTO refresh_families VALUES ('fam-a', 'alice', 'web', %d, %d)`, base.UnixNano(), week),
		fmt.Sprintf(`INSERT INTO refresh_tokens VALUES ('\x%x', 'fam-a', '{read}', %d, 1), ('\x%x', 'fam-a', '{read}', %d, 0)`,
			storetest.Digest("a"), base.UnixNano(), storetest.Digest("a2"), base.UnixNano()),
		fmt.Sprintf(`INSERT INTO refresh_access_tokens VALUES ('\x%x', 'jti-a2', %d)`, storetest.Digest("a2"), base.Add(time.Hour).UnixNano()),
		fmt.Sprintf(`INSERT INTO refresh_families VALUES ('fam-c', 'alice', 'web', %d, %d)`, base.UnixNano(), week),
		fmt.Sprintf(`INSERT INTO refresh_tokens VALUES ('\x%x', 'fam-c', '{read}', %d, 0)`, storetest.Digest("c"), base.UnixNano()),
	} {
		if _, err := old.pool.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	old.Close()

	s := openTestPostgresConfig(t, cfg.Copy())
	defer s.Close()
	if s.opened != 1 {
		t.Errorf("opened at version %d, want 1", s.opened)
	}
	c, err := s.Client(ctx, "web")
	if err != nil || c.SecretHash != "hash" || !c.NotBefore.IsZero() {
		t.Errorf("client after migration: %+v, %v", c, err)
	}
	evs, err := s.RevocationsSince(ctx, 0)
	if err != nil || len(evs) != 2 || evs[0].Subject != "alice" || evs[0].ClientID != "" || evs[1].JTI != "j" || evs[1].Seq != 2 {
		t.Errorf("feed after migration: %+v, %v", evs, err)
	}
	_, err = s.RotateRefresh(ctx, storetest.RetryRotation("a", "x", base, time.Minute))
	storetest.WantErr(t, "retry of a token rotated before the upgrade", err, store.ErrRefreshReused)
	jtis := storetest.DeniedJTIs(t, s)
	storetest.SameStrings(t, "denied", jtis, []string{"j", "jti-a2"})
	next, err := s.RotateRefresh(ctx, storetest.RetryRotation("c", "c2", base, time.Minute))
	if err != nil || next.Retry || next.Token.Subject != "alice" || next.Token.ClientID != "web" {
		t.Errorf("rotation of a session started before the upgrade: %+v, %v", next, err)
	}
	retry, err := s.RotateRefresh(ctx, storetest.RetryRotation("c", "c3", base, time.Minute))
	if err != nil || !retry.Retry || !slices.Equal(retry.Token.Digest, storetest.Digest("c2")) {
		t.Errorf("retry after the upgrade: %+v, %v", retry, err)
	}
	evs, err = s.RevocationsSince(ctx, 2)
	if err != nil || len(evs) != 1 || evs[0].Seq != 3 {
		t.Errorf("events after migration: %+v, %v", evs, err)
	}
}

func TestPostgresRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgtest.Config(t)
	s := openTestPostgresConfig(t, cfg.Copy())
	newer := len(migrations()) + 1
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, newer); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := OpenConfig(ctx, cfg.Copy())
	if err == nil {
		s.Close()
		t.Fatal("opened a database whose schema is newer than this code")
	}
	if want := fmt.Sprintf("schema is at version %d, newer than this server supports", newer); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestPostgresSchemaMustExist(t *testing.T) {
	t.Parallel()
	cfg := pgtest.Config(t)
	cfg.ConnConfig.RuntimeParams["search_path"] = "gatehouse_no_such_schema"
	s, err := OpenConfig(context.Background(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("opened a store whose search_path names no schema")
	}
	if !strings.Contains(err.Error(), "search_path") {
		t.Errorf("error %q does not point at search_path", err)
	}
}

// The server going away makes every kind of call fail with ErrUnavailable
// (never ErrNotFound, which would turn an outage into "no such user"), and
// the pool reconnects when it is back.
func TestPostgresUnavailableAndRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, proxy := pgtest.ProxiedConfig(t)
	s := openTestPostgresConfig(t, cfg)
	defer s.Close()
	base := time.Now()
	storetest.NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}))
	storetest.NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, storetest.Family("a", base)))

	proxy.Set(storetest.Refuse)
	checks := map[string]func() error{
		"User":           func() error { _, err := s.User(ctx, "alice"); return err },
		"UpdateUser":     func() error { return s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "h2"}) },
		"APIKeyByDigest": func() error { _, err := s.APIKeyByDigest(ctx, storetest.Digest("k")); return err },
		"Client":         func() error { _, err := s.Client(ctx, "c"); return err },
		"ListUsers":      func() error { _, err := s.ListUsers(ctx); return err },
		"RotateRefresh": func() error {
			_, err := storetest.Rotate(s, storetest.Digest("a"), store.RefreshToken{Digest: storetest.Digest("a2")}, base)
			return err
		},
		"RevokeRefresh":    func() error { return s.RevokeRefresh(ctx, storetest.Digest("a"), base) },
		"Deny":             func() error { return s.Deny(ctx, store.DeniedToken{JTI: "j", ExpiresAt: base.Add(time.Hour)}) },
		"RevocationsSince": func() error { _, err := s.RevocationsSince(ctx, 0); return err },
	}
	for name, call := range checks {
		err := call()
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with the server down: got %v, want ErrUnavailable", name, err)
		}
	}

	proxy.Set(storetest.Forward)
	var err error
	for range 3 { // a pooled connection may be found dead once
		if _, err = s.User(ctx, "alice"); err == nil {
			break
		}
	}
	storetest.NoErr(t, "User after the server came back", err)
	_, err = storetest.Rotate(s, storetest.Digest("a"), store.RefreshToken{Digest: storetest.Digest("a2")}, base)
	storetest.NoErr(t, "RotateRefresh after the server came back (the token was not consumed)", err)
}

// A server that accepts connections and never answers holds a call no
// longer than the store's call timeout, even when the caller's context has
// no deadline of its own.
func TestPostgresCallsAreBounded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, proxy := pgtest.ProxiedConfig(t)
	s := openTestPostgresConfig(t, cfg)
	defer s.Close()
	s.callTimeout = 200 * time.Millisecond
	proxy.Set(storetest.Blackhole)
	s.pool.Reset()
	_, err := s.User(ctx, "alice")
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("User against a hung server: got %v, want ErrUnavailable from the call timeout", err)
	}
	if ctx.Err() != nil {
		t.Error("the call outlived the caller's own deadline")
	}
}

// PostgreSQL refuses NUL and invalid UTF-8 in text; a look-up of such a
// name (from a Basic header, say) finds no one rather than failing.
func TestPostgresLookupOfUnstorableTextIsNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTestPostgres(t)
	defer s.Close()
	for _, name := range []string{"a\x00b", "\xff\xfe"} {
		_, err := s.User(ctx, name)
		storetest.WantErr(t, fmt.Sprintf("User(%q)", name), err, store.ErrNotFound)
		_, err = s.Client(ctx, name)
		storetest.WantErr(t, fmt.Sprintf("Client(%q)", name), err, store.ErrNotFound)
		storetest.WantErr(t, fmt.Sprintf("RevokeAPIKey(%q)", name), s.RevokeAPIKey(ctx, name, time.Now()), store.ErrNotFound)
		storetest.WantErr(t, fmt.Sprintf("UpdateUser(%q)", name), s.UpdateUser(ctx, name, store.UserChange{Disabled: new(true)}), store.ErrNotFound)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool // the connection may be unencrypted over a network
	}{
		{"postgres://app:s3cret@db.example.com/app?sslmode=verify-full&pool_max_conns=20", false},
		{"postgresql://app@db.example.com/app?sslmode=require", false},
		{"postgres://app:s3cret@db.example.com/app", true},
		{"postgres://app@db.example.com/app?sslmode=disable", true},
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", false},
		{"postgres://postgres@localhost/test", false},
		{"postgres:///app?host=/var/run/postgresql", false},
	} {
		warnings, err := CheckURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		warned := strings.Contains(strings.Join(warnings, "\n"), "may be unencrypted")
		if warned != tc.warn {
			t.Errorf("%s: warned about encryption: %v, want %v (%q)", tc.url, warned, tc.warn, warnings)
		}
		if strings.Contains(strings.Join(warnings, "\n"), "s3cret") {
			t.Errorf("%s: a warning shows the password: %q", tc.url, warnings)
		}
	}
	// A bad parameter is reported without the password, and without the
	// "auth: postgres: " of the store's errors (the configuration names
	// DATABASE_URL).
	_, err := CheckURL("postgres://app:s3cret@db/app?pool_max_conns=0")
	if err == nil || !strings.Contains(err.Error(), "pool_max_conns") || strings.HasPrefix(err.Error(), "auth: ") {
		t.Errorf("pool_max_conns=0: error %v, want one naming pool_max_conns", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// Every write to the feed notifies the listeners, once committed.
func TestPostgresEveryFeedWriteNotifies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := twoInstances(t, pgtest.Config(t))
	got := make(chan struct{}, 16)
	go b.ListenRevocations(ctx, func() { got <- struct{}{} }, nil)
	wait := func(what string) {
		t.Helper()
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no notification", what)
		}
	}
	wait("connecting") // the catch-up after connecting

	now := time.Now()
	storetest.NoErr(t, "CreateUser", a.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}))
	storetest.NoErr(t, "CreateRefresh", a.CreateRefresh(ctx, storetest.Family("f", now)))
	storetest.NoErr(t, "CreateClient", a.CreateClient(ctx, store.Client{ID: "c", SecretHash: "h"}))
	for _, w := range []struct {
		name  string
		write func() error
	}{
		{"Deny", func() error { return a.Deny(ctx, store.DeniedToken{JTI: "j", ExpiresAt: now.Add(time.Hour)}) }},
		{"UpdateUser", func() error { return a.UpdateUser(ctx, "alice", store.UserChange{NotBefore: now}) }},
		{"RevokeRefresh", func() error { return a.RevokeRefresh(ctx, storetest.Digest("f"), now) }},
		{"UpdateClient", func() error { return a.UpdateClient(ctx, "c", store.ClientChange{NotBefore: now}) }},
		{"DeleteClient", func() error { return a.DeleteClient(ctx, "c", now.Add(time.Second)) }},
	} {
		storetest.NoErr(t, w.name, w.write())
		wait(w.name)
	}
}

// BenchmarkStore measures the store calls of the hot paths (see
// storetest.Benchmark) on PostgreSQL; compare the SQLite store's.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, openTestPostgres(b))
}
