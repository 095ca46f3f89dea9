package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisGCRAScript is the GCRA of gcraTable in one atomic Redis call: the
// key holds the caller's theoretical arrival time in microseconds and
// expires (PEXPIRE via SET PX) when the allowance is whole again, so a
// missing key is a caller with its whole allowance and nothing needs
// sweeping. Times are the instance's clock, as for the login throttle.
//
// It answers {allowed, remaining, reset, retry}, durations in
// microseconds.
var redisGCRAScript = redis.NewScript(`
local now, interval, capacity = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local nxt = tat + interval
if nxt - now > capacity then
  return {0, 0, tat - now, nxt - capacity - now}
end
redis.call('SET', KEYS[1], nxt, 'PX', math.max(1, math.ceil((nxt - now) / 1000)))
return {1, math.floor((capacity - (nxt - now)) / interval), nxt - now, 0}
`)

// rlShared is where a RateLimiter shares its counts, and whether that
// place answers. While Redis fails, each instance counts alone (its own
// tables), tries Redis again every sharedRetry, and logs each change of
// state once: requests are neither refused for want of Redis nor let
// through uncounted.
type rlShared struct {
	client  *redis.Client
	prefix  string // "PREFIX:ratelimit:"
	timeout time.Duration
	log     *slog.Logger
	retry   time.Duration
	mu      sync.Mutex
	down    bool
	next    time.Time // while down: when to try Redis again (real clock)
}

// shareRateLimits makes rl keep its counts in Redis under the key prefix.
func shareRateLimits(rl *RateLimiter, client *redis.Client, prefix string, log *slog.Logger) {
	if rl == nil {
		return
	}
	rl.shared = &rlShared{client: client, prefix: prefix + ":ratelimit:", timeout: redisCallTimeout,
		log: orDiscard(log), retry: sharedRetry}
}

func (s *rlShared) decide(ctx context.Context, p *rlPolicy, k rlKey, now time.Time) (rlDecision, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	key := s.prefix + p.name + ":" + k.String()
	res, err := redisGCRAScript.Run(ctx, s.client, []string{key},
		now.UnixMicro(), p.table.interval/1e3, p.table.capacity/1e3).Int64Slice()
	if err != nil {
		return rlDecision{}, fmt.Errorf("redis: rate limit: %w", err)
	}
	if len(res) != 4 {
		return rlDecision{}, errRateLimitAnswer
	}
	return rlDecision{
		ok:        res[0] == 1,
		remaining: int(res[1]),
		reset:     time.Duration(res[2]) * time.Microsecond,
		retry:     time.Duration(res[3]) * time.Microsecond,
	}, nil
}

// usable reports whether the next request should be counted in Redis.
func (s *rlShared) usable() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down || !time.Now().Before(s.next)
}

func (s *rlShared) answered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.down = false
		s.log.LogAttrs(context.Background(), slog.LevelInfo,
			"redis answers again: request rate limits are shared by every instance")
	}
}

func (s *rlShared) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		s.down = true
		s.log.LogAttrs(context.Background(), slog.LevelWarn,
			"redis does not answer: request rate limits are kept by this instance alone until it does",
			slog.String("error", err.Error()))
	}
	s.next = time.Now().Add(s.retry)
}
