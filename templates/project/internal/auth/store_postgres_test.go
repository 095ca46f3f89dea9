package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL tests run against a real server: the database of
// GATEHOUSE_TEST_DATABASE_URL, by default the local one. Each test works in
// a schema of its own, created for it and dropped after it, so tests run in
// parallel and leave nothing behind.
const (
	pgTestURLVar     = "GATEHOUSE_TEST_DATABASE_URL"
	pgTestDefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// unreachableService skips the test because a service it needs does not
// answer, naming the variable that points to it; under
// GATEHOUSE_REQUIRE_SERVICES=1 (CI) it fails instead.
func unreachableService(tb testing.TB, service, variable, target string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s is unreachable at %s (%v); set %s to one that is", service, target, err, variable)
	if os.Getenv("GATEHOUSE_REQUIRE_SERVICES") == "1" {
		tb.Fatalf("%s, or unset GATEHOUSE_REQUIRE_SERVICES to skip", msg)
	}
	tb.Skip(msg)
}

// pgTestConfig returns the configuration of a pool on a new, empty schema
// of the test database, dropped when the test ends.
func pgTestConfig(tb testing.TB) *pgxpool.Config {
	tb.Helper()
	dsn := os.Getenv(pgTestURLVar)
	if dsn == "" {
		dsn = pgTestDefaultURL
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", pgTestURLVar, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		unreachableService(tb, "PostgreSQL", pgTestURLVar, redactDatabaseURL(dsn), err)
	}
	defer conn.Close(ctx)
	schema := "gatehouse_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	admin := cfg.ConnConfig.Copy() // the caller may change cfg
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, admin)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(ctx)
		}
		if err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// openTestPostgres opens a store on a new schema.
func openTestPostgres(tb testing.TB) *PostgresStore {
	tb.Helper()
	return openTestPostgresConfig(tb, pgTestConfig(tb))
}

func openTestPostgresConfig(tb testing.TB, cfg *pgxpool.Config) *PostgresStore {
	tb.Helper()
	s, err := openPostgres(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("openPostgres: %v", err)
	}
	return s
}

// twoInstances opens two stores on one new schema, as two server
// instances sharing a database would.
func twoInstances(t *testing.T, cfg *pgxpool.Config) (a, b *PostgresStore) {
	t.Helper()
	a = openTestPostgresConfig(t, cfg.Copy())
	t.Cleanup(func() { a.Close() })
	b = openTestPostgresConfig(t, cfg.Copy())
	t.Cleanup(func() { b.Close() })
	return a, b
}

func TestPostgresStoreConformance(t *testing.T) {
	t.Parallel()
	testStoreConformance(t, func(t *testing.T) Store { return openTestPostgres(t) })
}

