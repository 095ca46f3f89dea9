package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// stepClock is a settable clock for tests.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStepClock() *stepClock {
	return &stepClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// throttleBehaviours are the rules a Throttle keeps whether it counts in
// memory or in Redis (throttle_redis_gen_test.go runs them there).
var throttleBehaviours = []struct {
	name string
	test func(t *testing.T, newThrottle func(ThrottleConfig) *Throttle)
}{
	{"RefusesAccountFromOneAddressAfterLimit", testThrottleRefusesAccountFromOneAddressAfterLimit},
	{"ForgetsOldFailures", testThrottleForgetsOldFailures},
	{"LimitsAddressAcrossAccounts", testThrottleLimitsAddressAcrossAccounts},
	{"GroupsIPv6By64AndUnmapsIPv4", testThrottleGroupsIPv6By64AndUnmapsIPv4},
	{"SlowsAccountWideGuessingButNotTheKnownAddress", testThrottleSlowsAccountWideGuessingButNotTheKnownAddress},
	{"KnownAddressSkipsTheAddressLimitButNotItsOwn", testThrottleKnownAddressSkipsTheAddressLimitButNotItsOwn},
	{"SucceedClearsOnlyThePair", testThrottleSucceedClearsOnlyThePair},
	{"ReservesBeforeTheOutcome", testThrottleReservesBeforeTheOutcome},
}

func TestThrottle(t *testing.T) {
	for _, b := range throttleBehaviours {
		t.Run(b.name, func(t *testing.T) { b.test(t, NewThrottle) })
	}
}

// wantReserved reserves an attempt and fails the test if it is refused.
func wantReserved(t *testing.T, th *Throttle, account, addr string) *Attempt {
	t.Helper()
	a, wait, ok := th.Reserve(account, addr)
	if !ok {
		t.Fatalf("Reserve(%q, %q) refused, retry after %v", account, addr, wait)
	}
	return a
}

// failOnce is one failed attempt, which must be let through.
func failOnce(t *testing.T, th *Throttle, account, addr string) {
	t.Helper()
	wantReserved(t, th, account, addr).Fail()
}

func wantThrottleRefuses(t *testing.T, th *Throttle, account, addr string, retry time.Duration) {
	t.Helper()
	a, wait, ok := th.Reserve(account, addr)
	if ok {
		a.Cancel()
		t.Fatalf("Reserve(%q, %q) allowed, want refused", account, addr)
	}
	if wait != retry {
		t.Errorf("Reserve(%q, %q) retry after %v, want %v", account, addr, wait, retry)
	}
}

func testThrottleRefusesAccountFromOneAddressAfterLimit(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now})
	for range 5 {
		failOnce(t, th, "alice", "10.0.0.1")
		clock.Advance(time.Second)
	}
	// Refused from there, 15 minutes after the last failure...
	wantThrottleRefuses(t, th, "alice", "10.0.0.1", 15*time.Minute-time.Second)
	// ...but not from elsewhere, and not for other accounts.
	wantReserved(t, th, "alice", "10.0.0.2").Cancel()
	wantReserved(t, th, "bob", "10.0.0.1").Cancel()
	// Refused attempts do not extend the refusal.
	for range 100 {
		_, _, _ = th.Reserve("alice", "10.0.0.1")
	}
	clock.Advance(10*time.Minute + 500*time.Millisecond)
	wantThrottleRefuses(t, th, "alice", "10.0.0.1", 4*time.Minute+59*time.Second) // 4m58.5s rounded up
	clock.Advance(5 * time.Minute)
	// The count started again from zero.
	failOnce(t, th, "alice", "10.0.0.1")
	wantReserved(t, th, "alice", "10.0.0.1").Cancel()
}

func testThrottleForgetsOldFailures(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now, AccountAddressLimit: 3, Window: time.Minute})
	failOnce(t, th, "alice", "192.0.2.1")
	failOnce(t, th, "alice", "192.0.2.1")
	clock.Advance(time.Minute)
	failOnce(t, th, "alice", "192.0.2.1")
	failOnce(t, th, "alice", "192.0.2.1")
	wantReserved(t, th, "alice", "192.0.2.1").Cancel() // 2 recent, the 2 before the window gone
	failOnce(t, th, "alice", "192.0.2.1")
	wantThrottleRefuses(t, th, "alice", "192.0.2.1", time.Minute)
}

