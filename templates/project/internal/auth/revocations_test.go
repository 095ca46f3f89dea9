package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// rvFeed is a Store that only serves a revocation feed; every other method
// of the embedded nil interface panics if called.
type rvFeed struct {
	store.Store
	mu     sync.Mutex
	events []store.Revocation
	asked  []int64 // the seq of every RevocationsSince call
	err    error
}

func (f *rvFeed) add(ev store.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev.Seq = int64(len(f.events) + 1)
	f.events = append(f.events, ev)
}

func (f *rvFeed) RevocationsSince(_ context.Context, seq int64) ([]store.Revocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, seq)
	if f.err != nil {
		return nil, f.err
	}
	var out []store.Revocation
	for _, ev := range f.events {
		if ev.Seq > seq {
			out = append(out, ev)
		}
	}
	return out, nil
}

func (f *rvFeed) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *rvFeed) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

func rvSetup(t *testing.T) (*rvFeed, *Revocations, *tkClock) {
	t.Helper()
	feed := &rvFeed{}
	clock := &tkClock{now: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
	rev := NewRevocations(feed)
	rev.now = clock.Now
	return feed, rev, clock
}

func TestRevocationsSyncAppliesTheFeed(t *testing.T) {
	feed, rev, clock := rvSetup(t)
	now := clock.Now()
	feed.add(store.Revocation{JTI: "a", ExpiresAt: now.Add(time.Minute)})
	feed.add(store.Revocation{Subject: "alice", NotBefore: now})
	if err := rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rev.Denied("a") || rev.Denied("b") {
		t.Error("denylist does not match the feed")
	}
	if !rev.NotBefore("alice").Equal(now) || !rev.NotBefore("bob").IsZero() {
		t.Error("not-before times do not match the feed")
	}

	feed.add(store.Revocation{JTI: "b", ExpiresAt: now.Add(time.Minute)})
	if err := rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rev.Denied("b") {
		t.Error("a later event was not applied")
	}
	if feed.asked[1] != 2 {
		t.Errorf("second sync asked for events since %d, want 2", feed.asked[1])
	}
}

func TestRevocationsOnlyTighten(t *testing.T) {
	feed, rev, clock := rvSetup(t)
	now := clock.Now()
	rev.SetNotBefore("alice", now)
	feed.add(store.Revocation{Subject: "alice", NotBefore: now.Add(-time.Hour)})
	if err := rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rev.NotBefore("alice").Equal(now) {
		t.Error("an older not-before time undid a newer one")
	}
	rev.Deny(store.DeniedToken{JTI: "a", ExpiresAt: now.Add(time.Hour)})
	rev.Deny(store.DeniedToken{JTI: "a", ExpiresAt: now.Add(time.Second)})
	clock.Add(time.Minute + MaxLeeway)
	rev.prune(clock.Now(), true)
	if !rev.Denied("a") {
		t.Error("a shorter expiry shortened an entry")
	}
}

func TestRevocationsDropExpiredEntriesAfterLeeway(t *testing.T) {
	_, rev, clock := rvSetup(t)
	now := clock.Now()
	rev.Deny(
		store.DeniedToken{JTI: "short", ExpiresAt: now.Add(time.Minute)},
		store.DeniedToken{JTI: "long", ExpiresAt: now.Add(time.Hour)},
		store.DeniedToken{JTI: "no expiry"},
		store.DeniedToken{JTI: "expired", ExpiresAt: now.Add(-MaxLeeway)},
	)
	if rev.Denied("expired") {
		t.Error("kept an entry for a token no verifier accepts")
	}
	// Within the leeway after exp the token could still verify: keep it.
	clock.Add(time.Minute + MaxLeeway - time.Second)
	rev.prune(clock.Now(), true)
	if !rev.Denied("short") {
		t.Error("dropped an entry while its token can still verify")
	}
	clock.Add(time.Second)
	rev.prune(clock.Now(), true)
	if rev.Denied("short") || !rev.Denied("long") || !rev.Denied("no expiry") {
		t.Error("pruning dropped the wrong entries")
	}
}

func TestRevocationsRunPollsUntilCancelled(t *testing.T) {
	feed, rev, _ := rvSetup(t)
	feed.err = errors.New("store down") // failures do not stop the loop
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		rev.Run(ctx, time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for feed.calls() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not poll")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if err := rev.Sync(context.Background()); err == nil {
		t.Error("a failed sync returned no error")
	}
}

func TestRevocationsConcurrentUse(t *testing.T) {
	feed, rev, clock := rvSetup(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				jti := fmt.Sprint(i, "-", j)
				feed.add(store.Revocation{JTI: jti, ExpiresAt: clock.Now().Add(time.Hour)})
				rev.Deny(store.DeniedToken{JTI: "local" + jti, ExpiresAt: clock.Now().Add(time.Hour)})
				_ = rev.Sync(context.Background())
				rev.Denied(jti)
				rev.NotBefore("alice")
			}
		})
	}
	wg.Wait()
	if err := rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		for j := range 100 {
			if jti := fmt.Sprint(i, "-", j); !rev.Denied(jti) || !rev.Denied("local"+jti) {
				t.Fatalf("%s missing", jti)
			}
		}
	}
}

