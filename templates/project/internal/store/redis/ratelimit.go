package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// gcraScript is the GCRA of auth.RateLimiter's tables in one atomic Redis
// call: the key holds the caller's theoretical arrival time in
// microseconds and expires (PEXPIRE via SET PX) when the allowance is
// whole again, so a missing key is a caller with its whole allowance and
// nothing needs sweeping. Times are the instance's clock, as for the login throttle.
//
// It answers {allowed, remaining, reset, retry}, durations in
// microseconds.
var gcraScript = redis.NewScript(`
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

// errRateLimitAnswer is a Redis answer the limiter cannot read.
var errRateLimitAnswer = errors.New("redis: rate limit: unexpected answer")

// CountRequest implements store.RateCounts, in one round trip, under
// "PREFIX:ratelimit:".
func (c *Counts) CountRequest(ctx context.Context, key string, interval, capacity time.Duration, now time.Time) (store.RateDecision, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := gcraScript.Run(ctx, c.client, []string{c.prefix + "ratelimit:" + key},
		now.UnixMicro(), interval.Microseconds(), capacity.Microseconds()).Int64Slice()
	if err != nil {
		return store.RateDecision{}, fmt.Errorf("redis: rate limit: %w", err)
	}
	if len(res) != 4 {
		return store.RateDecision{}, errRateLimitAnswer
	}
	return store.RateDecision{
		Allowed:   res[0] == 1,
		Remaining: int(res[1]),
		Reset:     time.Duration(res[2]) * time.Microsecond,
		Retry:     time.Duration(res[3]) * time.Microsecond,
	}, nil
}
