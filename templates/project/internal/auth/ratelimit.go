package auth

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RateLimit is a request rate: Count requests per Period sustained, and
// up to Burst at once (Count when 0). The zero RateLimit is no limit.
//
// It is written "COUNT/PERIOD", optionally followed by " burst N":
// "600/1m", "10/s burst 50", "100/1h"; or "none". PERIOD is a Go duration
// (1s to 24h) or a bare unit (s, m, h).
type RateLimit struct {
	Count  int
	Period time.Duration
	Burst  int
}

// Bounds of a rate limit: the interval between requests (Period/Count) is
// at least a microsecond, the unit of the shared counts in Redis.
const (
	maxRateCount  = 1_000_000
	minRatePeriod = time.Second
	maxRatePeriod = 24 * time.Hour
)

// RateLimitNone is how a limit that limits nothing is written.
const RateLimitNone = "none"

// ParseRateLimit parses a limit as RateLimit documents it.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, RateLimitNone) {
		return RateLimit{}, nil
	}
	fields := strings.Fields(s)
	bad := func(why string) (RateLimit, error) {
		return RateLimit{}, fmt.Errorf("%q %s; write COUNT/PERIOD with an optional burst, such as 600/1m or 10/s burst 50, or none", s, why)
	}
	if len(fields) != 1 && (len(fields) != 3 || !strings.EqualFold(fields[1], "burst")) {
		return bad("is not a rate limit")
	}
	count, period, ok := strings.Cut(fields[0], "/")
	if !ok {
		return bad("has no /PERIOD")
	}
	var l RateLimit
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > maxRateCount {
		return bad(fmt.Sprintf("has a count that is not a whole number from 1 to %d", maxRateCount))
	}
	l.Count = n
	switch period {
	case "s", "m", "h":
		period = "1" + period
	}
	l.Period, err = time.ParseDuration(period)
	if err != nil || l.Period < minRatePeriod || l.Period > maxRatePeriod {
		return bad("has a period that is not a duration from 1s to 24h")
	}
	if len(fields) == 3 {
		b, err := strconv.Atoi(fields[2])
		if err != nil || b < 1 || b > maxRateCount {
			return bad(fmt.Sprintf("has a burst that is not a whole number from 1 to %d", maxRateCount))
		}
		l.Burst = b
	}
	return l, nil
}

// None reports whether l limits nothing.
func (l RateLimit) None() bool { return l.Count <= 0 }

// String writes l as ParseRateLimit reads it.
func (l RateLimit) String() string {
	if l.None() {
		return RateLimitNone
	}
	s := strconv.Itoa(l.Count) + "/" + fmtDuration(l.Period)
	if l.Burst > 0 && l.Burst != l.Count {
		s += " burst " + strconv.Itoa(l.Burst)
	}
	return s
}

// burst is how many requests l lets through at once.
func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return l.Count
}

// interval is the time one request uses up of the allowance (GCRA's
// emission interval), and capacity the time a full allowance spans.
func (l RateLimit) interval() time.Duration { return l.Period / time.Duration(l.Count) }
func (l RateLimit) capacity() time.Duration { return l.interval() * time.Duration(l.burst()) }

// RateLimits are the limits of a server's operations, as the generator
// works them out from gatehouse.yaml and the spec (x-gatehouse-rate-limit).
type RateLimits struct {
	// Default is the limit of operations without an override; "" means
	// RATE_LIMIT's default. RATE_LIMIT, when set, wins over it.
	Default string
	// Policies are the overrides by policy name (an operation id, or a
	// tag): each is its own budget per caller, shared by the operations
	// routed to it (see RateLimiter.Operation).
	Policies map[string]string
}

// DefaultRateLimitPolicy is the name of the default limit's policy, and
// TokenRateLimitPolicy the one of the token endpoint, which counts per
// client address the default limit apart from the operations'.
const (
	DefaultRateLimitPolicy = "default"
	TokenRateLimitPolicy   = "token"
	addressRateLimitPolicy = "address"
)

// Header names of draft-ietf-httpapi-ratelimit-headers, canonical.
const (
	rateLimitHeader       = "Ratelimit"
	rateLimitPolicyHeader = "Ratelimit-Policy"
)

// defaultRateLimitKeys bounds how many callers each policy tracks in
// memory. Only callers whose allowance is whole again are forgotten; while
// a table is full of others, new callers share overflow budgets (see
// gcraTable).
const defaultRateLimitKeys = 100_000