// rvStaleness gives rev a staleness clock the test moves, a bound of 10 s,
// and a log. Call it before the first Sync.
func rvStaleness(rev *Revocations) (*tkClock, *epLog) {
	clock := &tkClock{now: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
	rev.clock = clock.Now
	rev.start = clock.Now()
	rev.SetMaxStaleness(10 * time.Second)
	logs := &epLog{}
	rev.SetLogger(slog.New(slog.NewJSONHandler(logs, nil)))
	return clock, logs
}

// A feed that cannot be read fails open only for the staleness bound: then
// every token without a revocation on record is refused as unknown
// (ErrRevocationsStale, a 503), and the first successful sync ends that.
// Each change of state is logged once, however many tokens are checked.
func TestRevocationsFailClosedBeyondTheStalenessBound(t *testing.T) {
	feed, rev, clock := rvSetup(t)
	stale, logs := rvStaleness(rev)
	ctx := context.Background()
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	live := &AccessClaims{ID: "live", Subject: "alice", IssuedAt: clock.Now()}
	revoked := &AccessClaims{ID: "revoked", Subject: "alice", IssuedAt: clock.Now()}
	rev.Deny(store.DeniedToken{JTI: "revoked", ExpiresAt: clock.Now().Add(time.Hour)})

	feed.setErr(errors.New("database is unreachable"))
	stale.Add(5 * time.Second)
	if err := rev.Sync(ctx); err == nil {
		t.Fatal("a failed sync returned no error")
	}
	if r := rev.check(live); r != "" {
		t.Fatalf("within the bound: %q, want accepted", r)
	}
	stale.Add(6 * time.Second)
	if err := rev.Sync(ctx); err == nil {
		t.Fatal("a failed sync returned no error")
	}
	for range 5 {
		if r := rev.check(live); r != rejectStale {
			t.Fatalf("beyond the bound: %q, want %q", r, rejectStale)
		}
	}
	if age, isStale := rev.Staleness(); !isStale || age != 11*time.Second {
		t.Errorf("Staleness() = %s, %v; want 11s, true", age, isStale)
	}
	if r := rev.check(revoked); r != rejectDenied {
		t.Errorf("a token known to be revoked: %q, want %q", r, rejectDenied)
	}
	if err := errors.Unwrap(&tokenError{reason: rejectStale}); err != ErrRevocationsStale {
		t.Errorf("a stale refusal unwraps to %v, want ErrRevocationsStale", err)
	}

	feed.setErr(nil)
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r := rev.check(live); r != "" {
		t.Errorf("after recovery: %q, want accepted", r)
	}
	out := logs.String()
	for _, msg := range []string{"revocation sync failed", "revocation state is stale", "revocation state is current again"} {
		if n := strings.Count(out, msg); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", msg, n, out)
		}
	}
	if !strings.Contains(out, "database is unreachable") {
		t.Errorf("the store's error is not in the log:\n%s", out)
	}
}

// hangingFeed is a feed whose reads never answer until their context ends.
type hangingFeed struct {
	store.Store
	returned atomic.Bool
}

func (f *hangingFeed) RevocationsSince(ctx context.Context, _ int64) ([]store.Revocation, error) {
	<-ctx.Done()
	f.returned.Store(true)
	return nil, ctx.Err()
}

