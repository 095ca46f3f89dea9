package auth

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres/pgtest"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

// The bounds the README states for a revocation made on one instance to be
// refused by another: with the PostgreSQL push path, and by polling alone.
// The tests below wait with a margin over them (the machines that run them
// are shared); BenchmarkRevocationPushAcrossInstances measures the push.
const (
	revocationPushBound = 100 * time.Millisecond
	revocationPollBound = DefaultRevocationPoll
)

// twoServices starts two services on one PostgreSQL schema (b's pool from
// bCfg when not nil, for a proxied connection), as two instances of a
// server with one signing secret, each with configure applied.
func twoServices(t *testing.T, cfg, bCfg *pgxpool.Config, configure func(*Config)) (a, b *epFixture) {
	t.Helper()
	secret := make([]byte, MinHMACSecretLen)
	rand.Read(secret)
	shared := func(c *Config) {
		c.JWTSecret = secret
		if configure != nil {
			configure(c)
		}
	}
	if bCfg == nil {
		bCfg = cfg
	}
	a = epSetupOn(t, openTestPostgresConfig(t, cfg.Copy()), shared)
	b = epSetupOn(t, openTestPostgresConfig(t, bCfg.Copy()), shared)
	return a, b
}

// refusedWithin calls f's protected route with the access token until it
// is refused, and fails the test if that takes longer than bound.
func refusedWithin(t *testing.T, f *epFixture, access string, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		code := f.me(access)
		if code == http.StatusUnauthorized {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access token is still answered %d after %s", code, bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A logout on instance A is refused on B through the push path alone: B
// polls the feed once an hour here, so only the notification can tell it.
func TestRevocationPushAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := twoServices(t, pgtest.Config(t), nil, func(c *Config) { c.revocationPoll = time.Hour })
	a.addUser("alice")
	tr := a.login("alice", "")
	if code := b.me(tr.AccessToken); code != http.StatusOK {
		t.Fatalf("access token from A on B: %d, want 200", code)
	}
	if w := a.post(a.svc.RevokePath(), "token", tr.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("logout on A: %d %s", w.Code, w.Body)
	}
	refusedWithin(t, b, tr.AccessToken, 10*revocationPushBound)
}

// Without the push path, B learns of A's logout at its next poll.
func TestRevocationPollAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := twoServices(t, pgtest.Config(t), nil, func(c *Config) { c.noRevocationPush = true })
	a.addUser("alice")
	tr := a.login("alice", "")
	if w := a.post(a.svc.RevokePath(), "token", tr.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("logout on A: %d %s", w.Code, w.Body)
	}
	refusedWithin(t, b, tr.AccessToken, 3*revocationPollBound)
}

// The listener reconnects after its connection is cut: B, polling once an
// hour, refuses a token A revoked while B was cut off, and then one A
// revokes after B is back, which only the reconnected listener (or its
// catch-up pull on reconnecting) can tell it.
func TestRevocationPushReconnects(t *testing.T) {
	t.Parallel()
	cfg := pgtest.Config(t)
	bCfg, proxy := pgtest.ProxiedConfig(t)
	bCfg.ConnConfig.RuntimeParams["search_path"] = cfg.ConnConfig.RuntimeParams["search_path"]
	a, b := twoServices(t, cfg, bCfg, func(c *Config) { c.revocationPoll = time.Hour })
	a.addUser("alice")
	first, second := a.login("alice", ""), a.login("alice", "")
	if code := b.me(first.AccessToken); code != http.StatusOK {
		t.Fatalf("access token from A on B: %d, want 200", code)
	}

	proxy.Set(storetest.Refuse) // B's listening connection is cut
	if w := a.post(a.svc.RevokePath(), "token", first.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("logout on A: %d %s", w.Code, w.Body)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnections
	proxy.Set(storetest.Forward)
	refusedWithin(t, b, first.AccessToken, 2*postgres.ListenMaxBackoff)

	if w := a.post(a.svc.RevokePath(), "token", second.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("second logout on A: %d %s", w.Code, w.Body)
	}
	refusedWithin(t, b, second.AccessToken, 2*postgres.ListenMaxBackoff)
	for _, msg := range []string{"revocation push failed", "revocation push is listening again"} {
		if !strings.Contains(b.log.String(), msg) {
			t.Errorf("B did not log %q:\n%s", msg, b.log)
		}
	}
}

// BenchmarkRevocationPushAcrossInstances measures how long after a logout
// on A returns B refuses the access token, through the push path (B polls
// once an hour): reported as ms-to-refusal (mean) and max-ms-to-refusal.
func BenchmarkRevocationPushAcrossInstances(bm *testing.B) {
	cfg := pgtest.Config(bm)
	secret := make([]byte, MinHMACSecretLen)
	rand.Read(secret)
	configure := func(c *Config) { c.JWTSecret, c.revocationPoll = secret, time.Hour }
	a := epSetupOn(bm, openTestPostgresConfig(bm, cfg.Copy()), configure)
	b := epSetupOn(bm, openTestPostgresConfig(bm, cfg.Copy()), configure)
	a.addUser("alice")
	var total, worst time.Duration
	for bm.Loop() {
		tr := a.login("alice", "")
		if w := a.post(a.svc.RevokePath(), "token", tr.RefreshToken); w.Code != http.StatusOK {
			bm.Fatalf("logout on A: %d", w.Code)
		}
		start := time.Now()
		for b.me(tr.AccessToken) != http.StatusUnauthorized {
			if time.Since(start) > time.Minute {
				bm.Fatal("B never refused the token")
			}
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
	}
	bm.ReportMetric(float64(total.Microseconds())/1000/float64(bm.N), "ms-to-refusal")
	bm.ReportMetric(float64(worst.Microseconds())/1000, "max-ms-to-refusal")
}

// `server migrate` on PostgreSQL reports the migration that opening the
// store did, then that the schema is current, and refuses a newer schema.
func TestPostgresAdminMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgtest.Config(t)
	s := openTestPostgresConfig(t, cfg.Copy()) // migrates an empty schema
	defer s.Close()
	latest := postgres.SchemaVersion()
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
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, latest+1); err != nil {
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
	pc := pgtest.Config(t)
	const password = "pw-that-must-not-be-logged"
	dsn := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&search_path=%s&pool_max_conns=3",
		pc.ConnConfig.User, password, net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))),
		pc.ConnConfig.Database, pc.ConnConfig.RuntimeParams["search_path"])
	svc, logs := svNewLogged(t, map[string]string{
		"JWT_SECRET": cfSecret, "DATABASE_URL": dsn, "LISTEN_ADDR": "127.0.0.1:0",
	})
	st, ok := svc.Store().(*postgres.Store)
	if !ok {
		t.Fatalf("DATABASE_URL=postgres:// opened a %T", svc.Store())
	}
	if got := st.Stat().MaxConns(); got != 3 {
		t.Errorf("pool_max_conns=3 gave a pool of %d", got)
	}
	if logs.String() != "" {
		t.Errorf("New logged (admin commands would print it):\n%s", logs)
	}
	svServeBriefly(t, svc, logs)
	if !strings.Contains(logs.String(), `msg=store kind=postgres url="postgres://postgres:xxxxx@`) ||
		!strings.Contains(logs.String(), fmt.Sprintf("schema_version=%d migrated_from=0", postgres.SchemaVersion())) {
		t.Errorf("the start-up log does not describe the store:\n%s", logs)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log shows the database password:\n%s", logs)
	}
}
