package auth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

func mustRateLimit(t testing.TB, s string) RateLimit {
	t.Helper()
	l, err := ParseRateLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseRateLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want RateLimit
		str  string
	}{
		{"none", RateLimit{}, "none"},
		{" NONE ", RateLimit{}, "none"},
		{"600/1m", RateLimit{Count: 600, Period: time.Minute}, "600/1m"},
		{"10/s burst 50", RateLimit{Count: 10, Period: time.Second, Burst: 50}, "10/1s burst 50"},
		{"100/1h BURST 5", RateLimit{Count: 100, Period: time.Hour, Burst: 5}, "100/1h burst 5"},
		{"5/90s", RateLimit{Count: 5, Period: 90 * time.Second}, "5/1m30s"},
	} {
		got, err := ParseRateLimit(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRateLimit(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("%q: String() = %q, want %q", c.in, got.String(), c.str)
		}
		if back, err := ParseRateLimit(got.String()); err != nil || back.String() != got.String() || (!got.None() && back.capacity() != got.capacity()) {
			t.Errorf("%q: String() %q does not parse back to the same limit: %+v, %v", c.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "10", "10/", "x/1m", "0/1m", "-1/1m", "10/0s", "10/500ms", "10/25h",
		"2000000/1s", "10/1m burst", "10/1m burst 0", "10/1m bursts 5", "10/1m burst x", "10 / 1m", "10/1m burst 5 more"} {
		if _, err := ParseRateLimit(in); err == nil {
			t.Errorf("ParseRateLimit(%q) accepted it", in)
		} else if !strings.Contains(err.Error(), "600/1m") {
			t.Errorf("ParseRateLimit(%q): %v, want an error that shows the syntax", in, err)
		}
	}
}

func TestConfigRateLimits(t *testing.T) {
	c, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret})
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != mustRateLimit(t, DefaultRateLimit) || c.RateLimitAddress != mustRateLimit(t, DefaultRateLimitAddress) || c.RateLimitSet {
		t.Errorf("defaults: %+v %+v set=%v", c.RateLimit, c.RateLimitAddress, c.RateLimitSet)
	}
	c, err = cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "RATE_LIMIT": "none", "RATE_LIMIT_ADDRESS": "10/s burst 20"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.RateLimit.None() || !c.RateLimitSet || c.RateLimitAddress != (RateLimit{Count: 10, Period: time.Second, Burst: 20}) {
		t.Errorf("set: %+v %+v set=%v", c.RateLimit, c.RateLimitAddress, c.RateLimitSet)
	}
	_, err = cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "RATE_LIMIT": "lots", "RATE_LIMIT_ADDRESS": "5/1ms"})
	for _, want := range []string{`RATE_LIMIT: "lots" has no /PERIOD`, `RATE_LIMIT_ADDRESS: "5/1ms" has a period`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one with %q", err, want)
		}
	}
}

// rlRequest is a request from addr, authenticated as subject when it is
// not "".
func rlRequest(addr, subject string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.RemoteAddr = addr
	if subject != "" {
		r = r.WithContext(WithPrincipal(r.Context(), NewPrincipal(subject)))
	}
	return r
}

func newTestRateLimiter(t testing.TB, cfg Config, limits RateLimits, clock func() time.Time, log *slog.Logger) *RateLimiter {
	t.Helper()
	rl, err := NewRateLimiter(cfg, limits, log, clock)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

var rlOK = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

// rlBenchLimit is a limit benchmarks never reach (a billion a second, a
// second's burst), so that they measure requests let through, not
// refusals. ParseRateLimit refuses it: the interval, a nanosecond, is
// under the microsecond Redis counts in.
var rlBenchLimit = RateLimit{Count: 1_000_000_000, Period: time.Second}

// A burst, then steady traffic at and above the rate: exactly the
// configured counts get through, and Retry-After says when the next one
// may.
func TestRateLimitBurstThenSteady(t *testing.T) {
	clock := newStepClock()
	rl := newTestRateLimiter(t, Config{RateLimit: mustRateLimit(t, "10/1s burst 5")}, RateLimits{}, clock.Now, nil)
	h := rl.Operation(DefaultRateLimitPolicy, rlOK)
	call := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, rlRequest("192.0.2.1:1234", "alice"))
		return w
	}
	for i := range 5 {
		if w := call(); w.Code != 200 {
			t.Fatalf("burst request %d: %d", i+1, w.Code)
		}
	}
	w := call()
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("request beyond the burst: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	// Twice the rate for 10 s: one request in two gets through, 100 in all.
	passed := 0
	for range 200 {
		clock.Advance(50 * time.Millisecond)
		if call().Code == 200 {
			passed++
		}
	}
	if passed != 100 {
		t.Errorf("at twice the rate for 10s: %d passed, want 100", passed)
	}
	// A pause refills the burst, never more.
	clock.Advance(time.Hour)
	passed = 0
	for range 20 {
		if call().Code == 200 {
			passed++
		}
	}
	if passed != 5 {
		t.Errorf("after a pause: %d passed at once, want the burst, 5", passed)
	}
}

