package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// logEvents parses JSON log lines.
func logEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var events []map[string]any
	for line := range strings.Lines(strings.TrimSpace(out)) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		events = append(events, ev)
	}
	return events
}

// unwrapping is middleware between Harden and the guard that wraps the
// response writer the way http.ResponseController expects.
type unwrapping struct{ http.ResponseWriter }

func (w unwrapping) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// At INFO a request that authenticates costs one line, the access log,
// which says who it was; the success line exists only at DEBUG.
func TestAccessLogSaysWhoAuthenticated(t *testing.T) {
	f := gdSetup(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	f.guard.log = log
	protected := f.guard.Protect(Policy{gdReq("bearer"), gdReq("basic")}, gdEcho)
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protected.ServeHTTP(unwrapping{w}, r)
	})
	for _, h := range []http.Handler{protected, wrapped} {
		logs.Reset()
		srv := Harden(Config{}, HardenOptions{Logger: log}, h)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, gdRequest("GET", "/r", "Authorization", "Bearer "+f.alice))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		events := logEvents(t, logs.String())
		if len(events) != 1 {
			t.Fatalf("%d lines for one authenticated request at INFO, want the access log alone:\n%s", len(events), logs.String())
		}
		jti := mustClaims(t, f.tk, f.alice).ID
		if ev := events[0]; ev["msg"] != "request" || ev["subject"] != "alice" || ev["schemes"] != "bearer" || ev["token_id"] != jti {
			t.Errorf("access log %v, want subject, schemes and token id", ev)
		}
		if strings.Contains(logs.String(), f.alice) {
			t.Errorf("the access log holds the token:\n%s", logs.String())
		}
	}

	logs.Reset()
	srv := Harden(Config{}, HardenOptions{Logger: log}, protected)
	srv.ServeHTTP(httptest.NewRecorder(), gdRequest("GET", "/r"))
	events := logEvents(t, logs.String())
	if len(events) != 1 || events[0]["msg"] != "request" || events[0]["status"] != float64(401) || events[0]["subject"] != nil {
		t.Errorf("a request without credentials: want the access log alone, with its 401 and no subject:\n%s", logs.String())
	}
}

// A client sending forged credentials gets one failure line per window,
// whatever its rate; the next line counts those not logged.
func TestAuthFailuresLoggedOncePerWindowPerAddress(t *testing.T) {
	f := gdSetup(t)
	now := time.Unix(1_800_000_000, 0)
	f.guard.failures = newFailureLimiter(time.Minute, maxFailureAddrs, func() time.Time { return now })
	h := f.guard.Protect(Policy{gdReq("bearer")}, gdEcho)
	forged := func(addr string) {
		r := gdRequest("GET", "/r", "Authorization", "Bearer "+f.alice+"x")
		r.RemoteAddr = addr + ":4000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("forged token: status %d", w.Code)
		}
	}
	for range 50 {
		forged("198.51.100.7")
	}
	forged("203.0.113.9")
	events := logEvents(t, f.logs.String())
	if len(events) != 2 || events[0]["remote_addr"] != "198.51.100.7" || events[1]["remote_addr"] != "203.0.113.9" {
		t.Fatalf("51 failures from two addresses: want one line each:\n%s", f.logs.String())
	}
	if events[0]["unlogged"] != nil {
		t.Errorf("first line counts unlogged failures: %v", events[0])
	}

	f.logs.Reset()
	now = now.Add(time.Minute)
	forged("198.51.100.7")
	events = logEvents(t, f.logs.String())
	if len(events) != 1 || events[0]["unlogged"] != float64(49) || events[0]["msg"] != "authentication failed" {
		t.Errorf("after the window: want one line counting the 49 unlogged failures:\n%s", f.logs.String())
	}
}

// The limiter remembers a bounded number of addresses; the others share
// one slot, so a flood from many addresses still writes one line per
// window and holds no more memory.
func TestFailureLimiterMemoryIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newFailureLimiter(time.Minute, 8, func() time.Time { return now })
	logged := 0
	for i := range 1000 {
		if ok, _, _ := l.allow(fmt.Sprintf("2001:db8::%x", i)); ok {
			logged++
		}
	}
	if len(l.addrs) > 8 {
		t.Errorf("%d addresses remembered, want at most 8", len(l.addrs))
	}
	if logged != 9 {
		t.Errorf("%d lines for 1000 addresses, want 8 (own slots) + 1 (shared)", logged)
	}

	// A window later the old addresses are forgotten: a new one gets its
	// own slot, and the shared slot reports what it did not log.
	now = now.Add(time.Minute)
	if ok, _, shared := l.allow("2001:db8::ffff"); !ok || shared {
		t.Errorf("after the window a new address gets its own slot: logged %v, shared %v", ok, shared)
	}
	for i := range 7 {
		if ok, _, shared := l.allow(fmt.Sprintf("2001:db8:1::%x", i)); !ok || shared {
			t.Fatalf("address %d after the window: logged %v, shared %v", i, ok, shared)
		}
	}
	ok, unlogged, shared := l.allow("2001:db8:2::1")
	if !ok || !shared || unlogged != 991 {
		t.Errorf("shared slot: logged %v, shared %v, unlogged %d; want true, true, 991", ok, shared, unlogged)
	}
}

// An IPv6 client holds a /64: its addresses share one slot.
func TestFailureKeyGroupsIPv6Networks(t *testing.T) {
	for addr, want := range map[string]string{
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"198.51.100.7":         "198.51.100.7",
		"::ffff:198.51.100.7":  "::ffff:198.51.100.7",
		"not an address":       "not an address",
		"fe80::1%eth0":         "fe80::/64",
	} {
		if got := failureKey(addr); got != want {
			t.Errorf("failureKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