// Two pools on one schema stand for two server instances: rotation stays
// single-winner across them, and the losers' reuse revokes the family.
func TestPostgresConcurrentRotationAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoInstances(t, pgTestConfig(t))
	base := time.Now()
	if err := a.CreateRefresh(ctx, confFamily("x", base)); err != nil {
		t.Fatal(err)
	}
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		wins, reuse int
		winner      []byte
	)
	for i := range 20 {
		s := []*PostgresStore{a, b}[i%2]
		wg.Go(func() {
			next := RefreshToken{Digest: confDigest(fmt.Sprint("x", i))}
			_, err := confRotate(s, confDigest("x"), next, base)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				winner = next.Digest
			case errors.Is(err, ErrRefreshReused):
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
	_, err := confRotate(b, winner, RefreshToken{Digest: confDigest("after")}, base)
	confWantErr(t, "RotateRefresh of the winner's token", err, ErrRefreshReused)
}

// A rotated token presented again while the live token of its family is
// being rotated on another instance: whichever order the two transactions
// take, no token of the family may stay live. (Locking only the presented
// token would let the revocation miss the successor being inserted.)
func TestPostgresReuseRacingRotationLeavesNothingLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoInstances(t, pgTestConfig(t))
	base := time.Now()
	for round := range 40 {
		name := fmt.Sprint("r", round)
		if err := a.CreateRefresh(ctx, confFamily(name, base)); err != nil {
			t.Fatal(err)
		}
		if _, err := confRotate(a, confDigest(name), RefreshToken{Digest: confDigest(name + "-1")}, base); err != nil {
			t.Fatal(err)
		}
		// Access tokens recorded with the successor make its rotation a
		// longer transaction, so that the two overlap more often.
		next := RefreshToken{Digest: confDigest(name + "-2")}
		for i := range 16 {
			next.AccessJTIs = append(next.AccessJTIs, DeniedToken{JTI: fmt.Sprint(name, "-jti-", i), ExpiresAt: base.Add(time.Hour)})
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, err := confRotate(a, confDigest(name+"-1"), next, base)
			if err != nil && !errors.Is(err, ErrRefreshReused) {
				t.Errorf("rotate live token: %v", err)
			}
		})
		wg.Go(func() {
			<-start
			_, err := confRotate(b, confDigest(name), RefreshToken{Digest: confDigest(name + "-x")}, base)
			confWantErr(t, "present the rotated token", err, ErrRefreshReused)
		})
		close(start)
		wg.Wait()
		// The successor, if the rotation won, must be dead. (Presenting
		// the other token first would revoke the family itself.)
		_, err := confRotate(a, confDigest(name+"-2"), RefreshToken{Digest: confDigest(name + "-3")}, base)
		if err == nil {
			t.Fatalf("round %d: the successor stayed live after the family was revoked", round)
		}
		if !errors.Is(err, ErrRefreshReused) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// Retries within the grace period sent to two instances at once share
// one successor, as on one store.
func TestPostgresRetriesAcrossInstancesShareOneSuccessor(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t, pgTestConfig(t))
	confRaceRetries(t, a, b)
}

// A retry of a rotated token on one instance while its successor is being
// rotated on another: the retry is answered with the successor only while
// the successor is live. Whichever transaction goes first, either the
// retry succeeds and the successor's own rotation too, or the retry is
// reuse and the family, the newest token included, is revoked.
func TestPostgresRetryRacingRotationOfTheSuccessor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := twoInstances(t, pgTestConfig(t))
	base := time.Now()
	const grace = time.Minute
	for round := range 40 {
		name := fmt.Sprint("r", round)
		if err := a.CreateRefresh(ctx, confFamily(name, base)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.RotateRefresh(ctx, confRetryRotation(name, name+"-1", base, grace)); err != nil {
			t.Fatal(err)
		}
		var (
			wg       sync.WaitGroup
			retry    RefreshRotated
			retryErr error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			_, err := a.RotateRefresh(ctx, confRetryRotation(name+"-1", name+"-2", base, grace))
			if err != nil && !errors.Is(err, ErrRefreshReused) {
				t.Errorf("round %d: rotate the successor: %v", round, err)
			}
		})
		wg.Go(func() {
			<-start
			retry, retryErr = b.RotateRefresh(ctx, confRetryRotation(name, name+"-x", base, grace))
		})
		close(start)
		wg.Wait()
		_, newest := confRotate(a, confDigest(name+"-2"), RefreshToken{Digest: confDigest(name + "-3")}, base)
		switch {
		case retryErr == nil:
			if !retry.Retry || !slices.Equal(retry.Token.Digest, confDigest(name+"-1")) {
				t.Fatalf("round %d: the retry was answered with %+v, want the successor %s-1", round, retry, name)
			}
			if newest != nil {
				t.Fatalf("round %d: the retry succeeded, but the newest token is dead: %v", round, newest)
			}
		case errors.Is(retryErr, ErrRefreshReused):
			if !errors.Is(newest, ErrRefreshReused) {
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
	cfg := pgTestConfig(t)
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
		s := []*PostgresStore{a, b}[w%2]
		wg.Go(func() {
			for i := range perWriter {
				if err := s.Deny(ctx, DeniedToken{JTI: fmt.Sprintf("w%d-%d", w, i), ExpiresAt: exp}); err != nil {
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
	cfg := pgTestConfig(t)
	const n = 4
	stores := make([]*PostgresStore, n)
	for i := range stores {
		s, err := newPostgresStore(ctx, cfg.Copy())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	results := make([]SchemaVersions, n)
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
	latest := len(postgresMigrations())
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
	if err != nil || v != (SchemaVersions{Opened: latest, Current: latest}) {
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
	cfg := pgTestConfig(t)
	old, err := newPostgresStore(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	week := base.Add(7 * 24 * time.Hour).UnixNano()
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		postgresMigrations()[0],
		`INSERT INTO schema_migrations (version) VALUES (1)`,
		`INSERT INTO clients VALUES ('web', 'hash', '{a}', 1)`,
		`INSERT INTO revocations (subject, expires_at, not_before) VALUES ('alice', 0, 5)`,
		fmt.Sprintf(`INSERT INTO revocations (jti, expires_at, not_before) VALUES ('j', %d, 0)`, base.Add(time.Hour).UnixNano()),
		fmt.Sprintf(`INSERT INTO refresh_families VALUES ('fam-a', 'alice', 'web', %d, %d)`, base.UnixNano(), week),
		fmt.Sprintf(`INSERT INTO refresh_tokens VALUES ('\x%x', 'fam-a', '{read}', %d, 1), ('\x%x', 'fam-a', '{read}', %d, 0)`,
			confDigest("a"), base.UnixNano(), confDigest("a2"), base.UnixNano()),
		fmt.Sprintf(`INSERT INTO refresh_access_tokens VALUES ('\x%x', 'jti-a2', %d)`, confDigest("a2"), base.Add(time.Hour).UnixNano()),
		fmt.Sprintf(`INSERT INTO refresh_families VALUES ('fam-c', 'alice', 'web', %d, %d)`, base.UnixNano(), week),
		fmt.Sprintf(`INSERT INTO refresh_tokens VALUES ('\x%x', 'fam-c', '{read}', %d, 0)`, confDigest("c"), base.UnixNano()),
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
	_, err = s.RotateRefresh(ctx, confRetryRotation("a", "x", base, time.Minute))
	confWantErr(t, "retry of a token rotated before the upgrade", err, ErrRefreshReused)
	jtis := confDeniedJTIs(t, s)
	confSameStrings(t, "denied", jtis, []string{"j", "jti-a2"})
	next, err := s.RotateRefresh(ctx, confRetryRotation("c", "c2", base, time.Minute))
	if err != nil || next.Retry || next.Token.Subject != "alice" || next.Token.ClientID != "web" {
		t.Errorf("rotation of a session started before the upgrade: %+v, %v", next, err)
	}
	retry, err := s.RotateRefresh(ctx, confRetryRotation("c", "c3", base, time.Minute))
	if err != nil || !retry.Retry || !slices.Equal(retry.Token.Digest, confDigest("c2")) {
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
	cfg := pgTestConfig(t)
	s := openTestPostgresConfig(t, cfg.Copy())
	newer := len(postgresMigrations()) + 1
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, newer); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := openPostgres(ctx, cfg.Copy())
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
	cfg := pgTestConfig(t)
	cfg.ConnConfig.RuntimeParams["search_path"] = "gatehouse_no_such_schema"
	s, err := openPostgres(context.Background(), cfg)
	if err == nil {
		s.Close()
		t.Fatal("opened a store whose search_path names no schema")
	}
	if !strings.Contains(err.Error(), "search_path") {
		t.Errorf("error %q does not point at search_path", err)
	}
}

// pgProxy is a TCP proxy in front of the test database, which a test can
// make refuse connections or swallow them without an answer, as a server
// that is down or hung would.
type pgProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  pgProxyMode
	conns map[net.Conn]bool
}

type pgProxyMode int

const (
	proxyForward   pgProxyMode = iota // pass everything through
	proxyRefuse                       // close every connection at once
	proxyBlackhole                    // accept, never answer
)

func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.set(proxyRefuse)
	})
	return p
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode != proxyRefuse {
			p.conns[c] = true
		}
		p.mu.Unlock()
		switch mode {
		case proxyRefuse:
			c.Close()
		case proxyForward:
			go p.forward(c)
		}
	}
}

func (p *pgProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	io.Copy(c, up)
	c.Close()
}

// set changes the mode; leaving forward mode cuts every open connection,
// as a server restart does.
func (p *pgProxy) set(m pgProxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m != proxyForward {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// pgProxiedConfig is pgTestConfig with every connection going through a
// new proxy.
func pgProxiedConfig(t *testing.T) (*pgxpool.Config, *pgProxy) {
	t.Helper()
	cfg := pgTestConfig(t)
	c := cfg.ConnConfig
	p := newPGProxy(t, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))))
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	n, _ := strconv.Atoi(port)
	c.Host, c.Port = host, uint16(n)
	for _, f := range c.Fallbacks {
		f.Host, f.Port = host, uint16(n)
	}
	return cfg, p
}

// The server going away makes every kind of call fail with ErrUnavailable
// (never ErrNotFound, which would turn an outage into "no such user"), and
// the pool reconnects when it is back.
func TestPostgresUnavailableAndRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, proxy := pgProxiedConfig(t)
	s := openTestPostgresConfig(t, cfg)
	defer s.Close()
	base := time.Now()
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h"}))
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))

	proxy.set(proxyRefuse)
	checks := map[string]func() error{
		"User":           func() error { _, err := s.User(ctx, "alice"); return err },
		"UpdateUser":     func() error { return s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "h2"}) },
		"APIKeyByDigest": func() error { _, err := s.APIKeyByDigest(ctx, confDigest("k")); return err },
		"Client":         func() error { _, err := s.Client(ctx, "c"); return err },
		"ListUsers":      func() error { _, err := s.ListUsers(ctx); return err },
		"RotateRefresh": func() error {
			_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2")}, base)
			return err
		},
		"RevokeRefresh":    func() error { return s.RevokeRefresh(ctx, confDigest("a"), base) },
		"Deny":             func() error { return s.Deny(ctx, DeniedToken{JTI: "j", ExpiresAt: base.Add(time.Hour)}) },
		"RevocationsSince": func() error { _, err := s.RevocationsSince(ctx, 0); return err },
	}
	for name, call := range checks {
		err := call()
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
			t.Errorf("%s with the server down: got %v, want ErrUnavailable", name, err)
		}
	}

	proxy.set(proxyForward)
	var err error
	for range 3 { // a pooled connection may be found dead once
		if _, err = s.User(ctx, "alice"); err == nil {
			break
		}
	}
	confNoErr(t, "User after the server came back", err)
	_, err = confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2")}, base)
	confNoErr(t, "RotateRefresh after the server came back (the token was not consumed)", err)
}