// Principals have a budget each; anonymous callers one per address, IPv6
// per /64; policies count apart.
func TestRateLimitKeys(t *testing.T) {
	clock := newStepClock()
	rl := newTestRateLimiter(t, Config{RateLimit: mustRateLimit(t, "2/1m")},
		RateLimits{Policies: map[string]string{"upload": "1/1m"}}, clock.Now, nil)
	def := rl.Operation(DefaultRateLimitPolicy, rlOK)
	upload := rl.Operation("upload", rlOK)
	status := func(h http.Handler, addr, subject string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, rlRequest(addr, subject))
		return w.Code
	}
	for range 2 {
		if c := status(def, "192.0.2.1:1", "alice"); c != 200 {
			t.Fatalf("alice: %d", c)
		}
	}
	if c := status(def, "192.0.2.9:1", "alice"); c != 429 {
		t.Errorf("alice from another address, third request: %d, want 429 (counted per principal)", c)
	}
	if c := status(def, "192.0.2.1:1", "bob"); c != 200 {
		t.Errorf("bob from alice's address: %d, want 200 (principals do not share)", c)
	}
	if c := status(def, "192.0.2.1:1", ""); c != 200 {
		t.Errorf("anonymous from alice's address: %d, want 200", c)
	}
	if c := status(upload, "192.0.2.1:1", "alice"); c != 200 {
		t.Errorf("alice on another policy: %d, want 200", c)
	}
	if c := status(upload, "192.0.2.1:1", "alice"); c != 429 {
		t.Errorf("alice's second upload: %d, want 429 (1/1m)", c)
	}
	// Anonymous: by address, IPv6 by /64, IPv4-mapped as IPv4.
	status(def, "[2001:db8:1:2::1]:1", "")
	status(def, "[2001:db8:1:2:ffff::9]:1", "")
	if c := status(def, "[2001:db8:1:2::77]:1", ""); c != 429 {
		t.Errorf("third request from one /64: %d, want 429", c)
	}
	if c := status(def, "[2001:db8:1:3::1]:1", ""); c != 200 {
		t.Errorf("the next /64: %d, want 200", c)
	}
	status(def, "198.51.100.7:1", "")
	status(def, "[::ffff:198.51.100.7]:1", "")
	if c := status(def, "198.51.100.7:2", ""); c != 429 {
		t.Errorf("IPv4 and IPv4-mapped counted apart: %d, want 429", c)
	}
}

