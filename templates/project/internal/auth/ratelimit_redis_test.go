package auth

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	storeredis "github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis/redistest"
)

// Two instances on one Redis share one budget per caller: what one let
// through counts for the other.
func TestRedisRateLimitIsSharedByInstances(t *testing.T) {
	t.Parallel()
	opts := redistest.Options(t)
	prefix := redistest.Prefix(t, opts)
	clock := newStepClock()
	var instances [2]*RateLimiter
	for i := range instances {
		client := redis.NewClient(opts)
		t.Cleanup(func() { client.Close() })
		instances[i] = newTestRateLimiter(t, Config{RateLimit: mustRateLimit(t, "10/1m burst 6"), RateLimitAddress: mustRateLimit(t, "4/1m")},
			RateLimits{}, clock.Now, nil)
		shareRateLimits(instances[i], storeredis.NewCounts(client, prefix), nil)
	}
	handlers := [2]http.Handler{
		instances[0].Operation(DefaultRateLimitPolicy, rlOK),
		instances[1].Operation(DefaultRateLimitPolicy, rlOK),
	}
	passed := 0
	for i := range 20 {
		w := httptest.NewRecorder()
		handlers[i%2].ServeHTTP(w, rlRequest("192.0.2.1:1", "alice"))
		if w.Code == 200 {
			passed++
		}
	}
	if passed != 6 {
		t.Errorf("alice through two instances: %d passed, want the one burst of 6", passed)
	}
	// Time is the instances' clock: the interval (6 s) later, one more.
	clock.Advance(6 * time.Second)
	w := httptest.NewRecorder()
	handlers[1].ServeHTTP(w, rlRequest("192.0.2.1:1", "alice"))
	if w.Code != 200 || w.Header().Get("RateLimit") != `"default";r=0;t=36` {
		t.Errorf("after one interval: %d RateLimit %q", w.Code, w.Header().Get("RateLimit"))
	}
	// The per-address limit is shared too.
	addr := [2]http.Handler{instances[0].Address(rlOK), instances[1].Address(rlOK)}
	passed = 0
	for i := range 10 {
		w := httptest.NewRecorder()
		addr[i%2].ServeHTTP(w, rlRequest("198.51.100.1:1", ""))
		if w.Code == 200 {
			passed++
		}
	}
	if passed != 4 {
		t.Errorf("one address through two instances: %d passed, want 4", passed)
	}
	for _, rl := range instances {
		if rl.shared.down {
			t.Error("an instance fell back to memory: Redis did not answer")
		}
		if n := rl.policy(DefaultRateLimitPolicy).table.len() + rl.address.table.len(); n != 0 {
			t.Errorf("%d keys counted in memory, want none", n)
		}
	}
	// The keys expire by themselves once the allowance is whole again.
	client := redis.NewClient(opts)
	defer client.Close()
	keys, err := client.Keys(context.Background(), prefix+":ratelimit:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v; want the two callers'", keys, err)
	}
	for _, k := range keys {
		if ttl := client.PTTL(context.Background(), k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %q: PTTL %v, want until the allowance is whole (at most 1m)", k, ttl)
		}
	}
}

// With Redis unreachable, requests are still limited, by each instance
// alone, never refused with a 500 nor let through uncounted; a warning is
// logged once.
func TestRedisRateLimitFallsBackToMemory(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: redistest.ClosedPort(t), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer client.Close()
	var logs epLog
	rl := newTestRateLimiter(t, Config{RateLimit: mustRateLimit(t, "3/1m")}, RateLimits{}, newStepClock().Now,
		slog.New(slog.NewTextHandler(&logs, nil)))
	shareRateLimits(rl, storeredis.NewCounts(client, "gatehouse-test"), rl.log)
	h := rl.Operation(DefaultRateLimitPolicy, rlOK)
	codes := map[int]int{}
	for range 6 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, rlRequest("192.0.2.1:1", "alice"))
		codes[w.Code]++
	}
	if codes[200] != 3 || codes[429] != 3 {
		t.Errorf("statuses %v, want 3 × 200 and 3 × 429", codes)
	}
	if n := strings.Count(logs.String(), "redis does not answer"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
}

// BenchmarkRateLimit measures a request's cost through the limiter beside
// the same request without it, in one run (-count repeats each
// sub-benchmark in a row: for interleaved repeats, run the test binary
// several times): "none" is the handler alone; "address"
// the per-address limit before authentication (IPv4, the common case);
// "operation" a principal's limit with its RateLimit fields; "decide" the
// in-process decision alone; "redis" the per-address limit in Redis, one
// round trip.
func BenchmarkRateLimit(b *testing.B) {
	high := mustRateLimit(b, "1000000/1s")
	rl := newTestRateLimiter(b, Config{RateLimit: rlBenchLimit, RateLimitAddress: rlBenchLimit}, RateLimits{}, nil, nil)
	r := rlRequest("192.0.2.1:1234", "")
	pr := rlRequest("192.0.2.1:1234", "alice")
	w := httptest.NewRecorder()
	run := func(name string, h http.Handler, r *http.Request) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
	run("none", rlOK, r)
	run("address", rl.Address(rlOK), r)
	run("operation", rl.Operation(DefaultRateLimitPolicy, rlOK), pr)
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		p, k := rl.address, rlKey{addr: rl.clientAddr(r)}
		for b.Loop() {
			rl.decide(context.Background(), p, k)
		}
	})
	b.Run("redis", func(b *testing.B) {
		client, prefix := redistest.Client(b)
		shared := newTestRateLimiter(b, Config{RateLimitAddress: high}, RateLimits{}, nil, nil)
		shareRateLimits(shared, storeredis.NewCounts(client, prefix), nil)
		h := shared.Address(rlOK)
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		if shared.shared.down {
			b.Fatal("Redis did not answer")
		}
	})
}
