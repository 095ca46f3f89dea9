package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// ThrottleConfig configures the protection of accounts against guessing.
// Zero fields take the defaults shown.
type ThrottleConfig struct {
	// AccountAddressLimit is how many failures one account may have from
	// one client address before further attempts on it from there are
	// refused, until Window has passed since the last failure (default 5).
	// It applies to every address, including those the account is known
	// at. IPv6 addresses are counted per /64, the block one subscriber
	// usually holds.
	AccountAddressLimit int
	// AddressLimit is how many failures one address may have over all
	// accounts before its attempts are refused the same way (default 20):
	// it stops one address from trying a password on many accounts. It
	// does not apply to an account at an address where it is known.
	AddressLimit int
	// Window is how long failures are remembered per address and per
	// (account, address) (default 15 minutes).
	Window time.Duration
	// AccountSlowAfter is how many failures an account may have from
	// addresses it is not known at before further attempts from such
	// addresses are spaced out (default 10). An account is never refused
	// outright: from an unknown address it is slowed down, from a known one
	// not at all.
	AccountSlowAfter int
	// AccountDelay is the spacing after the first failure beyond
	// AccountSlowAfter; each further failure doubles it, up to
	// AccountMaxDelay (defaults 1 second and 10 minutes).
	AccountDelay    time.Duration
	AccountMaxDelay time.Duration
	// AccountWindow is how long an account's failures are remembered
	// (default 24 hours), so that pausing does not soon buy an attacker a
	// fresh allowance.
	AccountWindow time.Duration
	// KnownFor is how long an address stays known for an account after a
	// successful login from it (default 30 days). The latest 16 addresses
	// of each account are remembered.
	KnownFor time.Duration
	// MaxEntries caps how many keys each table tracks at once (default
	// 100000). When one is full, expired entries are dropped first, then
	// those with the fewest failures and oldest.
	MaxEntries int
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// maxKnownPerAccount bounds the addresses remembered for one account, so
// that an attacker logging in to an account of their own from many
// addresses cannot push other accounts' addresses out of the table.
const maxKnownPerAccount = 16

// pendingRetry is the Retry-After of an attempt refused because others,
// still being checked, fill the allowance: they end within a hash or two.
const pendingRetry = time.Second

// Throttle protects accounts and the server against guessing, shared by the
// password grant, HTTP Basic, OAuth client secrets and API keys, without
// handing attackers a switch to lock owners out:
//
//   - An (account, address) pair is refused after AccountAddressLimit
//     failures: the hard limit on guessing from one place.
//   - An address is refused after AddressLimit failures over all accounts
//     (password spraying), except for accounts known at that address.
//   - An account's failures from addresses it is not known at slow further
//     attempts from such addresses down exponentially, up to
//     AccountMaxDelay between attempts; they never refuse the account
//     outright.
//   - An address becomes known for an account when a login from it
//     succeeds (OWASP's device cookie idea, keyed by address because API
//     clients rarely keep cookies). There only the pair's own limit
//     applies, so the owner gets in while attackers elsewhere are slowed.
//
// Reserve holds a place in every count an attempt is subject to before the
// secret is hashed, so concurrent attempts cannot exceed a limit; the
// Attempt it returns ends as a failure, a success or not at all. Refused
// attempts are not counted. A Throttle is safe for concurrent use. It
// lives in memory, where several server instances each keep their own
// counts and a restart forgets them, unless it shares them (REDIS_URL; see
// shareThrottle): then every instance counts the same failures, and while
// Redis does not answer each counts in memory again (see sharedCounts).
type Throttle struct {
	cfg       ThrottleConfig
	mu        sync.Mutex
	pairs     throttleTable // by store.PairKey: hard limit
	addresses throttleTable // by addressKey: hard limit
	accounts  throttleTable // by account: slows down
	known     knownTable
	shared    *sharedCounts // nil: this process only
}

// NewThrottle returns a Throttle with cfg, defaults filled in.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	setDefault(&cfg.AccountAddressLimit, 5)
	setDefault(&cfg.AddressLimit, 20)
	setDefault(&cfg.Window, 15*time.Minute)
	setDefault(&cfg.AccountSlowAfter, 10)
	setDefault(&cfg.AccountDelay, time.Second)
	setDefault(&cfg.AccountMaxDelay, 10*time.Minute)
	setDefault(&cfg.AccountWindow, 24*time.Hour)
	setDefault(&cfg.KnownFor, 30*24*time.Hour)
	setDefault(&cfg.MaxEntries, 100_000)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	table := func(limit int, window time.Duration) throttleTable {
		return throttleTable{limit: limit, window: window, maxEntries: cfg.MaxEntries, entries: make(map[string]*throttleEntry)}
	}
	return &Throttle{
		cfg:       cfg,
		pairs:     table(cfg.AccountAddressLimit, cfg.Window),
		addresses: table(cfg.AddressLimit, cfg.Window),
		accounts:  table(cfg.AccountSlowAfter, cfg.AccountWindow),
		known:     knownTable{max: cfg.MaxEntries, accounts: make(map[string][]knownAddr)},
	}
}