// Behind a trusted proxy the client is the one X-Forwarded-For names.
func TestRateLimitTrustedProxy(t *testing.T) {
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	rl := newTestRateLimiter(t, Config{RateLimitAddress: mustRateLimit(t, "1/1m"), TrustedProxies: []netip.Prefix{proxy}},
		RateLimits{}, newStepClock().Now, nil)
	h := rl.Address(rlOK)
	status := func(client string) int {
		r := rlRequest("10.1.2.3:5555", "")
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if status("203.0.113.1") != 200 || status("203.0.113.2") != 200 {
		t.Error("two clients behind one proxy share a budget")
	}
	if status("203.0.113.1") != 429 {
		t.Error("a client's second request behind the proxy was not limited")
	}
}

// The answers: RateLimit-Policy and RateLimit on every limited answer, and
// on the 429 Retry-After and a JSON error; the fields exposed to scripts
// through CORS.
func TestRateLimitHeaders(t *testing.T) {
	f := epSetupOn(t, memory.New(), func(c *Config) {
		c.RateLimit = mustRateLimit(t, "3/1m")
		c.CORSAllowedOrigins = []string{"https://app.example.com"}
	})
	f.addUser("alice")
	tr := f.login("alice", "")
	// The token endpoint has a policy of its own: the login above used one
	// of its 3, the operations none.
	wantFields := func(w *httptest.ResponseRecorder, policy string, r, tSec int) {
		t.Helper()
		if got, want := w.Header().Get("RateLimit-Policy"), fmt.Sprintf("%q;q=3;w=60", policy); got != want {
			t.Errorf("RateLimit-Policy %q, want %q", got, want)
		}
		if got, want := w.Header().Get("RateLimit"), fmt.Sprintf("%q;r=%d;t=%d", policy, r, tSec); got != want {
			t.Errorf("RateLimit %q, want %q", got, want)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /limited", f.svc.Guard().Protect(Policy{{{Scheme: "bearerAuth"}}},
		f.svc.RateLimiter().Operation(DefaultRateLimitPolicy, rlOK)))
	h := f.svc.Handler(mux)
	call := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/limited", nil)
		r.Header.Set("Authorization", "Bearer "+tr.AccessToken)
		r.Header.Set("Origin", "https://app.example.com")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := call()
	if w.Code != 200 {
		t.Fatalf("first call: %d %s", w.Code, w.Body)
	}
	wantFields(w, "default", 2, 20)
	exposed := strings.ToLower(w.Header().Get("Access-Control-Expose-Headers"))
	for _, name := range []string{"ratelimit", "ratelimit-policy", "retry-after"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %q does not expose %s", exposed, name)
		}
	}
	call()
	call()
	w = call()
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth call: %d", w.Code)
	}
	wantFields(w, "default", 0, 60)
	if got := w.Header().Get("Retry-After"); got != "20" {
		t.Errorf("Retry-After %q, want 20", got)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var body struct{ Error, ErrorDescription string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "rate_limited" {
		t.Errorf("body %s: %v", w.Body, err)
	}
	if !strings.Contains(strings.ToLower(w.Header().Get("Access-Control-Expose-Headers")), "ratelimit") {
		t.Error("the 429 does not expose the RateLimit fields")
	}
	// The token endpoint counts by address, apart from the operations.
	for range 2 {
		f.token("grant_type", "password", "username", "alice", "password", "wrong")
	}
	if w := f.token("grant_type", "password", "username", "alice", "password", epPassword); w.Code != 429 {
		t.Errorf("fourth request to the token endpoint from one address: %d, want 429", w.Code)
	}
}

// rlCountingHasher counts Verify calls: password hashes computed.
type rlCountingHasher struct {
	PasswordHasher
	n atomic.Int64
}

func (c *rlCountingHasher) Verify(password, encoded string) (bool, error) {
	c.n.Add(1)
	return c.PasswordHasher.Verify(password, encoded)
}

// A flood of wrong Basic passwords and forged tokens from one address is
// cut by the per-address limit before any password is hashed or token
// checked: beyond the allowance, every answer is 429, not 401, and the
// hasher is not called.
func TestRateLimitAddressCutsFloodsBeforeAuthentication(t *testing.T) {
	f := epSetupOn(t, memory.New(), func(c *Config) {
		c.RateLimitAddress = mustRateLimit(t, "3/1m")
	})
	hasher := &rlCountingHasher{PasswordHasher: f.svc.accounts.hasher}
	f.svc.accounts.hasher = hasher
	f.addUser("alice")
	statuses := map[int]int{}
	for i := range 50 {
		// A new name each time, so the failed-login throttle's per-account
		// limits do not stop the hashing first.
		w := f.serve(http.MethodGet, "/me", "", "", "Authorization", basicAuth(fmt.Sprintf("user%d", i), "wrong password"))
		statuses[w.Code]++
	}
	if hasher.n.Load() > 3 || statuses[http.StatusTooManyRequests] != 47 {
		t.Errorf("50 wrong Basic passwords: %d hashes, statuses %v; want at most 3 hashes and 47 answers 429", hasher.n.Load(), statuses)
	}
	f.clock.Advance(time.Hour)
	statuses = map[int]int{}
	for range 50 {
		w := f.serve(http.MethodGet, "/me", "", "", "Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged")
		statuses[w.Code]++
	}
	if statuses[http.StatusUnauthorized] != 3 || statuses[http.StatusTooManyRequests] != 47 {
		t.Errorf("50 forged tokens: statuses %v; want 3 checked (401) and 47 refused before (429)", statuses)
	}
	// Preflight requests and /health are not counted.
	for range 5 {
		r := httptest.NewRequest(http.MethodOptions, "/me", nil)
		r.Header.Set("Origin", "https://app.example.com")
		r.Header.Set("Access-Control-Request-Method", "GET")
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code == http.StatusTooManyRequests {
			t.Fatal("a CORS preflight request was rate limited")
		}
		if w := f.serve(http.MethodGet, HealthPath, "", ""); w.Code == http.StatusTooManyRequests {
			t.Fatal("/health was rate limited")
		}
	}
	// One line in the log for the 94 refusals, not one each.
	if n := strings.Count(f.log.String(), "rate limit exceeded"); n != 1 {
		t.Errorf("%d log lines for the refusals, want 1", n)
	}
}

// Tests' services limit nothing unless a test asks: the generated security
// tests are unaffected.
func TestRateLimitOffInTestServices(t *testing.T) {
	svc, err := NewTestService(Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.RateLimiter() != nil {
		t.Error("a test service limits request rates")
	}
}

// An attacker rotating addresses cannot grow the tables without bound: a
// million distinct addresses, half arriving faster than entries run out
// (the table fills with callers under way, and new ones share the overflow
// budgets, soon spent), half slower (entries run out and are forgotten),
// leave at most the configured number of keys, and the heap grows by a few
// megabytes. Two capacities (2 minutes) after the flood, every new caller
// is let through again.
func TestRateLimitMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million requests; not in -short")
	}
	const maxKeys = 50_000
	clock := newStepClock()
	rl := newTestRateLimiter(t, Config{RateLimitAddress: mustRateLimit(t, "10/1m"), rateLimitKeys: maxKeys},
		RateLimits{}, clock.Now, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := rl.address
	var a [16]byte
	a[0] = 0x20
	passed, passedLast := 0, 0 // passedLast: the last 400,000
	for i := range 1_000_000 {
		// 10 µs apart for the first half (500,000 callers in 5 s, each
		// under way for 6 s), then 2 ms (1,000 s; at most 30,000 under
		// way, each for at most the capacity, a minute).
		if i < 500_000 {
			clock.Advance(10 * time.Microsecond)
		} else {
			clock.Advance(2 * time.Millisecond)
		}
		a[4], a[5], a[6], a[7] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		if p.table.allow(rlKey{addr: netip.AddrFrom16(a)}, clock.Now().UnixNano()).ok {
			passed++
			if i >= 600_000 {
				passedLast++
			}
		}
		if i%100_000 == 0 {
			if n := p.table.len(); n > maxKeys {
				t.Fatalf("%d keys after %d addresses, want at most %d", n, i+1, maxKeys)
			}
		}
	}
	if n := p.table.len(); n > maxKeys {
		t.Errorf("%d keys after a million addresses, want at most %d", n, maxKeys)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MiB for %d keys; %d of 1,000,000 first requests let through", float64(grown)/(1<<20), p.table.len(), passed)
	if grown > 32<<20 {
		t.Errorf("heap grew by %d MiB, want under 32", grown>>20)
	}
	if passed == 1_000_000 {
		t.Error("every first request was let through: no new caller shared an overflow budget")
	}
	if passedLast != 400_000 {
		t.Errorf("%d of the last 400,000 callers let through, from 200 s after the flood; want all", passedLast)
	}
	runtime.KeepAlive(rl)
}

// Forgetting a caller never gives it a fresh allowance. Many more callers
// than the table holds (an attacker rotating keys) call faster than their
// limit, for an hour of the limiter's clock, with a table of 32: every
// request let through would also have been let through had each caller
// been counted alone without forgetting (a GCRA per caller over the
// requests let through), so no caller gets more than its burst plus its
// rate; and the table never holds more than 32 callers.
func TestRateLimitEvictionGrantsNoFreshBurst(t *testing.T) {
	for _, c := range []struct {
		name    string
		limit   string
		callers int           // called in turn, one request each a round
		step    time.Duration // between two requests
	}{
		// A round of 5 s: callers stay under way, the table is full of
		// them and new callers share overflow budgets.
		{"busy", "2/1m burst 3", 200, 25 * time.Millisecond},
		// A round of 15 s, 10 s intervals: entries run out and are
		// forgotten between two requests of a caller, some stay under way.
		{"churn", "6/1m burst 2", 100, 150 * time.Millisecond},
		// Principals as keys, a round of a minute.
		{"principals", "10/1h burst 10", 300, 200 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := mustRateLimit(t, c.limit)
			const maxKeys = 32
			table := newGCRATable(l, maxKeys)
			interval, capacity := int64(l.interval()), int64(l.capacity())
			key := func(i int) rlKey {
				if c.name == "principals" {
					return rlKey{id: fmt.Sprintf("user%d", i)}
				}
				return rlKey{addr: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})}
			}
			alone := make([]int64, c.callers) // each caller's own TAT
			passed := make([]int, c.callers)
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
			end := now + int64(time.Hour)
			for round := 0; now < end; round++ {
				for i := range c.callers {
					now += int64(c.step)
					if !table.allow(key(i), now).ok {
						continue
					}
					passed[i]++
					tat := max(alone[i], now)
					if tat+interval-now > capacity {
						t.Fatalf("round %d: caller %d let through beyond its own limit (%d so far)", round, i, passed[i])
					}
					alone[i] = tat + interval
				}
				if n := table.len(); n > maxKeys {
					t.Fatalf("round %d: the table holds %d callers, want at most %d", round, n, maxKeys)
				}
			}
			total, most := 0, 0
			for _, n := range passed {
				total += n
				most = max(most, n)
			}
			bound := l.burst() + int(time.Hour/l.interval()) + 1
			t.Logf("%d callers: %d requests let through, at most %d for one (its own limit allows %d)", c.callers, total, most, bound)
			if most > bound {
				t.Errorf("a caller got %d requests through in an hour, its limit allows %d", most, bound)
			}
			if total == 0 {
				t.Error("nothing was let through")
			}
		})
	}
}

