package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCallTimeout bounds each Redis call: a Redis that accepts
// connections but does not answer must not hold a login for long, since the
// throttle then counts in memory instead.
const redisCallTimeout = time.Second

// redisReservationTTL is how long a reservation made in Redis holds its
// place if the instance that made it never ends it (it crashed mid-login):
// longer than any hash takes, short enough not to refuse anyone for long.
const redisReservationTTL = 30 * time.Second

// redisThrottle keeps a Throttle's counts in Redis, so that every instance
// of a server counts the same failures. It implements the rules of Throttle
// (see there) in two Lua scripts, each atomic in Redis: one reserves an
// attempt's places, one ends the attempt. Per key it keeps a hash of the
// failures and the time of the last one (and, for accounts, of the last
// attempt), and a sorted set of the reservations in progress, each scored
// by when it lapses; known addresses are a hash per account. Every key
// lives under "PREFIX:throttle:" and expires by itself (PEXPIRE) when its
// window has passed, so nothing needs sweeping.
//
// Times are the instance's clock (Throttle's Now), in microseconds: the
// scripts judge expiry by them, the way the in-memory tables do, and the
// TTLs only reclaim memory.
type redisThrottle struct {
	client  *redis.Client
	prefix  string // "PREFIX:throttle:"
	timeout time.Duration
}

func newRedisThrottle(client *redis.Client, prefix string) *redisThrottle {
	return &redisThrottle{client: client, prefix: prefix + ":throttle:", timeout: redisCallTimeout}
}

// redisThrottleKeys are the keys of an attempt, in the order the scripts
// take them. Names of keys that do not apply (no account, no address) are
// passed all the same and not touched.
func (r *redisThrottle) keys(account, addr string) []string {
	pair := pairKey(account, addr)
	return []string{
		r.prefix + "pair:" + pair, r.prefix + "pair-pending:" + pair,
		r.prefix + "addr:" + addr, r.prefix + "addr-pending:" + addr,
		r.prefix + "account:" + account, r.prefix + "account-pending:" + account,
		r.prefix + "known:" + account,
	}
}

// redisThrottleLib is shared by both scripts: the arguments common to
// them and how an entry is read.
const redisThrottleLib = `
local now = tonumber(ARGV[1])
local id = ARGV[2]
local addr = ARGV[3]
local hasAccount = ARGV[4] == '1'
local hasAddr = ARGV[5] == '1'
local window = tonumber(ARGV[6])
local accountWindow = tonumber(ARGV[7])
local knownFor = tonumber(ARGV[8])

-- ms turns microseconds into the milliseconds of PEXPIRE, at least 1.
local function ms(us) return math.max(1, math.ceil(us / 1000)) end

-- pending counts the reservations in progress of a sorted set, dropping
-- those that lapsed.
local function pending(z)
  redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
  return redis.call('ZCARD', z)
end

-- entry returns the failures of a key, the time of its last failure (or
-- attempt) and its reservations; an entry past its window without
-- reservations is over.
local function entry(h, z, win)
  local v = redis.call('HMGET', h, 'n', 'last')
  local n, last = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  local p = pending(z)
  if p == 0 and now >= last + win then
    return 0, 0, 0
  end
  return n, last, p
end
`

var redisReserveScript = redis.NewScript(redisThrottleLib + `
local pairLimit, addrLimit = tonumber(ARGV[9]), tonumber(ARGV[10])
local slowAfter, delay, maxDelay = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local ttl, pendingRetry = tonumber(ARGV[14]), tonumber(ARGV[15])

local function hardWait(h, z, limit)
  local n, last, p = entry(h, z, window)
  if n >= limit then return last + window - now end
  if n + p >= limit then return pendingRetry end
  return 0
end

local function accountWait()
  local n, last, p = entry(KEYS[5], KEYS[6], accountWindow)
  local beyond = n + p - slowAfter + 1
  if beyond <= 0 then return 0 end
  local d = delay
  local i = 1
  while i < beyond and d < maxDelay do
    d = d * 2
    i = i + 1
  end
  return last + math.min(d, maxDelay) - now
end

local known = false
if hasAccount and hasAddr then
  local at = tonumber(redis.call('HGET', KEYS[7], addr))
  known = at ~= nil and now < at + knownFor
end
local wait = 0
if hasAccount then wait = hardWait(KEYS[1], KEYS[2], pairLimit) end
if not known then
  if hasAddr then wait = math.max(wait, hardWait(KEYS[3], KEYS[4], addrLimit)) end
  if hasAccount then wait = math.max(wait, accountWait()) end
end
if wait > 0 then return {0, wait} end

local function reserve(z)
  redis.call('ZADD', z, now + ttl, id)
  redis.call('PEXPIRE', z, ms(ttl))
end
if hasAccount then reserve(KEYS[2]) end
if not known then
  if hasAddr then reserve(KEYS[4]) end
  if hasAccount then
    reserve(KEYS[6])
    -- The account's spacing runs from its latest attempt.
    redis.call('HSET', KEYS[5], 'last', now)
    redis.call('PEXPIRE', KEYS[5], ms(accountWindow))
  end
end
if known then return {1, 1} end
return {1, 0}
`)

