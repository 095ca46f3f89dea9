package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// DefaultRevocationPoll is how often Run pulls the revocation feed when no
// interval is given: the longest a revocation made by another process (an
// admin command, another instance) takes to reach this one.
const DefaultRevocationPoll = time.Second

// DefaultRevocationMaxStaleness is how long the revocation state may go
// without a successful pull of the feed before access tokens are refused
// (REVOCATION_MAX_STALENESS).
const DefaultRevocationMaxStaleness = 30 * time.Second

// revocationSyncTimeout bounds one pull of the feed by Run, so that a store
// that hangs rather than fails does not stop the poll for good.
const revocationSyncTimeout = 5 * time.Second

// syncRetryFirst is how soon Run retries a failed pull the first time; it
// doubles for each further failure, up to the poll interval.
const syncRetryFirst = 50 * time.Millisecond

// pruneEvery bounds how often expired denylist entries are swept.
const pruneEvery = time.Minute

// Revocations is this process's copy of the store's revocation feed: the
// denied access tokens (by jti, until they expire), each user's "not
// before" time (sessions issued earlier are over) and each OAuth client's
// (tokens issued to it earlier are over). Tokens.Verify consults it on
// every request, so revocation costs no store round trip.
//
// Writes made by this process take effect at once through Deny and
// SetNotBefore (the caller still writes them to the store); writes made
// elsewhere arrive through Sync, which Run calls periodically and at once
// when Notify says there is news.
//
// The copy is only as good as its last successful Sync. When the feed
// cannot be read for longer than the staleness bound (SetMaxStaleness),
// Verify refuses every token it has no revocation on record for with
// ErrRevocationsStale (a 503) instead of accepting tokens that may have
// been revoked elsewhere; the first successful Sync ends that by itself.
// Each change of state (sync failing, stale, current again) is logged once.
//
// Revocations only ever tighten: a later event cannot un-deny a token or
// move a not-before time backwards. It is safe for concurrent use; reads
// take a shared lock only.
type Revocations struct {
	store  store.Store
	now    func() time.Time // token time: when denials expire
	logger atomic.Pointer[slog.Logger]

	// Staleness is measured on its own clock, the real one: tests move the
	// token clock (now) by hours to expire tokens, which must not make the
	// state look stale. fresh is the clock reading, as time since start,
	// at which the last successful pull began. stale is what every check
	// reads: reading the clock there would cost more than the rest of the
	// check, so it is set by a failed pull or by the watchdog timer Run
	// arms for the moment the state would go stale, and cleared by a
	// successful pull.
	clock    func() time.Time
	start    time.Time
	maxStale time.Duration
	fresh    atomic.Int64
	stale    atomic.Bool
	wake     chan struct{}

	healthMu sync.Mutex  // serialises changes of stale, failing and watchdog
	failing  bool        // the last pull failed (logged once)
	watchdog *time.Timer // armed while Run runs

	syncMu sync.Mutex // serialises Sync
	seq    int64      // last feed sequence applied; guarded by syncMu

	mu              sync.RWMutex
	denied          map[string]time.Time // jti → token expiry (zero: unknown, kept)
	notBefore       map[string]time.Time // subject → not-before time
	clientNotBefore map[string]time.Time // client id → not-before time
	pruned          time.Time
}

// NewRevocations returns an empty revocation set fed from store. Call Sync
// once before serving, then Run in the background. A nil store gives a set
// that only knows what Deny and SetNotBefore tell it (useful in tests), and
// is never stale.
func NewRevocations(store store.Store) *Revocations {
	r := &Revocations{
		store:           store,
		now:             time.Now,
		clock:           time.Now,
		maxStale:        DefaultRevocationMaxStaleness,
		wake:            make(chan struct{}, 1),
		denied:          map[string]time.Time{},
		notBefore:       map[string]time.Time{},
		clientNotBefore: map[string]time.Time{},
	}
	r.start = r.clock()
	return r
}

// SetLogger sets where changes of the feed's health are reported. Call it
// before Sync and Run; by default nothing is logged.
func (r *Revocations) SetLogger(l *slog.Logger) { r.logger.Store(l) }

// SetMaxStaleness sets how long the state may go without a successful Sync
// before tokens are refused (DefaultRevocationMaxStaleness if d ≤ 0). Call
// it before serving.
func (r *Revocations) SetMaxStaleness(d time.Duration) {
	if d <= 0 {
		d = DefaultRevocationMaxStaleness
	}
	r.maxStale = d
}