// A request let through allocates nothing: the per-address limit, and the
// per-operation limit with its RateLimit fields, for a principal and for an
// anonymous caller. The clock moves one interval a request, the steady
// state of a caller at its rate.
func TestRateLimitAllocs(t *testing.T) {
	clock := newStepClock()
	l := mustRateLimit(t, "1200/1m burst 300")
	rl := newTestRateLimiter(t, Config{RateLimit: l, RateLimitAddress: l}, RateLimits{}, clock.Now, nil)
	w := httptest.NewRecorder()
	for _, c := range []struct {
		name string
		h    http.Handler
		r    *http.Request
	}{
		{"the per-address limit", rl.Address(rlOK), rlRequest("192.0.2.1:1234", "")},
		{"a principal's limit", rl.Operation(DefaultRateLimitPolicy, rlOK), rlRequest("192.0.2.1:1234", "alice")},
		{"an anonymous caller's limit", rl.Operation(DefaultRateLimitPolicy, rlOK), rlRequest("[2001:db8::1]:1234", "")},
	} {
		n := testing.AllocsPerRun(1000, func() {
			clock.Advance(l.interval())
			c.h.ServeHTTP(w, c.r)
		})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", c.name, w.Code)
		}
		if n != 0 {
			t.Errorf("%s allocates %v times a request, want 0", c.name, n)
		}
	}
	if got := w.Header().Get("RateLimit"); got != `"default";r=299;t=1` {
		t.Errorf("RateLimit %q", got)
	}
}