// A server that accepts connections and never answers holds a call no
// longer than the store's call timeout, even when the caller's context has
// no deadline of its own.
func TestPostgresCallsAreBounded(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, proxy := pgProxiedConfig(t)
	s := openTestPostgresConfig(t, cfg)
	defer s.Close()
	s.callTimeout = 200 * time.Millisecond
	proxy.set(proxyBlackhole)
	s.pool.Reset()
	_, err := s.User(ctx, "alice")
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
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
		confWantErr(t, fmt.Sprintf("User(%q)", name), err, ErrNotFound)
		_, err = s.Client(ctx, name)
		confWantErr(t, fmt.Sprintf("Client(%q)", name), err, ErrNotFound)
		confWantErr(t, fmt.Sprintf("RevokeAPIKey(%q)", name), s.RevokeAPIKey(ctx, name, time.Now()), ErrNotFound)
		confWantErr(t, fmt.Sprintf("UpdateUser(%q)", name), s.UpdateUser(ctx, name, UserChange{Disabled: new(true)}), ErrNotFound)
	}
}

func TestRedactDatabaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db.example.com:5432/app?sslmode=verify-full": "postgres://app:xxxxx@db.example.com:5432/app?sslmode=verify-full",
		"postgres://app@db/app?password=s3cret&pool_max_conns=8":            "postgres://app@db/app?password=xxxxx&pool_max_conns=8",
		"postgresql://db/app?sslpassword=s3cret":                            "postgresql://db/app?sslpassword=xxxxx",
		"host=db user=app password=s3cret":                                  "(not shown: DATABASE_URL does not parse as a URL)",
		"sqlite:data/gatehouse.db":                                          "sqlite:data/gatehouse.db",
	} {
		got := redactDatabaseURL(in)
		if got != want {
			t.Errorf("redactDatabaseURL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("redactDatabaseURL(%q) shows the password", in)
		}
	}
}