// RateLimiter limits how fast callers may call the server, in two places:
//
//   - Address, before authentication: a cheap limit per client address
//     (IPv6 per /64, X-Forwarded-For only from TRUSTED_PROXIES) on
//     everything but CORS preflight requests and /health, so that a flood
//     of forged tokens or wrong passwords is cut before any signature is
//     checked or password hashed (RATE_LIMIT_ADDRESS);
//   - Operation, after authentication: a limit per policy and caller,
//     the principal's subject (so that minting more API keys or tokens does
//     not buy more) or, for anonymous requests, the client address
//     (RATE_LIMIT, and the generated overrides).
//
// A refused request gets 429 with Retry-After, the RateLimit-Policy and
// RateLimit fields of draft-ietf-httpapi-ratelimit-headers and a JSON
// error; operations' answers carry those fields too. Each caller's refusals
// are logged once a minute, with a count of the others.
//
// Limits are kept by GCRA, one time stamp per caller and policy: in this
// process, in bounded tables, or with REDIS_URL in Redis, shared by every
// instance, one round trip a request. While Redis does not answer the
// limits hold per instance, and a warning says so.
type RateLimiter struct {
	address  *rlPolicy
	policies map[string]*rlPolicy
	log      *slog.Logger
	logged   *failureLimiter
	shared   *rlShared // nil: in this process only
	now      func() time.Time
	cfg      Config
}

// rlPolicy is one limit and its counts.
type rlPolicy struct {
	name   string
	limit  RateLimit
	table  *gcraTable
	header []string // RateLimit-Policy, computed once
	// fields caches the RateLimit field values answers carry, so that a
	// request let through allocates nothing (see field).
	fields []atomic.Pointer[rlField]
}

// rlField is one RateLimit field value: r requests left, t seconds until
// the allowance is whole again.
type rlField struct {
	r, t  int
	value []string
}

// maxRLFields bounds a policy's cache of RateLimit field values; the
// values of a policy whose burst plus window in seconds exceeds it are
// written per request (two allocations).
const maxRLFields = 4096

// NewRateLimiter returns the limiter of cfg (RATE_LIMIT,
// RATE_LIMIT_ADDRESS) and limits, counting in this process by now's clock
// (time.Now if nil). It returns nil, a limiter that limits nothing, when
// every limit is none. Share it between instances with shareRateLimits.
func NewRateLimiter(cfg Config, limits RateLimits, log *slog.Logger, now func() time.Time) (*RateLimiter, error) {
	if now == nil {
		now = time.Now
	}
	maxKeys := cfg.rateLimitKeys
	if maxKeys <= 0 {
		maxKeys = defaultRateLimitKeys
	}
	def := cfg.RateLimit
	if !cfg.RateLimitSet && limits.Default != "" {
		l, err := ParseRateLimit(limits.Default)
		if err != nil {
			return nil, fmt.Errorf("auth: rate limit %s: %w", DefaultRateLimitPolicy, err)
		}
		def = l
	}
	rl := &RateLimiter{
		policies: map[string]*rlPolicy{},
		log:      orDiscard(log),
		logged:   newFailureLimiter(failureLogWindow, maxFailureAddrs, nil),
		now:      now,
		cfg:      cfg,
	}
	rl.address = newRLPolicy(addressRateLimitPolicy, cfg.RateLimitAddress, maxKeys)
	rl.policies[DefaultRateLimitPolicy] = newRLPolicy(DefaultRateLimitPolicy, def, maxKeys)
	rl.policies[TokenRateLimitPolicy] = newRLPolicy(TokenRateLimitPolicy, def, maxKeys)
	for name, s := range limits.Policies {
		l, err := ParseRateLimit(s)
		if err != nil {
			return nil, fmt.Errorf("auth: rate limit %s: %w", name, err)
		}
		rl.policies[name] = newRLPolicy(name, l, maxKeys)
	}
	anything := rl.address != nil
	for _, p := range rl.policies {
		anything = anything || p != nil
	}
	if !anything {
		return nil, nil
	}
	return rl, nil
}

func newRLPolicy(name string, l RateLimit, maxKeys int) *rlPolicy {
	if l.None() {
		return nil
	}
	w := ceilSeconds(l.capacity())
	return &rlPolicy{
		name:   name,
		limit:  l,
		table:  newGCRATable(l, maxKeys),
		header: []string{sfString(name) + ";q=" + strconv.Itoa(l.burst()) + ";w=" + strconv.Itoa(w)},
		fields: make([]atomic.Pointer[rlField], min(l.burst()+w+1, maxRLFields)),
	}
}