var redisEndScript = redis.NewScript(redisThrottleLib + `
local known = ARGV[9] == '1'
local outcome = ARGV[10]
local maxKnown = tonumber(ARGV[11])

local function fail(h, win)
  local v = redis.call('HMGET', h, 'n', 'last')
  local n, last = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if now >= last + win then n = 0 end -- the earlier ones expired
  redis.call('HSET', h, 'n', n + 1, 'last', now)
  redis.call('PEXPIRE', h, ms(win))
end

if hasAccount then redis.call('ZREM', KEYS[2], id) end
if not known then
  if hasAddr then redis.call('ZREM', KEYS[4], id) end
  if hasAccount then redis.call('ZREM', KEYS[6], id) end
end
if outcome == 'fail' then
  if hasAccount then fail(KEYS[1], window) end
  if not known then
    if hasAddr then fail(KEYS[3], window) end
    if hasAccount then fail(KEYS[5], accountWindow) end
  end
elseif outcome == 'succeed' and hasAccount then
  redis.call('DEL', KEYS[1])
  if hasAddr then
    redis.call('HSET', KEYS[7], addr, now)
    local all = redis.call('HGETALL', KEYS[7])
    if #all / 2 > maxKnown then
      local list = {}
      for i = 1, #all, 2 do list[#list + 1] = {all[i], tonumber(all[i + 1])} end
      table.sort(list, function(a, b) return a[2] < b[2] end)
      for i = 1, #list - maxKnown do redis.call('HDEL', KEYS[7], list[i][1]) end
    end
    redis.call('PEXPIRE', KEYS[7], ms(knownFor))
  end
end
return 1
`)

// micros is t as the scripts' clock; d the same for a duration.
func micros(t time.Time) int64       { return t.UnixMicro() }
func microsOf(d time.Duration) int64 { return d.Microseconds() }

func redisFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// args are the arguments both scripts start with.
func (r *redisThrottle) args(cfg *ThrottleConfig, a *Attempt, now time.Time) []any {
	return []any{micros(now), a.id, a.addr, redisFlag(a.account != ""), redisFlag(a.addr != ""),
		microsOf(cfg.Window), microsOf(cfg.AccountWindow), microsOf(cfg.KnownFor)}
}

// reserve runs the reservation of a (whose account, addr and id are set)
// and sets a.known. It returns how long to wait when refused.
func (r *redisThrottle) reserve(ctx context.Context, cfg *ThrottleConfig, a *Attempt, now time.Time) (wait time.Duration, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	args := append(r.args(cfg, a, now), cfg.AccountAddressLimit, cfg.AddressLimit,
		cfg.AccountSlowAfter, microsOf(cfg.AccountDelay), microsOf(cfg.AccountMaxDelay),
		microsOf(redisReservationTTL), microsOf(pendingRetry))
	res, err := redisReserveScript.Run(ctx, r.client, r.keys(a.account, a.addr), args...).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("redis: reserve a login attempt: %w", err)
	}
	if len(res) != 2 {
		return 0, false, errors.New("redis: reserve a login attempt: unexpected answer " + strconv.Itoa(len(res)))
	}
	if res[0] == 0 {
		return time.Duration(res[1]) * time.Microsecond, false, nil
	}
	a.known = res[1] == 1
	return 0, true, nil
}

// end ends a's reservation with outcome: "fail", "succeed" or "cancel".
func (r *redisThrottle) end(ctx context.Context, cfg *ThrottleConfig, a *Attempt, outcome string, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	args := append(r.args(cfg, a, now), redisFlag(a.known), outcome, maxKnownPerAccount)
	if err := redisEndScript.Run(ctx, r.client, r.keys(a.account, a.addr), args...).Err(); err != nil {
		return fmt.Errorf("redis: end a login attempt: %w", err)
	}
	return nil
}

// sharedRetry is how long a Throttle counts in memory after Redis failed
// to answer before it tries Redis again: one failing call per interval,
// rather than one per login, while Redis is down.
const sharedRetry = time.Second

// sharedCounts is where a Throttle shares its counts, and whether that
// place answers. While Redis fails, attempts are counted in memory, by
// this instance alone, and Redis is tried again every retry; each change
// of state is logged once. Logins are neither refused for want of Redis
// nor let through uncounted: the limits hold per instance meanwhile.
type sharedCounts struct {
	redis *redisThrottle
	log   *slog.Logger
	retry time.Duration
	mu    sync.Mutex
	down  bool
	next  time.Time // while down: when to try Redis again (real clock)
}

// shareThrottle makes t keep its counts in Redis, under the key prefix.
func shareThrottle(t *Throttle, client *redis.Client, prefix string, log *slog.Logger) {
	t.shared = &sharedCounts{redis: newRedisThrottle(client, prefix), log: orDiscard(log), retry: sharedRetry}
}

// usable reports whether the next attempt should go to Redis.
func (s *sharedCounts) usable() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down || !time.Now().Before(s.next)
}

func (s *sharedCounts) answered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		s.down = false
		s.log.LogAttrs(context.Background(), slog.LevelInfo,
			"redis answers again: failed logins are throttled across instances")
	}
}

func (s *sharedCounts) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		s.down = true
		s.log.LogAttrs(context.Background(), slog.LevelWarn,
			"redis does not answer: failed logins are throttled by this instance alone until it does",
			slog.String("error", err.Error()))
	}
	s.next = time.Now().Add(s.retry)
}