// BenchmarkStores measures the store calls of the hot paths on SQLite and
// PostgreSQL in one run: RotateRefresh (the refresh grant) and User (the
// password grant and Basic), one caller and several in parallel, each
// parallel caller on its own session. PostgreSQL runs are skipped when it
// is unreachable.
func BenchmarkStores(b *testing.B) {
	for _, backend := range []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"SQLite", func(b *testing.B) Store {
			s, err := OpenSQLite(context.Background(), b.TempDir()+"/auth.db")
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"PostgreSQL", func(b *testing.B) Store { return openTestPostgres(b) }},
	} {
		b.Run(backend.name, func(b *testing.B) {
			ctx := context.Background()
			s := backend.open(b)
			defer s.Close()
			if err := s.CreateUser(ctx, User{Username: "alice", PasswordHash: "$argon2id$x", Scopes: []string{"read"}}); err != nil {
				b.Fatal(err)
			}
			var chain sync.Mutex
			chains := 0
			// rotate returns a function that rotates its own new session
			// once per call.
			rotate := func(b *testing.B) func() {
				chain.Lock()
				chains++
				name := fmt.Sprint("bench-", chains)
				chain.Unlock()
				now := time.Now()
				if err := s.CreateRefresh(ctx, confFamily(name, now)); err != nil {
					b.Fatal(err)
				}
				cur := confDigest(name)
				i := 0
				return func() {
					i++
					next := confDigest(fmt.Sprint(name, "-", i))
					_, err := confRotate(s, cur, RefreshToken{Digest: next,
						AccessJTIs: []DeniedToken{{JTI: fmt.Sprint(name, "-", i), ExpiresAt: now.Add(time.Hour)}}}, now)
					if err != nil {
						b.Error(err)
					}
					cur = next
				}
			}
			b.Run("RotateRefresh", func(b *testing.B) {
				step := rotate(b)
				for b.Loop() {
					step()
				}
			})
			b.Run("RotateRefreshParallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					step := rotate(b)
					for pb.Next() {
						step()
					}
				})
			})
			b.Run("User", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.User(ctx, "alice"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("UserParallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.User(ctx, "alice"); err != nil {
							b.Error(err)
						}
					}
				})
			})
		})
	}
}

