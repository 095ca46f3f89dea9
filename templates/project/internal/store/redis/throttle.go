package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// ReservationTTL is how long a reservation made in Redis holds its
// place if the instance that made it never ends it (it crashed mid-login):
// longer than any hash takes, short enough not to refuse anyone for long.
const ReservationTTL = 30 * time.Second

// The throttle's counts, so that every instance of a server counts the
// same failures. They implement the rules of auth.Throttle (see there) in
// two Lua scripts, each atomic in Redis: one reserves an attempt's places,
// one ends the attempt. Per key it keeps a hash of the
// failures and the time of the last one (and, for accounts, of the last
// attempt), and a sorted set of the reservations in progress, each scored
// by when it lapses; known addresses are a hash per account. Every key
// lives under "PREFIX:throttle:" and expires by itself (PEXPIRE) when its
// window has passed, so nothing needs sweeping.
//
// Times are the instance's clock (Throttle's Now), in microseconds: the
// scripts judge expiry by them, the way the in-memory tables do, and the
// TTLs only reclaim memory.

// throttleKeys are the keys of an attempt, in the order the scripts take
// them. Names of keys that do not apply (no account, no address) are
// passed all the same and not touched.
func (c *Counts) throttleKeys(a store.ThrottleAttempt) []string {
	p := c.prefix + "throttle:"
	pair := store.PairKey(a.Account, a.Addr)
	return []string{
		p + "pair:" + pair, p + "pair-pending:" + pair,
		p + "addr:" + a.Addr, p + "addr-pending:" + a.Addr,
		p + "account:" + a.Account, p + "account-pending:" + a.Account,
		p + "known:" + a.Account,
	}
}

// throttleLib is shared by both scripts: the arguments common to
// them and how an entry is read.
const throttleLib = `
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

var reserveScript = redis.NewScript(throttleLib + `
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

var endScript = redis.NewScript(throttleLib + `
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

// throttleArgs are the arguments both scripts start with.
func throttleArgs(l store.ThrottleLimits, a store.ThrottleAttempt, now time.Time) []any {
	return []any{micros(now), a.ID, a.Addr, redisFlag(a.Account != ""), redisFlag(a.Addr != ""),
		microsOf(l.Window), microsOf(l.AccountWindow), microsOf(l.KnownFor)}
}

// ReserveAttempt implements store.ThrottleCounts.
func (c *Counts) ReserveAttempt(ctx context.Context, l store.ThrottleLimits, a store.ThrottleAttempt, now time.Time) (wait time.Duration, ok, known bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	args := append(throttleArgs(l, a, now), l.AccountAddressLimit, l.AddressLimit,
		l.AccountSlowAfter, microsOf(l.AccountDelay), microsOf(l.AccountMaxDelay),
		microsOf(ReservationTTL), microsOf(l.PendingRetry))
	res, err := reserveScript.Run(ctx, c.client, c.throttleKeys(a), args...).Int64Slice()
	if err != nil {
		return 0, false, false, fmt.Errorf("redis: reserve a login attempt: %w", err)
	}
	if len(res) != 2 {
		return 0, false, false, errors.New("redis: reserve a login attempt: unexpected answer " + strconv.Itoa(len(res)))
	}
	if res[0] == 0 {
		return time.Duration(res[1]) * time.Microsecond, false, false, nil
	}
	return 0, true, res[1] == 1, nil
}

// EndAttempt implements store.ThrottleCounts.
func (c *Counts) EndAttempt(ctx context.Context, l store.ThrottleLimits, a store.ThrottleAttempt, outcome string, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	args := append(throttleArgs(l, a, now), redisFlag(a.Known), outcome, l.MaxKnown)
	if err := endScript.Run(ctx, c.client, c.throttleKeys(a), args...).Err(); err != nil {
		return fmt.Errorf("redis: end a login attempt: %w", err)
	}
	return nil
}
