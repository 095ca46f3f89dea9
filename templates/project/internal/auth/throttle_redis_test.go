package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	storeredis "github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis/redistest"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

// sharedOnly fails the test if th counted anything in memory or found
// Redis unanswering: the test meant to exercise the shared counts.
func sharedOnly(t *testing.T, th *Throttle) {
	t.Helper()
	if th.shared.down {
		t.Error("the throttle fell back to memory: Redis did not answer")
	}
	if n := len(th.pairs.entries) + len(th.addresses.entries) + len(th.accounts.entries) + len(th.known.accounts); n != 0 {
		t.Errorf("%d entries counted in memory, want none", n)
	}
}

// The rules of the throttle hold the same with the counts in Redis.
func TestRedisThrottle(t *testing.T) {
	t.Parallel()
	client, prefix := redistest.Client(t)
	var n atomic.Int64
	for _, b := range throttleBehaviours {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			var made []*Throttle
			b.test(t, func(cfg ThrottleConfig) *Throttle {
				th := NewThrottle(cfg)
				shareThrottle(th, storeredis.NewCounts(client, fmt.Sprintf("%s:%d", prefix, n.Add(1))), nil)
				made = append(made, th)
				return th
			})
			for _, th := range made {
				sharedOnly(t, th)
			}
		})
	}
}

// Two instances count the same failures: guesses spread across them trip
// one limit, reservations on one hold places on the other, and a success
// on one makes the address known on both.
func TestRedisThrottleIsSharedByInstances(t *testing.T) {
	t.Parallel()
	client, prefix := redistest.Client(t)
	clock := newStepClock()
	cfg := ThrottleConfig{Now: clock.Now, AccountAddressLimit: 4, AddressLimit: 6}
	a, b := NewThrottle(cfg), NewThrottle(cfg)
	shareThrottle(a, storeredis.NewCounts(client, prefix), nil)
	shareThrottle(b, storeredis.NewCounts(client, prefix), nil)

	failOnce(t, a, "alice", "10.0.0.1")
	failOnce(t, b, "alice", "10.0.0.1")
	failOnce(t, a, "alice", "10.0.0.1")
	inFlight := wantReserved(t, b, "alice", "10.0.0.1")
	wantThrottleRefuses(t, a, "alice", "10.0.0.1", pendingRetry)
	inFlight.Fail()
	wantThrottleRefuses(t, a, "alice", "10.0.0.1", 15*time.Minute)
	wantThrottleRefuses(t, b, "alice", "10.0.0.1", 15*time.Minute)

	// The address's own limit (6) counts alice's 4 and these 2.
	failOnce(t, a, "bob", "10.0.0.1")
	failOnce(t, b, "carol", "10.0.0.1")
	wantThrottleRefuses(t, a, "dave", "10.0.0.1", 15*time.Minute)

	// A login on B makes its address known for the account on A, where
	// the address limit then does not apply.
	wantReserved(t, b, "erin", "10.0.0.9").Succeed()
	for i := range 6 {
		failOnce(t, a, fmt.Sprint("user", i), "10.0.0.9")
	}
	wantThrottleRefuses(t, b, "mallory", "10.0.0.9", 15*time.Minute)
	wantReserved(t, a, "erin", "10.0.0.9").Cancel()
	sharedOnly(t, a)
	sharedOnly(t, b)
}

// A reservation whose instance never ends it (a crash mid-login) lapses.
func TestRedisThrottleReservationsLapse(t *testing.T) {
	t.Parallel()
	client, prefix := redistest.Client(t)
	clock := newStepClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now, AccountAddressLimit: 1})
	shareThrottle(th, storeredis.NewCounts(client, prefix), nil)
	wantReserved(t, th, "alice", "10.0.0.1") // never ended
	wantThrottleRefuses(t, th, "alice", "10.0.0.1", pendingRetry)
	clock.Advance(storeredis.ReservationTTL)
	wantReserved(t, th, "alice", "10.0.0.1").Cancel()
	sharedOnly(t, th)
}

// Every key the throttle writes is under the prefix and expires.
func TestRedisThrottleKeysExpire(t *testing.T) {
	t.Parallel()
	client, prefix := redistest.Client(t)
	th := NewThrottle(ThrottleConfig{})
	shareThrottle(th, storeredis.NewCounts(client, prefix), nil)
	failOnce(t, th, "alice", "10.0.0.1")
	wantReserved(t, th, "alice", "10.0.0.2").Succeed()
	wantReserved(t, th, "bob", "10.0.0.3") // in progress

	ctx := context.Background()
	keys, err := client.Keys(ctx, prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys written under the prefix")
	}
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Errorf("key %q has no expiry (PTTL %v)", k, ttl)
		}
	}
}