// field returns the RateLimit field of an answer: the requests left and
// the seconds until the allowance is whole again.
//
// A policy has few distinct values: after a request, remaining and reset
// both follow from the caller's one time stamp (reset = tat-now, remaining
// = (capacity-reset)/interval), so as reset grows t rises and r falls, and
// t + burst - r numbers the pairs (r, t) without two sharing a number. The
// value of each pair is written once, the first time it is needed, and
// shared by every answer after: callers must not change the slice, only
// replace it (as Header.Set does). A pair off that line (counts in Redis
// round to microseconds) is checked, and written anew when it differs.
func (p *rlPolicy) field(remaining int, reset time.Duration) []string {
	t := ceilSeconds(reset)
	i := t + p.limit.burst() - remaining
	if remaining < 0 || i < 0 || i >= len(p.fields) {
		return []string{rateLimitValue(p, remaining, t)}
	}
	if f := p.fields[i].Load(); f != nil && f.r == remaining && f.t == t {
		return f.value
	}
	f := &rlField{r: remaining, t: t, value: []string{rateLimitValue(p, remaining, t)}}
	p.fields[i].Store(f)
	return f.value
}

// sfString writes s as a Structured Fields String (RFC 9651): quoted, with
// backslash escapes; characters outside printable ASCII become '?'.
func sfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Limit returns the limit of the named policy, and whether the policy
// limits anything. Unknown names have the default's limit; "address" is
// RATE_LIMIT_ADDRESS's.
func (rl *RateLimiter) Limit(policy string) (RateLimit, bool) {
	p := rl.policy(policy)
	if policy == addressRateLimitPolicy && rl != nil {
		p = rl.address
	}
	if p != nil {
		return p.limit, true
	}
	return RateLimit{}, false
}

func (rl *RateLimiter) policy(name string) *rlPolicy {
	if rl == nil {
		return nil
	}
	p, ok := rl.policies[name]
	if !ok {
		p = rl.policies[DefaultRateLimitPolicy]
	}
	return p
}

// rlKey is whom a policy counts: a principal's subject, or a client address
// (IPv6 reduced to its /64) when id is "".
type rlKey struct {
	addr netip.Addr
	id   string
}

// String is the key as Redis and the logs name it.
func (k rlKey) String() string {
	if k.id != "" {
		return "sub:" + k.id
	}
	return "addr:" + k.addr.String()
}

// Address returns next behind the per-address limit (RATE_LIMIT_ADDRESS).
// Wrap the handler that authenticates: the limit then runs before any
// credential is checked. Without that limit it returns next.
func (rl *RateLimiter) Address(next http.Handler) http.Handler {
	if rl == nil || rl.address == nil {
		return next
	}
	p := rl.address
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == HealthPath {
			// Load balancers poll it often, from few addresses.
			next.ServeHTTP(w, r)
			return
		}
		k := rlKey{addr: rl.clientAddr(r)}
		d := rl.decide(r.Context(), p, k)
		if !d.ok {
			rl.refuse(w, r, p, k, d)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Operation returns next behind the named policy's limit (the default's
// when the name has no policy of its own): per principal when the request
// authenticated, else per client address. Wrap the handler the guard
// protects, so the principal is known. Without a limit it returns next.
func (rl *RateLimiter) Operation(policy string, next http.Handler) http.Handler {
	p := rl.policy(policy)
	if p == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var k rlKey
		if pr, ok := PrincipalFrom(r.Context()); ok && pr.Subject != "" {
			k.id = pr.Subject
		} else {
			k.addr = rl.clientAddr(r)
		}
		d := rl.decide(r.Context(), p, k)
		if !d.ok {
			rl.refuse(w, r, p, k, d)
			return
		}
		h := w.Header()
		h[rateLimitPolicyHeader] = p.header[:1:1]
		h[rateLimitHeader] = p.field(d.remaining, d.reset)
		next.ServeHTTP(w, r)
	})
}

// rateLimitValue writes the RateLimit field: the requests left and the
// seconds until the allowance is whole again.
func rateLimitValue(p *rlPolicy, remaining, resetSeconds int) string {
	var buf [96]byte
	b := append(buf[:0], p.header[0][:strings.IndexByte(p.header[0], ';')]...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(resetSeconds), 10)
	return string(b)
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// clientAddr is the client address as Config.ClientAddr finds it, reduced
// to what is counted (IPv6 per /64, IPv4-mapped as IPv4), without
// allocating when no proxy is trusted.
func (rl *RateLimiter) clientAddr(r *http.Request) netip.Addr {
	var a netip.Addr
	if len(rl.cfg.TrustedProxies) == 0 {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			a = ap.Addr()
		} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			a, _ = netip.ParseAddr(host)
		} else {
			a, _ = netip.ParseAddr(r.RemoteAddr)
		}
	} else {
		a, _ = netip.ParseAddr(rl.cfg.ClientAddr(r))
	}
	// Not an address (a test's RemoteAddr, a unix socket): all such
	// requests share the zero address's budget.
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a
}