func testThrottleLimitsAddressAcrossAccounts(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now})
	for i := range 20 {
		failOnce(t, th, fmt.Sprint("user", i), "198.51.100.7")
	}
	wantThrottleRefuses(t, th, "fresh", "198.51.100.7", 15*time.Minute)
	wantThrottleRefuses(t, th, "", "198.51.100.7", 15*time.Minute) // API keys: address only
	wantReserved(t, th, "fresh", "198.51.100.8").Cancel()
}

func testThrottleGroupsIPv6By64AndUnmapsIPv4(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now, AddressLimit: 2})
	failOnce(t, th, "", "2001:db8:1:2::1")
	failOnce(t, th, "", "2001:db8:1:2:ffff::9")
	wantThrottleRefuses(t, th, "", "2001:db8:1:2::abcd", 15*time.Minute)
	wantThrottleRefuses(t, th, "", "2001:db8:1:2::1%eth0", 15*time.Minute)
	wantReserved(t, th, "", "2001:db8:1:3::1").Cancel()

	failOnce(t, th, "", "203.0.113.5")
	failOnce(t, th, "", "::ffff:203.0.113.5")
	wantThrottleRefuses(t, th, "", "203.0.113.5", 15*time.Minute)
	wantReserved(t, th, "", "203.0.113.6").Cancel()
}

// The account-wide limit slows guesses from addresses the account is not
// known at, with a doubling delay, and never refuses the account at an
// address where it logged in before.
func testThrottleSlowsAccountWideGuessingButNotTheKnownAddress(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now, AccountSlowAfter: 3, AccountDelay: time.Second, AccountMaxDelay: 8 * time.Second})
	wantReserved(t, th, "alice", "192.0.2.10").Succeed() // the owner's address

	addr := 0
	next := func() string { addr++; return fmt.Sprint("198.51.100.", addr) }
	for range 3 {
		failOnce(t, th, "alice", next())
	}
	// Beyond the free allowance, each attempt waits for the previous one's
	// delay, which doubles up to the maximum.
	for _, delay := range []time.Duration{1, 2, 4, 8, 8, 8} {
		delay *= time.Second
		wantThrottleRefuses(t, th, "alice", next(), delay)
		clock.Advance(delay - time.Millisecond)
		wantThrottleRefuses(t, th, "alice", next(), time.Second) // 1 ms, rounded up
		// The owner is not slowed at all.
		wantReserved(t, th, "alice", "192.0.2.10").Succeed()
		clock.Advance(time.Millisecond)
		failOnce(t, th, "alice", next())
	}
	// An IPv6 address of the same /64 counts as the owner's; another /64
	// does not.
	th2 := newThrottle(ThrottleConfig{Now: clock.Now, AccountSlowAfter: 1})
	wantReserved(t, th2, "bob", "2001:db8:1:2::1").Succeed()
	failOnce(t, th2, "bob", "2001:db8:9:9::1")
	wantReserved(t, th2, "bob", "2001:db8:1:2::ffff").Cancel()
	wantThrottleRefuses(t, th2, "bob", "2001:db8:9:8::1", time.Second)
}

func testThrottleKnownAddressSkipsTheAddressLimitButNotItsOwn(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now, AddressLimit: 3, AccountAddressLimit: 2})
	wantReserved(t, th, "alice", "192.0.2.1").Succeed()
	// Someone behind the same address sprays other accounts.
	for i := range 3 {
		failOnce(t, th, fmt.Sprint("user", i), "192.0.2.1")
	}
	wantThrottleRefuses(t, th, "bob", "192.0.2.1", 15*time.Minute)
	// alice still gets in from there...
	wantReserved(t, th, "alice", "192.0.2.1").Succeed()
	// ...but guesses on alice from there stay bounded.
	failOnce(t, th, "alice", "192.0.2.1")
	failOnce(t, th, "alice", "192.0.2.1")
	wantThrottleRefuses(t, th, "alice", "192.0.2.1", 15*time.Minute)
	// A known address is forgotten after KnownFor.
	clock.Advance(30*24*time.Hour + time.Second)
	failOnce(t, th, "user0", "192.0.2.1")
	failOnce(t, th, "user1", "192.0.2.1")
	failOnce(t, th, "user2", "192.0.2.1")
	wantThrottleRefuses(t, th, "alice", "192.0.2.1", 15*time.Minute)
}

