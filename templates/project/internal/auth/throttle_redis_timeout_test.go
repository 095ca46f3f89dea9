package auth

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	storeredis "github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis/redistest"
)

// silentThrottle is a throttle whose counts are shared in a silent Redis,
// through a client made as the server makes it.
func silentThrottle(t *testing.T) *Throttle {
	t.Helper()
	counts, err := storeredis.Open(context.Background(), "redis://"+redistest.Silent(t)+"/0", "gatehouse-test-silent", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { counts.Close() })
	th := NewThrottle(ThrottleConfig{})
	shareThrottle(th, counts, nil)
	return th
}

// A Redis that does not answer holds an attempt no longer than its
// CallTimeout (go-redis's own read time-out, 5s by default, must not
// be what bounds it), and the throttle then counts in memory.
func TestRedisNotAnsweringHoldsAnAttemptNoLongerThanTheCallTimeout(t *testing.T) {
	t.Parallel()
	th := silentThrottle(t)
	start := time.Now()
	a, _, ok := th.Reserve("alice", "10.0.0.1")
	took := time.Since(start)
	if !ok {
		t.Fatal("refused: the throttle should count in memory when Redis does not answer")
	}
	a.Fail()
	if took > storeredis.CallTimeout+500*time.Millisecond {
		t.Errorf("Reserve took %v with a Redis that does not answer, want at most %v", took, storeredis.CallTimeout)
	}
	if !th.shared.down {
		t.Error("the throttle did not notice that Redis does not answer")
	}
	if th.pairs.entries[store.PairKey("alice", addressKey("10.0.0.1"))] == nil {
		t.Error("the failure was not counted in memory")
	}
}

// The request's context bounds the throttle's Redis calls: a request whose
// context ends sooner than the Redis CallTimeout is not held longer. Its end
// says nothing about Redis, so the throttle keeps trying Redis for the
// next attempt.
func TestRedisCallsAreBoundedByTheRequestContext(t *testing.T) {
	t.Parallel()
	th := silentThrottle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	a, _, ok := th.ReserveContext(ctx, "alice", "10.0.0.1")
	took := time.Since(start)
	if !ok {
		t.Fatal("refused")
	}
	a.Cancel()
	if took > 600*time.Millisecond {
		t.Errorf("ReserveContext took %v with a context of 100ms", took)
	}
	if th.shared.down {
		t.Error("a request's own deadline was taken for Redis being down")
	}
}

// A login through the service, with a Redis that does not answer, is
// bounded by its context too, and answered (the wrong password counted).
func TestRedisNotAnsweringLoginBoundedByItsContext(t *testing.T) {
	t.Parallel()
	addr := redistest.Silent(t)
	f := epSetupOn(t, memory.New(), func(c *Config) {
		c.RedisURL = "redis://" + addr + "/0"
		c.RedisKeyPrefix = "gatehouse-test-silent"
	})
	f.addUser("alice")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.svc.Accounts().Authenticate(ctx, "alice", "wrong", "10.0.0.1")
	took := time.Since(start)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if took > 700*time.Millisecond {
		t.Errorf("Authenticate took %v with a context of 200ms and a Redis that does not answer", took)
	}
}