func TestConfigPostgresURL(t *testing.T) {
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
		c, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": tc.url})
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if c.StoreKind != StorePostgres || c.DatabaseURL != tc.url {
			t.Errorf("%s: kind %q, url %q", tc.url, c.StoreKind, c.DatabaseURL)
		}
		warned := strings.Contains(strings.Join(c.Warnings, "\n"), "may be unencrypted")
		if warned != tc.warn {
			t.Errorf("%s: warned about encryption: %v, want %v (%q)", tc.url, warned, tc.warn, c.Warnings)
		}
	}
	// A bad parameter is reported without the password.
	_, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": "postgres://app:s3cret@db/app?pool_max_conns=0"})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL: ") || !strings.Contains(err.Error(), "pool_max_conns") {
		t.Errorf("pool_max_conns=0: error %v, want one naming DATABASE_URL and pool_max_conns", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the configuration error shows the password: %v", err)
	}
}

func TestPostgresAdminMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgTestConfig(t)
	s, err := newPostgresStore(ctx, cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	latest := len(postgresMigrations())
	r := runAdminOn(s, "migrate").want(t, ExitOK)
	if want := fmt.Sprintf("schema migrated from version 0 to %d\n", latest); r.stdout != want {
		t.Errorf("migrate of an empty schema printed %q, want %q", r.stdout, want)
	}
	s2 := openTestPostgresConfig(t, cfg.Copy())
	defer s2.Close()
	r = runAdminOn(s2, "migrate").want(t, ExitOK)
	if want := fmt.Sprintf("schema at version %d, up to date\n", latest); r.stdout != want {
		t.Errorf("migrate of a current schema printed %q, want %q", r.stdout, want)
	}
	if _, err := s2.pool.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, latest+1); err != nil {
		t.Fatal(err)
	}
	r = runAdminOn(s2, "migrate").want(t, ExitError)
	if !strings.Contains(r.stderr, "newer than this server supports") || strings.Contains(r.stderr, "auth: ") {
		t.Errorf("migrate of a newer schema: stderr %q", r.stderr)
	}
}

// A server on PostgreSQL: New opens and migrates the store from
// DATABASE_URL, admin commands log nothing about it, and Serve logs it
// with the password masked.
func TestNewOnPostgresLogsTheURLWithoutPassword(t *testing.T) {
	t.Parallel()
	pc := pgTestConfig(t)
	const password = "pw-that-must-not-be-logged"
	dsn := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&search_path=%s&pool_max_conns=3",
		pc.ConnConfig.User, password, net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))),
		pc.ConnConfig.Database, pc.ConnConfig.RuntimeParams["search_path"])
	svc, logs := svNewLogged(t, map[string]string{
		"JWT_SECRET": cfSecret, "DATABASE_URL": dsn, "LISTEN_ADDR": "127.0.0.1:0",
	})
	st, ok := svc.Store().(*PostgresStore)
	if !ok {
		t.Fatalf("DATABASE_URL=postgres:// opened a %T", svc.Store())
	}
	if got := st.pool.Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 gave a pool of %d", got)
	}
	if logs.String() != "" {
		t.Errorf("New logged (admin commands would print it):\n%s", logs)
	}
	svServeBriefly(t, svc, logs)
	if !strings.Contains(logs.String(), `msg=store kind=postgres url="postgres://postgres:xxxxx@`) ||
		!strings.Contains(logs.String(), fmt.Sprintf("schema_version=%d migrated_from=0", len(postgresMigrations()))) {
		t.Errorf("the start-up log does not describe the store:\n%s", logs)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log shows the database password:\n%s", logs)
	}
}