func testThrottleSucceedClearsOnlyThePair(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now, AccountAddressLimit: 2, AddressLimit: 3, AccountSlowAfter: 2})
	// An attacker's failures from one address are not cleared by a login
	// to an account of their own there.
	failOnce(t, th, "bob", "192.0.2.66")
	failOnce(t, th, "carol", "192.0.2.66")
	wantReserved(t, th, "mallory", "192.0.2.66").Succeed()
	failOnce(t, th, "dave", "192.0.2.66")
	wantThrottleRefuses(t, th, "erin", "192.0.2.66", 15*time.Minute)

	// The owner's own failures from an address are cleared by logging in
	// there...
	failOnce(t, th, "alice", "203.0.113.9")
	wantReserved(t, th, "alice", "203.0.113.9").Succeed()
	failOnce(t, th, "alice", "203.0.113.9")
	wantReserved(t, th, "alice", "203.0.113.9").Cancel() // one failure since the success
	// ...but the account's failures from elsewhere are not: the owner
	// logging in gives no attacker a fresh allowance.
	failOnce(t, th, "alice", "203.0.113.1")
	wantReserved(t, th, "alice", "203.0.113.9").Succeed()
	wantThrottleRefuses(t, th, "alice", "203.0.113.3", time.Second)
}

// Reserve holds a place until the attempt ends, so attempts in progress
// cannot together exceed a limit; Cancel gives it back without counting.
func testThrottleReservesBeforeTheOutcome(t *testing.T, newThrottle func(ThrottleConfig) *Throttle) {
	clock := newStepClock()
	th := newThrottle(ThrottleConfig{Now: clock.Now, AccountAddressLimit: 3, AccountSlowAfter: 5})
	var inFlight []*Attempt
	for range 3 {
		inFlight = append(inFlight, wantReserved(t, th, "alice", "192.0.2.1"))
	}
	wantThrottleRefuses(t, th, "alice", "192.0.2.1", pendingRetry)
	inFlight[0].Cancel()
	inFlight[0].Fail() // after Cancel: no effect
	inFlight = append(inFlight[1:], wantReserved(t, th, "alice", "192.0.2.1"))
	for _, a := range inFlight {
		a.Fail()
		a.Fail() // counted once
	}
	wantThrottleRefuses(t, th, "alice", "192.0.2.1", 15*time.Minute)

	// The same for the account-wide allowance from many addresses.
	for i := range 5 {
		inFlight = append(inFlight, wantReserved(t, th, "bob", fmt.Sprint("10.0.0.", i)))
	}
	wantThrottleRefuses(t, th, "bob", "10.0.1.1", time.Second)
	// And for the address limit.
	th2 := newThrottle(ThrottleConfig{Now: clock.Now, AddressLimit: 2})
	wantReserved(t, th2, "", "192.0.2.9")
	wantReserved(t, th2, "", "192.0.2.9")
	wantThrottleRefuses(t, th2, "", "192.0.2.9", pendingRetry)
}

func TestThrottleIgnoresEmptyKeys(t *testing.T) {
	th := NewThrottle(ThrottleConfig{AccountAddressLimit: 1, AddressLimit: 1, AccountSlowAfter: 1})
	failOnce(t, th, "", "")
	failOnce(t, th, "", "")
	wantReserved(t, th, "", "").Cancel()
	if n := len(th.pairs.entries) + len(th.accounts.entries) + len(th.addresses.entries); n != 0 {
		t.Errorf("empty keys created %d entries", n)
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	clock := newStepClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now, AccountAddressLimit: 2, MaxEntries: 100})
	// An account under attack is refused from the attacker's address...
	failOnce(t, th, "victim", "203.0.113.66")
	failOnce(t, th, "victim", "203.0.113.66")
	// ...and then the attacker floods the tables with fresh names and
	// addresses, some of them logging in.
	for i := range 10000 {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		a := wantReserved(t, th, fmt.Sprint("flood", i), addr)
		if i%2 == 0 {
			a.Succeed()
		} else {
			a.Fail()
		}
		clock.Advance(time.Millisecond)
	}
	for name, n := range map[string]int{
		"pair": len(th.pairs.entries), "address": len(th.addresses.entries),
		"account": len(th.accounts.entries), "known account": len(th.known.accounts),
	} {
		if n > 100 {
			t.Errorf("%d %s entries, cap is 100", n, name)
		}
	}
	if a, _, ok := th.Reserve("victim", "203.0.113.66"); ok {
		a.Cancel()
		t.Error("flooding the table freed an account under attack")
	}
}

