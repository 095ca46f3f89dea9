package auth

import (
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Logging on the request path. At INFO a request costs one line, the
// access log, which says who it authenticated as. Successful
// authentications get their own line only at DEBUG. Failed ones are
// logged at most once per client address per window, with a count of
// those not logged, so a client sending forged credentials cannot make
// the server write a line for each.

// requestAuth is what the guard tells the access log about a request that
// authenticated.
type requestAuth struct {
	principal *Principal
	schemes   string // the requirement's scheme names, space-separated
}

// noteAuthenticated records on the access-log recorder, if w is or wraps
// one, who the request authenticated as. Unwrapping follows the same
// convention as http.ResponseController, so middleware between Harden and
// the guard does not hide the recorder.
func noteAuthenticated(w http.ResponseWriter, a requestAuth) {
	for {
		switch v := w.(type) {
		case *statusRecorder:
			v.auth = a
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return
		}
	}
}

const (
	// failureLogWindow is how often one client address may cause an
	// authentication-failure line.
	failureLogWindow = time.Minute
	// maxFailureAddrs bounds the addresses the failure log remembers.
	// Beyond it, the addresses it has no room for share one slot.
	maxFailureAddrs = 4096
)

// failureKey is the slot of a client address: the address itself, or for
// IPv6 its /64, which one client usually holds whole and could otherwise
// walk through to get a line per address.
func failureKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	p, _ := a.WithZone("").Prefix(64) // cannot fail: 64 bits of an IPv6 address
	return p.String()
}

// failureLimiter decides which authentication failures are logged.
type failureLimiter struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu        sync.Mutex
	addrs     map[string]failureSlot
	shared    failureSlot // for addresses there is no room for
	nextSweep time.Time
}

type failureSlot struct {
	until    time.Time // no line for this slot before then
	unlogged int       // failures not logged since the slot's last line
}

func newFailureLimiter(window time.Duration, max int, now func() time.Time) *failureLimiter {
	if now == nil {
		now = time.Now
	}
	return &failureLimiter{window: window, max: max, now: now, addrs: make(map[string]failureSlot)}
}

// allow reports whether a failure from addr is logged now. When it is,
// unlogged is the number of failures of the same slot that were not, and
// shared says the slot is the one of addresses there was no room for.
func (l *failureLimiter) allow(addr string) (ok bool, unlogged int, shared bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, known := l.addrs[addr]
	if !known && len(l.addrs) >= l.max {
		l.sweep(now)
		if len(l.addrs) >= l.max {
			ok, unlogged = l.shared.take(now, l.window)
			return ok, unlogged, true
		}
	}
	ok, unlogged = s.take(now, l.window)
	l.addrs[addr] = s
	return ok, unlogged, false
}

// take counts a failure in s and reports whether it is logged and, if so,
// how many before it were not.
func (s *failureSlot) take(now time.Time, window time.Duration) (logged bool, unlogged int) {
	if now.Before(s.until) {
		s.unlogged++
		return false, 0
	}
	unlogged = s.unlogged
	*s = failureSlot{until: now.Add(window)}
	return true, unlogged
}

// sweep forgets addresses whose window is over, at most once a second so
// that a flood of new addresses does not make every failure walk the map.
// Their unlogged failures move to the shared slot, so they are still
// counted.
func (l *failureLimiter) sweep(now time.Time) {
	if now.Before(l.nextSweep) {
		return
	}
	l.nextSweep = now.Add(time.Second)
	for addr, s := range l.addrs {
		if !now.Before(s.until) {
			l.shared.unlogged += s.unlogged
			delete(l.addrs, addr)
		}
	}
}