// Sync pulls the revocation events recorded since the last Sync and applies
// them. Whatever triggers it (Run's poll, Notify, a request that just
// revoked something), a success marks the state current as of the moment
// the pull began.
func (r *Revocations) Sync(ctx context.Context) error {
	if r.store == nil {
		r.prune(r.now(), false)
		return nil
	}
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	began := r.clock()
	events, err := r.store.RevocationsSince(ctx, r.seq)
	if err != nil {
		err = fmt.Errorf("auth: syncing revocations: %w", err)
		// A pull cut short by its caller going away says nothing about the
		// store; one that timed out does.
		if !errors.Is(ctx.Err(), context.Canceled) {
			r.syncFailed(err)
		}
		return err
	}
	now := r.now()
	r.mu.Lock()
	for _, ev := range events {
		if ev.Seq <= r.seq {
			continue // a store must not replay, but never apply twice
		}
		r.seq = ev.Seq
		switch {
		case ev.JTI != "":
			r.denyLocked(ev.JTI, ev.ExpiresAt, now)
		case ev.Subject != "":
			raiseNotBefore(r.notBefore, ev.Subject, ev.NotBefore)
		case ev.ClientID != "":
			raiseNotBefore(r.clientNotBefore, ev.ClientID, ev.NotBefore)
		}
	}
	r.mu.Unlock()
	r.prune(now, false)
	r.synced(began)
	return nil
}

// Run calls Sync every interval (DefaultRevocationPoll if every ≤ 0), and
// whenever Notify is called, until ctx is done. A failed sync is retried
// with backoff, at the latest at the next tick; tokens keep being checked
// against what is already known until the state is stale.
func (r *Revocations) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultRevocationPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	r.healthMu.Lock()
	r.watchdog = time.AfterFunc(r.maxStale-r.age(), r.watch)
	r.healthMu.Unlock()
	defer func() {
		r.healthMu.Lock()
		r.watchdog.Stop()
		r.watchdog = nil
		r.healthMu.Unlock()
	}()
	var retry time.Duration // after a failed pull; 0 after a successful one
	for {
		sctx, cancel := context.WithTimeout(ctx, revocationSyncTimeout)
		err := r.Sync(sctx) // a failure is reported by Sync
		cancel()
		// A failed pull is retried before the next tick, sooner at first:
		// the pull a notification asked for may have met a connection the
		// outage left dead in the pool, and the news must not wait a poll
		// interval for that.
		var retryAfter <-chan time.Time
		if err != nil {
			retry = min(max(2*retry, syncRetryFirst), every)
			retryAfter = time.After(retry)
		} else {
			retry = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		case <-retryAfter:
		}
	}
}

// Notify asks Run to pull the feed now rather than at its next tick. A push
// path (PostgreSQL LISTEN/NOTIFY, Redis pub/sub) calls it when another
// process records a revocation; the store's feed stays the one source of
// events and polling the fallback, and staleness is measured the same way
// whichever triggered the pull. It never blocks.
func (r *Revocations) Notify() {
	select {
	case r.wake <- struct{}{}:
	default: // a pull is already due
	}
}

// Staleness reports how long ago the state was last known to be current
// (the start of the last successful Sync) and whether it is stale: tokens
// are then refused. A store-less set is never stale.
func (r *Revocations) Staleness() (age time.Duration, stale bool) {
	if r.store == nil {
		return 0, false
	}
	return r.age(), r.stale.Load()
}

// MaxStaleness returns the staleness bound.
func (r *Revocations) MaxStaleness() time.Duration { return r.maxStale }

func (r *Revocations) age() time.Duration {
	return r.clock().Sub(r.start) - time.Duration(r.fresh.Load())
}

// isStale reports whether tokens must be refused for want of a current
// state: one atomic load.
func (r *Revocations) isStale() bool { return r.stale.Load() }

// synced records a successful pull that began at began: the state is
// current again, and the watchdog is set for when it would go stale.
func (r *Revocations) synced(began time.Time) {
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	r.fresh.Store(int64(began.Sub(r.start)))
	wasStale := r.stale.Swap(false)
	wasFailing := r.failing
	r.failing = false
	switch {
	case wasStale:
		r.log(slog.LevelWarn, "revocation state is current again: access tokens are accepted")
	case wasFailing:
		r.log(slog.LevelInfo, "revocation sync recovered")
	}
	if r.watchdog != nil {
		r.watchdog.Reset(r.maxStale - r.age())
	}
}

// syncFailed reports the first of a run of failed pulls, and the state
// going stale if it has.
func (r *Revocations) syncFailed(err error) {
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	if !r.failing {
		r.failing = true
		r.log(slog.LevelWarn, "revocation sync failed; retrying, and refusing access tokens if it fails for longer than the staleness bound",
			slog.String("error", err.Error()), slog.Duration("max_staleness", r.maxStale))
	}
	r.checkStaleLocked()
}

