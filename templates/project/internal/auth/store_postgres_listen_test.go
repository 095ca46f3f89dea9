package auth

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
	a, b := twoServices(t, pgTestConfig(t), nil, func(c *Config) { c.revocationPoll = time.Hour })
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
	a, b := twoServices(t, pgTestConfig(t), nil, func(c *Config) { c.noRevocationPush = true })
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
	cfg := pgTestConfig(t)
	bCfg, proxy := pgProxiedConfig(t)
	bCfg.ConnConfig.RuntimeParams["search_path"] = cfg.ConnConfig.RuntimeParams["search_path"]
	a, b := twoServices(t, cfg, bCfg, func(c *Config) { c.revocationPoll = time.Hour })
	a.addUser("alice")
	first, second := a.login("alice", ""), a.login("alice", "")
	if code := b.me(first.AccessToken); code != http.StatusOK {
		t.Fatalf("access token from A on B: %d, want 200", code)
	}

	proxy.set(proxyRefuse) // B's listening connection is cut
	if w := a.post(a.svc.RevokePath(), "token", first.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("logout on A: %d %s", w.Code, w.Body)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnections
	proxy.set(proxyForward)
	refusedWithin(t, b, first.AccessToken, 2*listenMaxBackoff)

	if w := a.post(a.svc.RevokePath(), "token", second.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("second logout on A: %d %s", w.Code, w.Body)
	}
	refusedWithin(t, b, second.AccessToken, 2*listenMaxBackoff)
	for _, msg := range []string{"revocation push failed", "revocation push is listening again"} {
		if !strings.Contains(b.log.String(), msg) {
			t.Errorf("B did not log %q:\n%s", msg, b.log)
		}
	}
}

// Every write to the feed notifies the listeners, once committed.
func TestPostgresEveryFeedWriteNotifies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := twoInstances(t, pgTestConfig(t))
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
	confNoErr(t, "CreateUser", a.CreateUser(ctx, User{Username: "alice", PasswordHash: "h"}))
	confNoErr(t, "CreateRefresh", a.CreateRefresh(ctx, confFamily("f", now)))
	confNoErr(t, "CreateClient", a.CreateClient(ctx, Client{ID: "c", SecretHash: "h"}))
	for _, w := range []struct {
		name  string
		write func() error
	}{
		{"Deny", func() error { return a.Deny(ctx, DeniedToken{JTI: "j", ExpiresAt: now.Add(time.Hour)}) }},
		{"UpdateUser", func() error { return a.UpdateUser(ctx, "alice", UserChange{NotBefore: now}) }},
		{"RevokeRefresh", func() error { return a.RevokeRefresh(ctx, confDigest("f"), now) }},
		{"UpdateClient", func() error { return a.UpdateClient(ctx, "c", ClientChange{NotBefore: now}) }},
		{"DeleteClient", func() error { return a.DeleteClient(ctx, "c", now.Add(time.Second)) }},
	} {
		confNoErr(t, w.name, w.write())
		wait(w.name)
	}
}

// BenchmarkRevocationPushAcrossInstances measures how long after a logout
// on A returns B refuses the access token, through the push path (B polls
// once an hour): reported as ms-to-refusal (mean) and max-ms-to-refusal.
func BenchmarkRevocationPushAcrossInstances(bm *testing.B) {
	cfg := pgTestConfig(bm)
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