// limits are the rules of the shared counts.
func (c *ThrottleConfig) limits() store.ThrottleLimits {
	return store.ThrottleLimits{
		AccountAddressLimit: c.AccountAddressLimit,
		AddressLimit:        c.AddressLimit,
		Window:              c.Window,
		AccountSlowAfter:    c.AccountSlowAfter,
		AccountDelay:        c.AccountDelay,
		AccountMaxDelay:     c.AccountMaxDelay,
		AccountWindow:       c.AccountWindow,
		KnownFor:            c.KnownFor,
		MaxKnown:            maxKnownPerAccount,
		PendingRetry:        pendingRetry,
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Attempt is an authentication attempt that Reserve let through. It holds
// a place in the counts until it ends with Fail, Succeed or Cancel; only
// the first of these calls counts.
type Attempt struct {
	t       *Throttle
	account string
	addr    string          // addressKey of the client address
	known   bool            // the account is known at addr
	id      string          // of its reservation in the shared counts; "" if held in memory
	ctx     context.Context // of the request, which bounds the shared counts' calls
	ended   bool
}

// Reserve reports whether an attempt for account from addr may proceed
// and, if it may, reserves its place in the counts. When it may not,
// retryAfter is how long until it may, rounded up to a whole second (for a
// Retry-After header). An empty account (API keys, malformed names) is
// counted against the address only; an empty addr is not counted on its
// own.
func (t *Throttle) Reserve(account, addr string) (a *Attempt, retryAfter time.Duration, ok bool) {
	return t.ReserveContext(context.Background(), account, addr)
}

// shared is a as the shared counts know it.
func (a *Attempt) shared() store.ThrottleAttempt {
	return store.ThrottleAttempt{ID: a.id, Account: a.account, Addr: a.addr, Known: a.known}
}

// ReserveContext is Reserve for a request whose context is ctx: the calls
// to the shared counts end when it does (and after their own time-out at
// most), and the attempt is then counted in memory.
func (t *Throttle) ReserveContext(ctx context.Context, account, addr string) (a *Attempt, retryAfter time.Duration, ok bool) {
	now := t.cfg.Now()
	a = &Attempt{t: t, ctx: ctx, account: account, addr: addressKey(addr)}
	var wait time.Duration
	if t.shared != nil && t.shared.usable() {
		a.id = rand.Text()
		wait, allowed, known, err := t.shared.counts.ReserveAttempt(ctx, t.cfg.limits(), a.shared(), now)
		if err == nil {
			t.shared.answered()
			a.known = known
			return reserved(a, wait, allowed)
		}
		if ctx.Err() == nil { // else the request ended, which says nothing of Redis
			t.shared.failed(err)
		}
		a.id, a.known = "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a.known = t.known.has(account, a.addr, now, t.cfg.KnownFor)
	wait = t.pairs.hardWait(store.PairKey(account, a.addr), now)
	if !a.known {
		wait = max(wait, t.addresses.hardWait(a.addr, now), t.accountWait(account, now))
	}
	if wait > 0 {
		return reserved(nil, wait, false)
	}
	t.hold(a, now)
	return a, 0, true
}

// reserved is Reserve's answer: a when ok, else the wait rounded up to a
// whole second, so that a client waiting exactly Retry-After seconds is
// let in.
func reserved(a *Attempt, wait time.Duration, ok bool) (*Attempt, time.Duration, bool) {
	if ok {
		return a, 0, true
	}
	if r := wait % time.Second; r != 0 {
		wait += time.Second - r
	}
	return nil, wait, false
}

// hold reserves a's places in the tables in memory. The caller holds t.mu.
func (t *Throttle) hold(a *Attempt, now time.Time) {
	t.pairs.reserve(store.PairKey(a.account, a.addr), now)
	if !a.known {
		t.addresses.reserve(a.addr, now)
		t.accounts.reserve(a.account, now)
		// The account's spacing runs from its latest attempt, so that
		// attempts arriving together are spaced out too.
		if e := t.accounts.entries[a.account]; e != nil {
			e.last = now
		}
	}
}

// accountWait is how long an attempt from an address where account is not
// known must wait: nothing within the account's first AccountSlowAfter
// failures (and attempts in progress), then AccountDelay after the latest
// attempt, doubling with each failure beyond.
func (t *Throttle) accountWait(account string, now time.Time) time.Duration {
	e := t.accounts.entry(account, now)
	if e == nil {
		return 0
	}
	beyond := e.failures + e.pending - t.cfg.AccountSlowAfter + 1
	if beyond <= 0 {
		return 0
	}
	d := t.cfg.AccountDelay
	for i := 1; i < beyond && d < t.cfg.AccountMaxDelay; i++ {
		d *= 2
	}
	return e.last.Add(min(d, t.cfg.AccountMaxDelay)).Sub(now)
}

// Fail ends the attempt as a failed one: it counts against every limit it
// was reserved under.
func (a *Attempt) Fail() {
	a.end(store.OutcomeFail, func(t *Throttle, now time.Time) { t.fail(a, now) })
}

// Succeed ends the attempt as a success: the (account, address) pair's
// failures are forgotten and the address becomes known for the account.
// The account's and the address's failures are kept, so that the owner
// logging in does not hand attackers a fresh allowance, and an attacker
// cannot clear an address's count with an account of their own.
func (a *Attempt) Succeed() {
	a.end(store.OutcomeSucceed, func(t *Throttle, now time.Time) {
		t.release(a)
		t.pairs.clear(store.PairKey(a.account, a.addr))
		t.known.remember(a.account, a.addr, now, t.cfg.KnownFor)
	})
}

// Cancel ends the attempt without counting it: it was not decided (the
// store or the request failed). It does nothing after Fail or Succeed, so
// it may be deferred.
func (a *Attempt) Cancel() {
	a.end(store.OutcomeCancel, func(t *Throttle, _ time.Time) { t.release(a) })
}

// end ends the attempt once: in the shared counts if it was reserved
// there, else by local in the tables in memory. A failure the shared
// counts could not record is counted in memory instead, so that it is not
// lost to this instance at least.
func (a *Attempt) end(outcome string, local func(t *Throttle, now time.Time)) {
	if a == nil || a.ended {
		return
	}
	a.ended = true
	t, now := a.t, a.t.cfg.Now()
	if a.id != "" {
		// A decided outcome is recorded even if the client has gone
		// (bounded by the counts' own time-out): hanging up must not spare a
		// failure its count. A cancel has nothing to record: its
		// reservation lapses by itself if the call does not finish.
		ctx := a.ctx
		if outcome != store.OutcomeCancel {
			ctx = context.WithoutCancel(ctx)
		}
		err := t.shared.counts.EndAttempt(ctx, t.cfg.limits(), a.shared(), outcome, now)
		if err == nil {
			t.shared.answered()
			return
		}
		if ctx.Err() == nil {
			t.shared.failed(err)
		}
		if outcome != store.OutcomeFail {
			return // its reservation lapses in Redis by itself
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.hold(a, now)
		t.fail(a, now)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	local(t, now)
}

// release gives back the places a reserved.
func (t *Throttle) release(a *Attempt) {
	t.pairs.release(store.PairKey(a.account, a.addr))
	if !a.known {
		t.addresses.release(a.addr)
		t.accounts.release(a.account)
	}
}

func (t *Throttle) fail(a *Attempt, now time.Time) {
	t.pairs.fail(store.PairKey(a.account, a.addr), now)
	if !a.known {
		t.addresses.fail(a.addr, now)
		t.accounts.fail(a.account, now)
	}
}

type throttleEntry struct {
	failures int
	pending  int       // reserved attempts not yet ended
	last     time.Time // of the last failure (accounts: or attempt)
}

// throttleTable counts failures and attempts in progress per key, each for
// window after its last failure.
type throttleTable struct {
	limit      int
	window     time.Duration
	maxEntries int
	entries    map[string]*throttleEntry
}

// entry returns the live entry of key, dropping it if it expired.
func (tt *throttleTable) entry(key string, now time.Time) *throttleEntry {
	if key == "" {
		return nil
	}
	e := tt.entries[key]
	if e != nil && e.pending == 0 && !now.Before(e.last.Add(tt.window)) {
		delete(tt.entries, key)
		return nil
	}
	return e
}

// hardWait returns how long key stays refused, 0 if it is not: until its
// failures expire when they reached the limit, briefly when attempts in
// progress fill what is left.
func (tt *throttleTable) hardWait(key string, now time.Time) time.Duration {
	e := tt.entry(key, now)
	switch {
	case e == nil:
		return 0
	case e.failures >= tt.limit:
		return e.last.Add(tt.window).Sub(now)
	case e.failures+e.pending >= tt.limit:
		return pendingRetry
	}
	return 0
}

func (tt *throttleTable) reserve(key string, now time.Time) {
	if key == "" {
		return
	}
	e := tt.entry(key, now)
	if e == nil {
		if len(tt.entries) >= tt.maxEntries {
			tt.makeRoom(now)
		}
		e = &throttleEntry{last: now}
		tt.entries[key] = e
	}
	e.pending++
}

// release gives back a reservation of key. An entry left with nothing to
// count is dropped: it would refuse or slow nothing.
func (tt *throttleTable) release(key string) {
	e := tt.entries[key]
	if e == nil {
		return
	}
	if e.pending > 0 {
		e.pending--
	}
	if e.pending == 0 && e.failures == 0 {
		delete(tt.entries, key)
	}
}

// clear forgets the failures of key.
func (tt *throttleTable) clear(key string) {
	if e := tt.entries[key]; e != nil {
		e.failures = 0
		if e.pending == 0 {
			delete(tt.entries, key)
		}
	}
}

// fail ends a reservation of key as a failure.
func (tt *throttleTable) fail(key string, now time.Time) {
	if key == "" {
		return
	}
	e := tt.entries[key]
	switch {
	case e == nil:
		// Evicted while the attempt was in progress.
		if len(tt.entries) >= tt.maxEntries {
			tt.makeRoom(now)
		}
		e = &throttleEntry{}
		tt.entries[key] = e
	case !now.Before(e.last.Add(tt.window)):
		e.failures = 0 // the earlier ones expired meanwhile
	}
	if e.pending > 0 {
		e.pending--
	}
	e.failures++
	e.last = now
}

// makeRoom drops expired entries and, if that is not enough, a tenth of the
// table: entries with the fewest failures and attempts first, then the
// oldest. Refused entries go last, so flooding the table with fresh keys
// does not easily free a key under attack. Evicting a batch keeps the cost
// amortised.
func (tt *throttleTable) makeRoom(now time.Time) {
	for k := range tt.entries {
		tt.entry(k, now)
	}
	if len(tt.entries) < tt.maxEntries {
		return
	}
	type kv struct {
		key string
		e   *throttleEntry
	}
	all := make([]kv, 0, len(tt.entries))
	for k, e := range tt.entries {
		all = append(all, kv{k, e})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if c := cmp.Compare(a.e.failures+a.e.pending, b.e.failures+b.e.pending); c != 0 {
			return c
		}
		return a.e.last.Compare(b.e.last)
	})
	for _, x := range all[:len(all)-tt.maxEntries+max(tt.maxEntries/10, 1)] {
		delete(tt.entries, x.key)
	}
}

// knownTable remembers, per account, the addresses (address keys) it
// logged in from successfully, most recent last.
type knownTable struct {
	max      int // accounts
	accounts map[string][]knownAddr
}

type knownAddr struct {
	addr string
	at   time.Time // of the latest success
}

func (kt *knownTable) has(account, addr string, now time.Time, knownFor time.Duration) bool {
	if account == "" || addr == "" {
		return false
	}
	for _, k := range kt.accounts[account] {
		if k.addr == addr {
			return now.Before(k.at.Add(knownFor))
		}
	}
	return false
}

func (kt *knownTable) remember(account, addr string, now time.Time, knownFor time.Duration) {
	if account == "" || addr == "" {
		return
	}
	list, ok := kt.accounts[account]
	if !ok && len(kt.accounts) >= kt.max {
		kt.makeRoom(now, knownFor)
	}
	list = slices.DeleteFunc(list, func(k knownAddr) bool { return k.addr == addr })
	if len(list) >= maxKnownPerAccount {
		list = slices.Delete(list, 0, len(list)-maxKnownPerAccount+1)
	}
	kt.accounts[account] = append(list, knownAddr{addr: addr, at: now})
}

// makeRoom drops accounts whose latest success is too old to count, then, if
// that is not enough, the tenth of them with the oldest latest success.
func (kt *knownTable) makeRoom(now time.Time, knownFor time.Duration) {
	latest := func(list []knownAddr) time.Time { return list[len(list)-1].at }
	for account, list := range kt.accounts {
		if !now.Before(latest(list).Add(knownFor)) {
			delete(kt.accounts, account)
		}
	}
	if len(kt.accounts) < kt.max {
		return
	}
	names := make([]string, 0, len(kt.accounts))
	for account := range kt.accounts {
		names = append(names, account)
	}
	slices.SortFunc(names, func(a, b string) int {
		return latest(kt.accounts[a]).Compare(latest(kt.accounts[b]))
	})
	for _, account := range names[:len(names)-kt.max+max(kt.max/10, 1)] {
		delete(kt.accounts, account)
	}
}

// addressKey is the throttling key of a client address: IPv6 addresses are
// reduced to their /64 prefix, IPv4-mapped IPv6 to IPv4; anything that is
// not an IP address is used as it is.
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
