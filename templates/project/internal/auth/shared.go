package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// sharedRetry is how long a Throttle or a RateLimiter counts in memory
// after its shared counts failed to answer before it tries them again: one
// failing call per interval, rather than one per login or request, while
// Redis is down.
const sharedRetry = time.Second

// sharedState is whether the place a Throttle or a RateLimiter shares its
// counts in (store.Counts: Redis) answers. While it fails, they count in
// memory, by this instance alone, and it is tried again every retry; each
// change of state is logged once. Logins and requests are neither refused
// for want of it nor let through uncounted: the limits hold per instance
// meanwhile.
type sharedState struct {
	log   *slog.Logger
	retry time.Duration
	// What the log says when the counts answer again, and when they stop.
	upMsg, downMsg string
	mu             sync.Mutex
	down           bool
	next           time.Time // while down: when to try again (real clock)
}

func newSharedState(log *slog.Logger, upMsg, downMsg string) sharedState {
	return sharedState{log: orDiscard(log), retry: sharedRetry, upMsg: upMsg, downMsg: downMsg}
}

// usable reports whether the next attempt or request should be counted
// in the shared counts.
func (s *sharedState) usable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down || !time.Now().Before(s.next)
}

func (s *sharedState) answered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.down = false
		s.log.LogAttrs(context.Background(), slog.LevelInfo, s.upMsg)
	}
}

func (s *sharedState) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		s.down = true
		s.log.LogAttrs(context.Background(), slog.LevelWarn, s.downMsg, slog.String("error", err.Error()))
	}
	s.next = time.Now().Add(s.retry)
}

// sharedCounts is where a Throttle shares its counts, and whether they
// answer.
type sharedCounts struct {
	sharedState
	counts store.ThrottleCounts
}

// shareThrottle makes t keep its counts in counts.
func shareThrottle(t *Throttle, counts store.ThrottleCounts, log *slog.Logger) {
	t.shared = &sharedCounts{counts: counts, sharedState: newSharedState(log,
		"redis answers again: failed logins are throttled across instances",
		"redis does not answer: failed logins are throttled by this instance alone until it does")}
}

// rlShared is where a RateLimiter shares its counts, and whether they
// answer.
type rlShared struct {
	sharedState
	counts store.RateCounts
}

// shareRateLimits makes rl keep its counts in counts.
func shareRateLimits(rl *RateLimiter, counts store.RateCounts, log *slog.Logger) {
	if rl == nil {
		return
	}
	rl.shared = &rlShared{counts: counts, sharedState: newSharedState(log,
		"redis answers again: request rate limits are shared by every instance",
		"redis does not answer: request rate limits are kept by this instance alone until it does")}
}

// decide counts one request of k under p in the shared counts. The
// request's end does not cancel the call: it was made, and counts.
func (s *rlShared) decide(ctx context.Context, p *rlPolicy, k rlKey, now time.Time) (rlDecision, error) {
	d, err := s.counts.CountRequest(context.WithoutCancel(ctx), p.name+":"+k.String(),
		time.Duration(p.table.interval), time.Duration(p.table.capacity), now)
	if err != nil {
		return rlDecision{}, err
	}
	return rlDecision{ok: d.Allowed, remaining: d.Remaining, reset: d.Reset, retry: d.Retry}, nil
}