// With Redis unreachable the throttle counts in memory, with a warning
// logged once: logins are neither refused for want of Redis nor let
// through uncounted. When Redis answers again, the shared counts are used
// again, and what they held before the outage still holds.
func TestRedisThrottleFallsBackToMemoryAndRecovers(t *testing.T) {
	t.Parallel()
	opts := redistest.Options(t)
	prefix := redistest.Prefix(t, opts)
	proxy := storetest.NewProxy(t, opts.Addr)
	proxied := *opts
	proxied.Addr = proxy.Addr()
	proxied.MaxRetries = -1
	client := redis.NewClient(&proxied)
	defer client.Close()

	var logs epLog
	clock := newStepClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now, AccountAddressLimit: 3})
	shareThrottle(th, storeredis.NewCounts(client, prefix), slog.New(slog.NewTextHandler(&logs, nil)))
	th.shared.retry = 10 * time.Millisecond
	failOnce(t, th, "alice", "10.0.0.1") // counted in Redis

	proxy.Set(storetest.Refuse)
	for range 3 {
		failOnce(t, th, "bob", "10.0.0.2") // counted in memory
	}
	wantThrottleRefuses(t, th, "bob", "10.0.0.2", 15*time.Minute)
	if n := strings.Count(logs.String(), "redis does not answer"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}

	proxy.Set(storetest.Forward)
	time.Sleep(2 * th.shared.retry)
	failOnce(t, th, "alice", "10.0.0.1")
	if th.shared.down {
		t.Fatalf("the throttle did not go back to Redis:\n%s", logs.String())
	}
	failOnce(t, th, "alice", "10.0.0.1")
	wantThrottleRefuses(t, th, "alice", "10.0.0.1", 15*time.Minute) // 1 before the outage + 2
	if !strings.Contains(logs.String(), "redis answers again") {
		t.Errorf("the recovery was not logged:\n%s", logs.String())
	}
}

// A server whose REDIS_URL points where nothing listens starts, answers
// logins (right ones 200, wrong ones 400 invalid_grant, never a 500) and
// still refuses guessing, counting in memory. Its log never shows the
// password in the URL.
func TestRedisUnreachableServerStillThrottles(t *testing.T) {
	t.Parallel()
	f := epSetupOn(t, memory.New(), func(c *Config) {
		c.RedisURL = "redis://:s3cret-pw@" + redistest.ClosedPort(t) + "/0"
		c.RedisKeyPrefix = "gatehouse-test"
	})
	f.addUser("alice")
	f.login("alice", "")
	for range 5 {
		w := f.token("grant_type", "password", "username", "alice", "password", "wrong")
		wantOAuthError(t, w, 400, "invalid_grant")
	}
	w := f.token("grant_type", "password", "username", "alice", "password", "wrong")
	if w.Code != 429 && w.Code != 400 {
		t.Fatalf("sixth wrong password: %d %s", w.Code, w.Body)
	}
	for _, msg := range []string{"redis is unreachable at start-up", "redis does not answer", `"url":"redis://:xxxxx@`} {
		if !strings.Contains(f.log.String(), msg) {
			t.Errorf("no %q in the log:\n%s", msg, f.log.String())
		}
	}
	attrs := fmt.Sprint(f.svc.throttleAttrs)
	if !strings.Contains(attrs, "redis://:xxxxx@") {
		t.Errorf("the start-up line's attributes %s do not show the redacted URL", attrs)
	}
	if strings.Contains(f.log.String()+attrs, "s3cret-pw") {
		t.Error("the log shows the Redis password")
	}
}

// BenchmarkRedisThrottleReserve measures one failed attempt's bookkeeping
// (Reserve and Fail: two script calls) in Redis, each from a fresh address
// on one of 1000 accounts; compare BenchmarkThrottleReserve in memory.
func BenchmarkRedisThrottleReserve(b *testing.B) {
	client, prefix := redistest.Client(b)
	th := NewThrottle(ThrottleConfig{})
	shareThrottle(th, storeredis.NewCounts(client, prefix), nil)
	i := 0
	for b.Loop() {
		a, _, ok := th.Reserve(fmt.Sprint("user", i%1000), fmt.Sprintf("2001:db8:%x::1", i))
		if ok {
			a.Fail()
		}
		i++
	}
	if th.shared.down {
		b.Fatal("Redis did not answer")
	}
}