// rlDecision is the answer to one request.
type rlDecision struct {
	ok        bool
	remaining int           // requests left now
	reset     time.Duration // until the allowance is whole again
	retry     time.Duration // when refused: until one more is let through
}

// decide counts one request of k under p: in Redis when shared and
// answering, else here.
func (rl *RateLimiter) decide(ctx context.Context, p *rlPolicy, k rlKey) rlDecision {
	now := rl.now()
	if rl.shared != nil && rl.shared.usable() {
		d, err := rl.shared.decide(ctx, p, k, now)
		if err == nil {
			rl.shared.answered()
			return d
		}
		rl.shared.failed(err)
	}
	return p.table.allow(k, now.UnixNano())
}

// refuse answers 429 and logs it, once a window per caller and policy.
func (rl *RateLimiter) refuse(w http.ResponseWriter, r *http.Request, p *rlPolicy, k rlKey, d rlDecision) {
	retry := max(ceilSeconds(d.retry), 1)
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(retry))
	h[rateLimitPolicyHeader] = p.header[:1:1]
	h[rateLimitHeader] = p.field(0, d.reset)
	WriteError(w, http.StatusTooManyRequests, "rate_limited",
		"too many requests; retry after "+strconv.Itoa(retry)+" seconds")
	caller := k.String()
	if ok, unlogged, _ := rl.logged.allow(p.name + "\x00" + caller); ok {
		attrs := []slog.Attr{
			slog.String("policy", p.name),
			slog.String("limit", p.limit.String()),
			slog.String("caller", caller),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("request_id", r.Header.Get(RequestIDHeader)),
		}
		if unlogged > 0 {
			attrs = append(attrs, slog.Int("refused_unlogged", unlogged))
		}
		rl.log.LogAttrs(r.Context(), slog.LevelWarn, "rate limit exceeded", attrs...)
	}
}

// rlShards spreads a table's callers over locks, and rlOverflow is how many
// overflow budgets each shard has (see gcraTable).
const (
	rlShards   = 16
	rlOverflow = 64
)

// gcraTable keeps a GCRA "theoretical arrival time" (TAT, Unix nanoseconds)
// per caller: a request is let through when, after adding its interval, the
// TAT does not run more than capacity ahead of now. A caller whose TAT is
// past holds its whole allowance, exactly as one never seen.
//
// The table is bounded (maxKeys callers), and forgetting a caller must not
// give it a fresh allowance: an attacker rotating more keys than the table
// holds would otherwise get a new burst for each key each time it is
// forgotten. So:
//
//   - only callers whose allowance is whole again are forgotten (they lose
//     nothing), when a full shard needs room;
//   - while a shard is full of callers under way, a new caller is counted
//     in one of the shard's overflow budgets, chosen by its hash: the
//     callers sharing it share one allowance, stricter than each its own,
//     never looser;
//   - a new caller, counted in the table or in an overflow budget, starts
//     from its overflow budget's TAT, not from nothing: a caller counted
//     there before, then admitted to the table, keeps its debt.
//
// Hence the invariant: every caller's TAT here (its entry's, or for one not
// in the table its overflow budget's) is at least the TAT its own requests
// let through would give it alone, and no caller gets more through than
// its limit allows.
//
// The price falls on new callers during such a flood, callers in the table
// keep their own budgets. After it, entries run out within capacity (no
// TAT is ever more than capacity ahead), and overflow budgets are spent
// for at most capacity more: new callers have budgets of their own again
// within twice the capacity, as long as they then arrive at fewer than
// maxKeys per capacity.
type gcraTable struct {
	interval int64
	capacity int64
	maxKeys  int // per shard
	seed     maphash.Seed
	shards   [rlShards]gcraShard
}

type gcraShard struct {
	mu       sync.Mutex
	tat      map[rlKey]int64
	overflow [rlOverflow]int64 // the overflow budgets' TATs
	// sweepAt is when a sweep of the full shard can next free enough room
	// (see makeRoom); tats is the sweep's scratch space.
	sweepAt int64
	tats    []int64
}

func newGCRATable(l RateLimit, maxKeys int) *gcraTable {
	t := &gcraTable{
		interval: int64(l.interval()),
		capacity: int64(l.capacity()),
		maxKeys:  max(maxKeys/rlShards, 1),
		seed:     maphash.MakeSeed(),
	}
	for i := range t.shards {
		t.shards[i].tat = make(map[rlKey]int64)
	}
	return t
}