func TestThrottleRemembersFewAddressesPerAccount(t *testing.T) {
	clock := newStepClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now, AccountSlowAfter: 1})
	for i := range maxKnownPerAccount + 5 {
		wantReserved(t, th, "alice", fmt.Sprint("10.0.0.", i)).Succeed()
		clock.Advance(time.Second)
	}
	if n := len(th.known.accounts["alice"]); n != maxKnownPerAccount {
		t.Errorf("%d known addresses, want the latest %d", n, maxKnownPerAccount)
	}
	failOnce(t, th, "alice", "198.51.100.1")
	// The oldest address was forgotten, the newest is known.
	wantThrottleRefuses(t, th, "alice", "10.0.0.0", time.Second)
	wantReserved(t, th, "alice", fmt.Sprint("10.0.0.", maxKnownPerAccount+4)).Cancel()
}

func TestThrottleDropsExpiredEntriesFirstWhenFull(t *testing.T) {
	clock := newStepClock()
	th := NewThrottle(ThrottleConfig{Now: clock.Now, MaxEntries: 10})
	for i := range 10 {
		failOnce(t, th, "", fmt.Sprint("10.0.0.", i))
	}
	clock.Advance(time.Hour)
	failOnce(t, th, "", "192.0.2.1")
	if n := len(th.addresses.entries); n != 1 {
		t.Errorf("%d address entries, want only the new one", n)
	}
}

func TestThrottleDefaults(t *testing.T) {
	th := NewThrottle(ThrottleConfig{})
	c := th.cfg
	if c.AccountAddressLimit != 5 || c.AddressLimit != 20 || c.Window != 15*time.Minute ||
		c.AccountSlowAfter != 10 || c.AccountDelay != time.Second || c.AccountMaxDelay != 10*time.Minute ||
		c.AccountWindow != 24*time.Hour || c.KnownFor != 30*24*time.Hour || c.MaxEntries != 100000 || c.Now == nil {
		t.Errorf("defaults = %+v", c)
	}
}

// BenchmarkThrottleReserve measures one failed attempt's bookkeeping
// (Reserve and Fail) from a fresh IPv6 /64 on one of 50000 accounts: with
// the tables below their cap, and at the cap, where every new key makes
// room (a flood of fresh addresses).
func BenchmarkThrottleReserve(b *testing.B) {
	const accounts = 50_000
	names := make([]string, accounts)
	for i := range names {
		names[i] = fmt.Sprint("user", i)
	}
	addrs := make([]string, 1<<16)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("2001:db8:%x::1", i)
	}
	for _, bc := range []struct {
		name       string
		maxEntries int
	}{{"below cap", 1 << 20}, {"at cap", 100_000}} {
		b.Run(bc.name, func(b *testing.B) {
			th := NewThrottle(ThrottleConfig{AccountAddressLimit: 1 << 30, AddressLimit: 1 << 30, AccountSlowAfter: 1 << 30, MaxEntries: bc.maxEntries})
			for i, name := range names {
				wantReservedB(b, th, name, fmt.Sprintf("10.%d.%d.1", i>>8&255, i&255)).Fail()
			}
			for i := 0; b.Loop(); i++ {
				wantReservedB(b, th, names[i%accounts], addrs[i&0xffff]).Fail()
			}
		})
	}
}

func wantReservedB(b *testing.B, th *Throttle, account, addr string) *Attempt {
	a, _, ok := th.Reserve(account, addr)
	if !ok {
		b.Fatalf("Reserve(%q, %q) refused", account, addr)
	}
	return a
}