// The RateLimit field values are cached per policy under t + burst - r:
// every value an answer can carry (each reset from nothing to the whole
// capacity, with r = (capacity - reset) / interval; a refusal's reset is
// over capacity - interval, so r = 0) is written right, the second time
// without allocating, and pairs off that line (as from Redis) are written
// right too.
func TestRateLimitFieldCache(t *testing.T) {
	for _, limit := range []string{"1200/1m burst 300", "10/1s", "1/1h burst 3", "7/13s burst 5", "1000000/1s"} {
		p := newRLPolicy("default", mustRateLimit(t, limit), 16)
		interval, capacity := p.limit.interval(), p.limit.capacity()
		step := max(capacity/20_000, time.Microsecond)
		every := func(f func(r int, reset time.Duration)) {
			for reset := time.Duration(0); reset <= capacity; reset += step {
				f(int((capacity-reset)/interval), reset)
			}
		}
		every(func(r int, reset time.Duration) {
			want := fmt.Sprintf(`"default";r=%d;t=%d`, r, ceilSeconds(reset))
			if got := p.field(r, reset); len(got) != 1 || got[0] != want {
				t.Fatalf("%s: field(%d, %v) = %q, want %q", limit, r, reset, got, want)
			}
		})
		cached := p.limit.burst()+ceilSeconds(capacity) < maxRLFields
		if n := testing.AllocsPerRun(1, func() { every(func(r int, reset time.Duration) { p.field(r, reset) }) }); cached && n != 0 {
			t.Errorf("%s: the cached values allocate (%v)", limit, n)
		}
		for _, r := range []int{0, 1, p.limit.burst() + 5} {
			if got, want := p.field(r, 3*time.Second), fmt.Sprintf(`"default";r=%d;t=3`, r); got[0] != want {
				t.Errorf("%s: a pair off the line: %q, want %q", limit, got, want)
			}
		}
	}
}