// watch is the watchdog: it runs when the state would go stale, even if
// every pull hangs, and marks it so unless a pull succeeded meanwhile.
func (r *Revocations) watch() {
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	if r.watchdog == nil {
		return // Run has ended
	}
	if !r.checkStaleLocked() {
		r.watchdog.Reset(r.maxStale - r.age() + time.Millisecond)
	}
}

// checkStaleLocked marks the state stale if it is older than the bound,
// logging the change, and reports whether it is stale. The caller holds
// healthMu.
func (r *Revocations) checkStaleLocked() bool {
	age := r.age()
	if age <= r.maxStale {
		return r.stale.Load()
	}
	if !r.stale.Swap(true) {
		r.log(slog.LevelError, "revocation state is stale: access tokens are refused (503) until the revocation feed can be read again",
			slog.Duration("age", age), slog.Duration("max_staleness", r.maxStale))
	}
	return true
}

func (r *Revocations) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if l := r.logger.Load(); l != nil {
		l.LogAttrs(context.Background(), level, msg, attrs...)
	}
}

// Deny makes access tokens invalid in this process at once. Entries are
// dropped once the token has expired (plus the largest clock leeway); an
// entry without an expiry is kept.
func (r *Revocations) Deny(tokens ...store.DeniedToken) {
	now := r.now()
	r.mu.Lock()
	for _, t := range tokens {
		if t.JTI != "" {
			r.denyLocked(t.JTI, t.ExpiresAt, now)
		}
	}
	r.mu.Unlock()
}

// SetNotBefore ends, in this process at once, every session of subject
// issued before t. An earlier t than the one already known has no effect.
func (r *Revocations) SetNotBefore(subject string, t time.Time) {
	if subject == "" {
		return
	}
	r.mu.Lock()
	raiseNotBefore(r.notBefore, subject, t)
	r.mu.Unlock()
}

// Denied reports whether the access token with this jti was revoked.
func (r *Revocations) Denied(jti string) bool {
	r.mu.RLock()
	_, denied := r.denied[jti]
	r.mu.RUnlock()
	return denied
}

// NotBefore returns the time before which subject's sessions are over, or
// the zero time.
func (r *Revocations) NotBefore(subject string) time.Time {
	r.mu.RLock()
	t := r.notBefore[subject]
	r.mu.RUnlock()
	return t
}

// ClientNotBefore returns the time before which the tokens issued to the
// OAuth client clientID are over, or the zero time.
func (r *Revocations) ClientNotBefore(clientID string) time.Time {
	r.mu.RLock()
	t := r.clientNotBefore[clientID]
	r.mu.RUnlock()
	return t
}

// check returns why a token with these claims is refused, or "" if it is
// not, under a single read lock: revoked (its jti, its subject's or its
// client's not-before time), or unknown because the state is stale. A
// token is compared with not-before times rounded up to a whole second,
// the precision of its iat.
func (r *Revocations) check(c *AccessClaims) rejection {
	r.mu.RLock()
	_, denied := r.denied[c.ID]
	nb, hasNB := r.notBefore[c.Subject]
	var cnb time.Time
	hasCNB := false
	if c.ClientID != "" {
		cnb, hasCNB = r.clientNotBefore[c.ClientID]
	}
	r.mu.RUnlock()
	switch {
	case denied:
		return rejectDenied
	case hasNB && c.IssuedAt.Before(notBeforeSecond(nb)):
		return rejectNotBefore
	case hasCNB && c.IssuedAt.Before(notBeforeSecond(cnb)):
		return rejectClient
	case r.isStale():
		return rejectStale
	}
	return ""
}

func (r *Revocations) denyLocked(jti string, exp, now time.Time) {
	if store.ExpiredForGood(exp, now) {
		return // Verify refuses the token anyway
	}
	if old, ok := r.denied[jti]; ok && (old.IsZero() || old.After(exp)) {
		return
	}
	r.denied[jti] = exp
}

// raiseNotBefore sets m[key] to t unless it already holds a later time.
// The caller holds r.mu.
func raiseNotBefore(m map[string]time.Time, key string, t time.Time) {
	if t.IsZero() {
		return
	}
	if old, ok := m[key]; ok && !t.After(old) {
		return
	}
	m[key] = t
}

// prune drops denylist entries whose token has expired, at most once per
// pruneEvery unless force is set.
func (r *Revocations) prune(now time.Time, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && now.Sub(r.pruned) < pruneEvery {
		return
	}
	r.pruned = now
	for jti, exp := range r.denied {
		if store.ExpiredForGood(exp, now) {
			delete(r.denied, jti)
		}
	}
}