// A store that hangs rather than fails cannot hold the state fresh: Run's
// watchdog marks it stale at the bound, while the pull still hangs.
func TestRevocationsWatchdogMarksStaleWhileThePullHangs(t *testing.T) {
	feed := &hangingFeed{}
	rev := NewRevocations(feed)
	logs := &epLog{}
	rev.SetLogger(slog.New(slog.NewJSONHandler(logs, nil)))
	rev.SetMaxStaleness(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		rev.Run(ctx, time.Hour)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	rvWaitForLog(t, logs, "revocation state is stale")
	if feed.returned.Load() {
		t.Fatal("the state was marked stale only when the pull gave up, not by the watchdog")
	}
	if r := rev.check(&AccessClaims{ID: "j", Subject: "alice"}); r != rejectStale {
		t.Errorf("check = %q, want %q", r, rejectStale)
	}
}

// Run reports the state going stale without waiting for a request, and
// Notify makes it pull at once (the push path), with no tick due for an
// hour.
func TestRevocationsRunReportsStalenessAndNotifyPullsAtOnce(t *testing.T) {
	feed, rev, _ := rvSetup(t)
	stale, logs := rvStaleness(rev)
	feed.setErr(errors.New("database is unreachable"))
	stale.Add(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		rev.Run(ctx, time.Hour)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	rvWaitForLog(t, logs, "revocation state is stale")

	feed.setErr(nil)
	feed.add(store.Revocation{JTI: "pushed", ExpiresAt: time.Date(2031, 1, 1, 1, 0, 0, 0, time.UTC)})
	rev.Notify()
	rvWaitForLog(t, logs, "revocation state is current again")
	if !rev.Denied("pushed") {
		t.Error("the pull Notify triggered did not apply the feed")
	}
}

func rvWaitForLog(t *testing.T, logs *epLog, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never logged:\n%s", msg, logs)
		}
		time.Sleep(time.Millisecond)
	}
}

// flakyFeed is a store whose revocation feed can be made to fail.
type flakyFeed struct {
	store.Store
	fail atomic.Bool
}

func (f *flakyFeed) RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error) {
	if f.fail.Load() {
		return nil, errors.New("database is unreachable")
	}
	return f.Store.RevocationsSince(ctx, seq)
}

// The whole server fails closed on a stale revocation state: access
// tokens get a generic 503, /health says why, logout still revokes, and
// everything recovers by itself once the feed can be read.
func TestStaleRevocationStateFailsClosedWith503AndHealthSaysWhy(t *testing.T) {
	feed := &flakyFeed{Store: memory.New()}
	f := epSetupOn(t, feed, func(c *Config) { c.RevocationMaxStaleness = 10 * time.Second })
	// The test drives the feed: stop the background poll first.
	f.svc.stop()
	f.svc.polling.Wait()
	stale, _ := rvStaleness(f.svc.rev)
	f.svc.rev.SetMaxStaleness(f.svc.cfg.RevocationMaxStaleness)
	f.svc.rev.SetLogger(f.svc.log)
	f.sync()
	f.addUser("alice")
	kept := f.login("alice", "")
	loggedOut := f.login("alice", "")
	health := func() (int, Health) {
		t.Helper()
		w := f.serve(http.MethodGet, HealthPath, "", "")
		var h Health
		if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil {
			t.Fatalf("/health body %q: %v", w.Body, err)
		}
		return w.Code, h
	}
	if code, h := health(); code != http.StatusOK || h.Status != "ok" {
		t.Fatalf("/health = %d %+v, want 200 ok", code, h)
	}

	feed.fail.Store(true)
	stale.Add(11 * time.Second)
	if err := f.svc.rev.Sync(context.Background()); err == nil {
		t.Fatal("the sync did not fail")
	}
	for range 3 {
		w := f.serve(http.MethodGet, "/me", "", "", "Authorization", "Bearer "+kept.AccessToken)
		wantOAuthError(t, w, http.StatusServiceUnavailable, "temporarily_unavailable")
		if strings.Contains(w.Body.String(), "revocation") || strings.Contains(w.Body.String(), "database") {
			t.Errorf("the 503 body names internals: %s", w.Body)
		}
	}
	code, h := health()
	if code != http.StatusServiceUnavailable || h.Status != "unavailable" ||
		!strings.Contains(h.Reason, "REVOCATION_MAX_STALENESS (10s)") || strings.Contains(h.Reason, "unreachable") {
		t.Errorf("/health = %d %+v, want 503 with the reason and no internals", code, h)
	}
	// Logout needs no current state: it still reaches the store.
	w := f.postWith(f.svc.RevokePath(), []string{"Authorization", "Bearer " + loggedOut.AccessToken}, "token", loggedOut.RefreshToken)
	if w.Code != http.StatusOK {
		t.Fatalf("logout while stale: %d %s", w.Code, w.Body)
	}

	feed.fail.Store(false)
	f.sync()
	if code := f.me(kept.AccessToken); code != http.StatusOK {
		t.Errorf("after recovery: %d, want 200", code)
	}
	if code := f.me(loggedOut.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("the token logged out while stale: %d, want 401", code)
	}
	if code, h := health(); code != http.StatusOK || h.Status != "ok" {
		t.Errorf("/health after recovery = %d %+v, want 200 ok", code, h)
	}
	// Requests are logged at debug level only; the state, once at error.
	if n := strings.Count(f.log.String(), `"level":"ERROR","msg":"revocation state is stale`); n != 1 {
		t.Errorf("the stale state was logged %d times, want once:\n%s", n, f.log)
	}
}