// hash spreads keys over shards (its low bits) and overflow budgets (its
// high bits); the seed is random, so nobody can aim at another's.
func (t *gcraTable) hash(k rlKey) uint64 {
	if k.id != "" {
		return maphash.String(t.seed, k.id)
	}
	a := k.addr.As16()
	return maphash.Bytes(t.seed, a[:])
}

// allow counts one request of k at now (Unix nanoseconds).
func (t *gcraTable) allow(k rlKey, now int64) rlDecision {
	h := t.hash(k)
	s := &t.shards[h%rlShards]
	s.mu.Lock()
	tat, found := s.tat[k]
	var over *int64
	if !found {
		over = &s.overflow[(h>>32)%rlOverflow]
		tat = *over
	}
	tat = max(tat, now)
	next := tat + t.interval
	if next-now > t.capacity {
		s.mu.Unlock()
		return rlDecision{reset: time.Duration(tat - now), retry: time.Duration(next - t.capacity - now)}
	}
	if found || len(s.tat) < t.maxKeys || s.makeRoom(now, t.maxKeys) {
		s.tat[k] = next
	} else {
		*over = next
	}
	s.mu.Unlock()
	return rlDecision{ok: true, remaining: int((t.capacity - (next - now)) / t.interval), reset: time.Duration(next - now)}
}

// makeRoom forgets the callers of a full shard whose allowance is whole
// again, and reports whether that made room. A sweep visits every entry,
// so it must not run on each new caller while the shard is full of callers
// under way: when a sweep frees less than a tenth of the shard, the next
// waits until enough entries will have run out (the time the tenth-earliest
// remaining TAT passes), and between two sweeps new callers go to the
// overflow budgets. Each sweep is then paid for by a tenth of the shard in
// new callers admitted or in requests that kept entries under way. The
// caller holds s.mu.
func (s *gcraShard) makeRoom(now int64, maxKeys int) bool {
	if now < s.sweepAt {
		return false
	}
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	if short := len(s.tat) - (maxKeys - max(maxKeys/10, 1)); short > 0 {
		s.tats = s.tats[:0]
		for _, tat := range s.tat {
			s.tats = append(s.tats, tat)
		}
		slices.Sort(s.tats)
		s.sweepAt = s.tats[short-1]
	}
	return len(s.tat) < maxKeys
}

// len returns how many callers t tracks.
func (t *gcraTable) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// The defaults of RATE_LIMIT and RATE_LIMIT_ADDRESS: none. A limit that
// suits one deployment throttles another: behind a load balancer not listed
// in TRUSTED_PROXIES every client has the balancer's address, so a
// per-address default would cap the whole service, and a batch client or a
// load test would meet 429s nobody asked for. Limits are set where the
// deployment is known: these variables, gatehouse.yaml's rate_limits and the
// spec's x-gatehouse-rate-limit (the README suggests values for a server
// facing the internet directly).
const (
	DefaultRateLimit        = "none"
	DefaultRateLimitAddress = "none"
)

// rateLimitConfigVars describes RATE_LIMIT and RATE_LIMIT_ADDRESS for a
// template's .env.example: users says whether its servers have users (and
// so passwords and a token endpoint, counted per client address), shared
// whether REDIS_URL shares the counts between instances.
func rateLimitConfigVars(users, shared bool) []ConfigVar {
	caller, floods := "the client address for anonymous requests", "wrong API keys"
	if users {
		caller, floods = caller+" and the token endpoint", "wrong passwords"
	}
	counts := "With REDIS_URL, instances share the counts."
	if !shared {
		counts = "Each instance counts on its own: spread over N instances, a caller gets up to N times the limit."
	}
	return []ConfigVar{
		{"RATE_LIMIT", DefaultRateLimit,
			"Requests each caller may make, per policy: COUNT/PERIOD with an optional burst (600/1m, 10/s burst 50), or none. " +
				"A caller is the authenticated subject, or " + caller + ". " +
				"It is the default of every operation; gatehouse.yaml's rate_limits (and x-gatehouse-rate-limit in the spec) give operations and tags their own, " +
				"and gatehouse.yaml's default replaces this one unless the variable is set. " + counts + " " +
				"Refused requests get 429 with Retry-After and the RateLimit and RateLimit-Policy fields."},
		{"RATE_LIMIT_ADDRESS", DefaultRateLimitAddress,
			"Requests each client address (IPv6 per /64) may make over the whole server, checked before any credential is, " +
				"so that floods of " + floods + " or forged tokens cost nothing: COUNT/PERIOD [burst N], or none. " +
				"Behind a reverse proxy, list it in TRUSTED_PROXIES, or every client shares the proxy's allowance."},
	}
}
