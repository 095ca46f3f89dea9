package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/sqlite"
)

// countingHasher wraps a hasher, recording Verify calls and how many run at
// once.
type countingHasher struct {
	PasswordHasher
	delay time.Duration // added to each Verify, to make overlap likely
	// onVerify, if set before the hasher is used, runs at the start of
	// each Verify: tests block there, or change the store meanwhile.
	onVerify func(encoded string)

	mu       sync.Mutex
	verified []string // the encoded hashes Verify was given
	inFlight atomic.Int64
	peak     atomic.Int64
}

func (h *countingHasher) Verify(encoded, password string) (bool, error) {
	n := h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	for {
		p := h.peak.Load()
		if n <= p || h.peak.CompareAndSwap(p, n) {
			break
		}
	}
	h.mu.Lock()
	h.verified = append(h.verified, encoded)
	h.mu.Unlock()
	if h.onVerify != nil {
		h.onVerify(encoded)
	}
	time.Sleep(h.delay)
	return h.PasswordHasher.Verify(encoded, password)
}

func (h *countingHasher) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.verified)
}

type testAccounts struct {
	*Accounts
	store  *memory.Store
	hasher *countingHasher
	clock  *stepClock
}

func newTestAccounts(t *testing.T, opts AccountsOptions) testAccounts {
	t.Helper()
	clock := newStepClock()
	store := memory.New()
	hasher := &countingHasher{PasswordHasher: NewArgon2id(cheapArgon2)}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	a := NewAccounts(store, hasher, NewThrottle(ThrottleConfig{Now: clock.Now}), opts)
	return testAccounts{Accounts: a, store: store, hasher: hasher, clock: clock}
}

const testPassword = "correct horse battery staple"

func TestCreateUserNormalisesAndRefusesLookalikes(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	u, err := a.CreateUser(ctx, "Alice", testPassword, []string{"write", "read", "write"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "alice" || !slices.Equal(u.Scopes, []string{"read", "write"}) || u.PasswordHash == "" {
		t.Errorf("CreateUser = %+v", u)
	}
	if strings.Contains(u.PasswordHash, testPassword) {
		t.Error("the password is stored in clear")
	}
	for _, dup := range []string{"alice", "ALICE", "Ａｌｉｃｅ"} {
		if _, err := a.CreateUser(ctx, dup, testPassword, nil); !errors.Is(err, store.ErrExists) {
			t.Errorf("CreateUser(%q) = %v, want ErrExists", dup, err)
		}
	}
	for name, tc := range map[string]struct {
		user, pw string
		scopes   []string
		want     error
	}{
		"short password":   {"bob", "short", nil, ErrInvalidPassword},
		"long password":    {"bob", strings.Repeat("x", 129), nil, ErrInvalidPassword},
		"bad name":         {"bob smith", testPassword, nil, ErrInvalidUsername},
		"scope with space": {"bob", testPassword, []string{"read write"}, nil},
		"empty scope":      {"bob", testPassword, []string{""}, nil},
	} {
		_, err := a.CreateUser(ctx, tc.user, tc.pw, tc.scopes)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: CreateUser = %v, want %v", name, err, tc.want)
		}
	}
	if _, err := a.store.User(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Error("a refused CreateUser stored a user")
	}
}

func TestAuthenticateAcceptsAnySpellingOfTheName(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, []string{"read"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "Alice", "Ａｌｉｃｅ"} {
		u, err := a.Authenticate(ctx, name, testPassword, "192.0.2.1")
		if err != nil || u.Username != "alice" || !slices.Equal(u.Scopes, []string{"read"}) {
			t.Errorf("Authenticate(%q) = %+v, %v", name, u, err)
		}
	}
}

// An unknown user, a wrong password, a disabled account and a malformed
// name must look the same to the caller: same error value, same work (one
// Verify against a hash of the configured algorithm and parameters).
func TestAuthenticateFailuresAreIndistinguishable(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	for _, n := range []string{"alice", "dora", "fred"} {
		if _, err := a.CreateUser(ctx, n, testPassword, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DisableUser(ctx, "dora"); err != nil {
		t.Fatal(err)
	}
	// fred's sessions are ended until a time still ahead.
	if err := a.store.UpdateUser(ctx, "fred", store.UserChange{NotBefore: a.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	fred, _ := a.store.User(ctx, "fred")
	alice, _ := a.store.User(ctx, "alice")
	dora, _ := a.store.User(ctx, "dora")

	for _, tc := range []struct {
		name, user, pw string
		verifiedHash   string // the hash Verify must be given
	}{
		{"unknown user", "mallory", testPassword, a.dummyHash},
		{"malformed name", "not a name", testPassword, a.dummyHash},
		{"wrong password", "alice", "wrong password", alice.PasswordHash},
		{"wrong case", "alice", strings.ToUpper(testPassword), alice.PasswordHash},
		{"disabled account, right password", "dora", testPassword, dora.PasswordHash},
		{"not-before ahead, right password", "fred", testPassword, fred.PasswordHash},
	} {
		before := len(a.hasher.calls())
		// Each case from its own address, so throttling stays out of it.
		u, err := a.Authenticate(ctx, tc.user, tc.pw, "addr-"+tc.name)
		if err != ErrInvalidCredentials { //nolint:errorlint // the very same value
			t.Errorf("%s: error %v, want ErrInvalidCredentials itself", tc.name, err)
		}
		if u.Username != "" || u.PasswordHash != "" {
			t.Errorf("%s: returned a user: %+v", tc.name, u)
		}
		calls := a.hasher.calls()[before:]
		if len(calls) != 1 || calls[0] != tc.verifiedHash {
			t.Errorf("%s: Verify calls %q, want one with %q", tc.name, calls, tc.verifiedHash)
		}
	}
	// The dummy hash costs what a real one does.
	p, _, _, err := parseArgon2id(a.dummyHash)
	if err != nil || p != cheapArgon2 {
		t.Errorf("dummy hash parameters %+v (%v), want the hasher's %+v", p, err, cheapArgon2)
	}
}

func TestAuthenticateThrottlesBeforeHashing(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_, err := a.Authenticate(ctx, "alice", "wrong password", "203.0.113.9")
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	calls := len(a.hasher.calls())
	// Now even the right password is refused from that address, through
	// login and Basic alike, without hashing.
	_, err := a.Authenticate(ctx, "ALICE", testPassword, "203.0.113.9")
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("Authenticate after 5 failures = %v, want a *ThrottledError with a positive RetryAfter", err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:4444"
	if _, err := a.VerifyBasic(r, "alice", testPassword); !errors.As(err, &te) {
		t.Errorf("VerifyBasic while refused = %v, want *ThrottledError", err)
	}
	if n := len(a.hasher.calls()); n != calls {
		t.Errorf("throttled attempts hashed %d times", n-calls)
	}
	// After the window the address works again.
	a.clock.Advance(te.RetryAfter)
	if _, err := a.Authenticate(ctx, "alice", testPassword, "203.0.113.9"); err != nil {
		t.Errorf("Authenticate after RetryAfter: %v", err)
	}
}

func TestAuthenticateThrottlesUnknownUsersLikeKnownOnes(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	outcomes := func(name, net string) []string {
		var out []string
		for i := range 12 {
			_, err := a.Authenticate(ctx, name, "wrong password", fmt.Sprint(net, i))
			var te *ThrottledError
			switch {
			case errors.As(err, &te):
				out = append(out, fmt.Sprint("throttled ", te.RetryAfter))
			default:
				out = append(out, fmt.Sprint(err))
			}
		}
		return out
	}
	known, unknown := outcomes("alice", "192.0.2."), outcomes("nobody", "198.51.100.")
	if !slices.Equal(known, unknown) {
		t.Errorf("guesses on a known user: %q\non an unknown one: %q", known, unknown)
	}
	if !strings.HasPrefix(unknown[len(unknown)-1], "throttled") {
		t.Errorf("12 guesses on an unknown user from 12 addresses: %q, want the last ones throttled", unknown)
	}
}

// Attempts waiting for a hashing slot hold their place in the throttle's
// counts: once the allowance is used up, further ones are refused at once
// rather than queued and hashed.
func TestAuthenticateQueuedAttemptsCountAgainstTheLimit(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{HashConcurrency: 1})
	a.hasher.delay = 5 * time.Millisecond
	if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	before := len(a.hasher.calls())
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, _ = a.Authenticate(ctx, "alice", "wrong password", fmt.Sprint("10.0.0.", i))
		})
	}
	wg.Wait()
	if n := len(a.hasher.calls()) - before; n > 10 {
		t.Errorf("50 concurrent guesses were verified %d times, want at most the account's allowance of 10", n)
	}
}

func TestHashingConcurrencyIsBounded(t *testing.T) {
	ctx := context.Background()
	const bound = 3
	a := newTestAccounts(t, AccountsOptions{HashConcurrency: bound})
	a.hasher.delay = 2 * time.Millisecond
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			_, err := a.Authenticate(ctx, fmt.Sprint("user", i), testPassword, fmt.Sprint("addr", i))
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("login %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := len(a.hasher.calls()); got != 200 {
		t.Errorf("%d hashes for 200 logins", got)
	}
	if peak := a.hasher.peak.Load(); peak > bound || peak < 2 {
		t.Errorf("peak concurrent hashes %d, want at most %d (and some overlap)", peak, bound)
	}
}

func TestAuthenticateGivesUpWithTheContext(t *testing.T) {
	a := newTestAccounts(t, AccountsOptions{HashConcurrency: 1})
	release, err := a.limiter.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = a.Authenticate(ctx, "alice", testPassword, "192.0.2.1")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Authenticate with all slots busy = %v, want the context's error", err)
	}
}

func TestSetPasswordEndsSessions(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(1500*time.Millisecond + 1234*time.Nanosecond)
	if err := a.SetPassword(ctx, "ALICE", "a new passphrase"); err != nil {
		t.Fatal(err)
	}
	u, _ := a.store.User(ctx, "alice")
	// The first whole second after the change (iat has whole seconds): a
	// session dated in the second of the change may have been judged
	// before it.
	want := a.clock.Now().Truncate(time.Second).Add(time.Second)
	if !u.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", u.NotBefore, want)
	}
	evs, _ := a.store.RevocationsSince(ctx, 0)
	if len(evs) != 1 || evs[0].Subject != "alice" || !evs[0].NotBefore.Equal(want) {
		t.Errorf("revocation feed = %+v, want alice's new NotBefore", evs)
	}
	if _, err := a.Authenticate(ctx, "alice", testPassword, "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password: %v", err)
	}
	if _, err := a.Authenticate(ctx, "alice", "a new passphrase", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("new password in the second of the change: %v, want ErrInvalidCredentials (NotBefore ahead)", err)
	}
	a.clock.Advance(want.Sub(a.clock.Now()) - time.Millisecond)
	if _, err := a.Authenticate(ctx, "alice", "a new passphrase", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("new password a millisecond before NotBefore: %v, want ErrInvalidCredentials", err)
	}
	a.clock.Advance(time.Millisecond)
	if _, err := a.Authenticate(ctx, "alice", "a new passphrase", "192.0.2.1"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := a.SetPassword(ctx, "alice", "short"); !errors.Is(err, ErrInvalidPassword) {
		t.Errorf("short password: %v", err)
	}
	if err := a.SetPassword(ctx, "nobody", testPassword); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestDisableUserStopsLoginBasicAndKeys(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, []string{"read"}); err != nil {
		t.Fatal(err)
	}
	_, key, err := a.CreateAPIKey(ctx, "alice", []string{"read"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	if _, err := a.VerifyBasic(r, "alice", testPassword); err != nil {
		t.Fatalf("VerifyBasic before disabling: %v", err)
	}
	if _, err := a.VerifyAPIKey(r, key); err != nil {
		t.Fatalf("VerifyAPIKey before disabling: %v", err)
	}
	a.clock.Advance(time.Minute)
	if err := a.DisableUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	u, _ := a.store.User(ctx, "alice")
	if !u.Disabled || !u.NotBefore.Equal(a.clock.Now().Truncate(time.Second).Add(time.Second)) {
		t.Errorf("after DisableUser: %+v", u)
	}
	if _, err := a.VerifyBasic(r, "alice", testPassword); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("VerifyBasic for a disabled user = %v", err)
	}
	if _, err := a.VerifyAPIKey(r, key); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("VerifyAPIKey of a disabled user's key = %v", err)
	}
	if err := a.DisableUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DisableUser unknown = %v", err)
	}
}

// interleavedStore lets another process's write land just before the next
// UpdateUser or UpdateClient, after the caller read what it read (and
// hashed): the moment at which writing back the whole user would undo
// that write, or a second rotation overwrite the secret the first handed
// out.
type interleavedStore struct {
	store.Store
	before func()
}

// interleave runs the write of the other process, once.
func (s *interleavedStore) interleave() {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
}

func (s *interleavedStore) UpdateUser(ctx context.Context, username string, c store.UserChange) error {
	s.interleave()
	return s.Store.UpdateUser(ctx, username, c)
}

func (s *interleavedStore) UpdateClient(ctx context.Context, id string, c store.ClientChange) error {
	s.interleave()
	return s.Store.UpdateClient(ctx, id, c)
}

// Admin commands run by two processes at once keep each other's changes:
// a password change racing a disable must not enable the user again, and
// a disable racing a password change must not restore the old password.
func TestPasswordChangeAndDisableRacingKeepBoth(t *testing.T) {
	ctx := context.Background()
	other := newTestAccounts(t, AccountsOptions{})
	st := &interleavedStore{Store: other.store}
	a := NewAccounts(st, other.hasher, NewThrottle(ThrottleConfig{Now: other.clock.Now}), AccountsOptions{Now: other.clock.Now})
	for _, name := range []string{"alice", "bob"} {
		if _, err := a.CreateUser(ctx, name, testPassword, nil); err != nil {
			t.Fatal(err)
		}
	}
	const newPassword = "a new passphrase"
	check := func(name string) {
		t.Helper()
		u, err := other.store.User(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Disabled {
			t.Errorf("%s is enabled again", name)
		}
		if ok, err := other.hasher.Verify(u.PasswordHash, newPassword); !ok || err != nil {
			t.Errorf("%s's new password was lost (%v)", name, err)
		}
	}

	st.before = func() {
		if err := other.DisableUser(ctx, "alice"); err != nil {
			t.Error(err)
		}
	}
	if err := a.SetPassword(ctx, "alice", newPassword); err != nil {
		t.Fatal(err)
	}
	check("alice")

	st.before = func() {
		if err := other.SetPassword(ctx, "bob", newPassword); err != nil {
			t.Error(err)
		}
	}
	if err := a.DisableUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	check("bob")
}

func TestVerifyBasicPrincipal(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, []string{"write", "read"}); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	p, err := a.VerifyBasic(r, "Alice", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "alice" || !slices.Equal(p.Scopes, []string{"read", "write"}) || !p.HasScope("read") {
		t.Errorf("principal = %+v", p)
	}
	if _, err := a.VerifyBasic(r, "alice", "wrong password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password = %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	id, key, err := a.CreateAPIKey(ctx, "CI-Bot", []string{"deploy", "read", "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^gh_[a-z2-7]{52}$`).MatchString(key) {
		t.Errorf("key %q: want gh_ and 256 random bits in base32", key)
	}
	if !strings.HasPrefix(id, "ak_") || strings.Contains(key, id) {
		t.Errorf("id %q", id)
	}
	// Only the digest is kept.
	keys, _ := a.store.ListAPIKeys(ctx)
	digest := sha256.Sum256([]byte(key))
	if len(keys) != 1 || keys[0].ID != id || !slices.Equal(keys[0].Digest, digest[:]) || keys[0].Owner != "ci-bot" {
		t.Fatalf("stored keys = %+v", keys)
	}

	r := httptest.NewRequest("GET", "/", nil)
	p, err := a.VerifyAPIKey(r, key)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "ci-bot" || p.TokenID != id || !slices.Equal(p.Scopes, []string{"deploy", "read"}) {
		t.Errorf("principal = %+v", p)
	}
	for name, bad := range map[string]string{
		"empty":         "",
		"wrong":         APIKeyPrefix + strings.Repeat("a", 52),
		"truncated":     key[:len(key)-1],
		"extended":      key + "a",
		"other case":    strings.ToUpper(key),
		"huge":          strings.Repeat("a", 1<<20),
		"the id itself": id,
	} {
		if _, err := a.VerifyAPIKey(r, bad); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s key: %v, want ErrInvalidCredentials", name, err)
		}
	}

	if err := a.RevokeAPIKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.VerifyAPIKey(r, key); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("revoked key: %v", err)
	}
	if err := a.RevokeAPIKey(ctx, "ak_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeAPIKey unknown = %v", err)
	}
	if _, _, err := a.CreateAPIKey(ctx, "bad owner", nil); err == nil {
		t.Error("CreateAPIKey with a malformed owner succeeded")
	}
	if _, _, err := a.CreateAPIKey(ctx, "bot", []string{"a\"b"}); err == nil {
		t.Error("CreateAPIKey with a malformed scope succeeded")
	}
}

func TestAPIKeyGuessingIsThrottledPerAddress(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	_, key, err := a.CreateAPIKey(ctx, "bot", nil)
	if err != nil {
		t.Fatal(err)
	}
	attacker := httptest.NewRequest("GET", "/", nil)
	attacker.RemoteAddr = "198.51.100.66:1234"
	for i := range 20 {
		if _, err := a.VerifyAPIKey(attacker, fmt.Sprint(APIKeyPrefix, "guess", i)); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	var te *ThrottledError
	if _, err := a.VerifyAPIKey(attacker, key); !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Errorf("after 20 bad keys: %v, want *ThrottledError", err)
	}
	other := httptest.NewRequest("GET", "/", nil)
	other.RemoteAddr = "198.51.100.67:1234"
	if _, err := a.VerifyAPIKey(other, key); err != nil {
		t.Errorf("another address is affected: %v", err)
	}
}

func TestClients(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	secret, err := a.CreateClient(ctx, "billing-svc", []string{"write", "read"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ghc_[a-z2-7]{52}$`).MatchString(secret) {
		t.Errorf("secret %q", secret)
	}
	c, err := a.AuthenticateClient(ctx, "billing-svc", secret, "192.0.2.1")
	if err != nil || c.ID != "billing-svc" || !slices.Equal(c.Scopes, []string{"read", "write"}) {
		t.Errorf("AuthenticateClient = %+v, %v", c, err)
	}
	if _, err := a.CreateClient(ctx, "billing-svc", nil); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate client: %v", err)
	}
	for _, bad := range []string{"", "has space", "has:colon", strings.Repeat("x", 129), "é"} {
		if _, err := a.CreateClient(ctx, bad, nil); err == nil {
			t.Errorf("CreateClient(%q) succeeded", bad)
		}
	}
	stored, _ := a.store.Client(ctx, "billing-svc")
	for _, tc := range []struct {
		name, id, secret, verified string
	}{
		{"wrong secret", "billing-svc", secret + "x", stored.SecretHash},
		{"unknown client", "nope", secret, a.dummyHash},
		{"malformed id", "no such:client", secret, a.dummyHash},
	} {
		before := len(a.hasher.calls())
		if _, err := a.AuthenticateClient(ctx, tc.id, tc.secret, "addr-"+tc.name); err != ErrInvalidCredentials { //nolint:errorlint
			t.Errorf("%s: %v, want ErrInvalidCredentials", tc.name, err)
		}
		if calls := a.hasher.calls()[before:]; len(calls) != 1 || calls[0] != tc.verified {
			t.Errorf("%s: Verify calls %q, want one with %q", tc.name, calls, tc.verified)
		}
	}
	// Clients and users of the same name are throttled apart.
	if _, err := a.CreateUser(ctx, "billing-svc", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		_, _ = a.AuthenticateClient(ctx, "billing-svc", "wrong", fmt.Sprint("10.1.0.", i))
	}
	var te *ThrottledError
	if _, err := a.AuthenticateClient(ctx, "billing-svc", secret, "10.2.0.1"); !errors.As(err, &te) {
		t.Errorf("client after 10 failures from 10 addresses: %v, want *ThrottledError", err)
	}
	if _, err := a.Authenticate(ctx, "billing-svc", testPassword, "10.2.0.1"); err != nil {
		t.Errorf("the user of the same name is locked too: %v", err)
	}
}

func TestClientAddr(t *testing.T) {
	a := newTestAccounts(t, AccountsOptions{})
	for remote, want := range map[string]string{
		"192.0.2.1:1234":   "192.0.2.1",
		"[2001:db8::1]:80": "2001:db8::1",
		"no-port":          "no-port",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := a.ClientAddr(r); got != want {
			t.Errorf("ClientAddr(%q) = %q, want %q", remote, got, want)
		}
	}

	// A configured function (the server's, trusting X-Forwarded-For from its
	// proxies) decides which address is throttled.
	custom := newTestAccounts(t, AccountsOptions{ClientAddr: func(r *http.Request) string {
		return r.Header.Get("X-Test-Client")
	}})
	for i := range 20 {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = fmt.Sprint("10.0.0.", i, ":1")
		r.Header.Set("X-Test-Client", "203.0.113.1")
		_, _ = custom.VerifyAPIKey(r, "bad")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Test-Client", "203.0.113.1")
	var te *ThrottledError
	if _, err := custom.VerifyAPIKey(r, "bad"); !errors.As(err, &te) {
		t.Errorf("failures were not counted against the configured client address: %v", err)
	}
}

// A login whose password was checked against the old hash must not
// outlive a password change or a disable recorded while it waited or
// hashed: the account is judged after the hash, as it is then.
func TestLoginInFlightLosesToPasswordChangeOrDisable(t *testing.T) {
	for name, change := range map[string]func(a testAccounts) error{
		"password change": func(a testAccounts) error { return a.SetPassword(context.Background(), "alice", "a new passphrase") },
		"disable":         func(a testAccounts) error { return a.DisableUser(context.Background(), "alice") },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := newTestAccounts(t, AccountsOptions{HashConcurrency: 2})
			if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
				t.Fatal(err)
			}
			hashing, resume := make(chan struct{}), make(chan struct{})
			var once sync.Once
			a.hasher.onVerify = func(string) {
				once.Do(func() {
					close(hashing)
					<-resume
				})
			}
			result := make(chan error)
			go func() {
				_, err := a.Authenticate(ctx, "alice", testPassword, "192.0.2.1")
				result <- err
			}()
			<-hashing // the old password is being checked against the old hash
			if err := change(a); err != nil {
				t.Fatal(err)
			}
			close(resume)
			if err := <-result; !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("login with the old password, in flight during the %s: %v, want ErrInvalidCredentials", name, err)
			}
		})
	}
}

// Both sides of the account protection: an attacker guessing one account's
// password from many addresses (IPv4 and IPv6, each its own /64) is slowed
// to a few hashes, with a growing Retry-After; the owner still gets in from
// the address they logged in from before, by password, Basic and client
// secret alike.
func TestAccountProtectionSlowsSprayingButLetsTheOwnerIn(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	secret, err := a.CreateClient(ctx, "partner", nil)
	if err != nil {
		t.Fatal(err)
	}
	const owner = "192.0.2.10"
	basic := func(addr, user, pw string) error {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = net.JoinHostPort(addr, "4444")
		_, err := a.VerifyBasic(r, user, pw)
		return err
	}
	for _, tc := range []struct {
		name  string
		login func(addr, secret string) error
		right string
	}{
		{"password", func(addr, pw string) error { _, err := a.Authenticate(ctx, "alice", pw, addr); return err }, testPassword},
		{"basic", func(addr, pw string) error { return basic(addr, "alice", pw) }, testPassword},
		{"client secret", func(addr, s string) error { _, err := a.AuthenticateClient(ctx, "partner", s, addr); return err }, secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.clock.Advance(48 * time.Hour) // the previous subtest's failures are forgotten
			if err := tc.login(owner, tc.right); err != nil {
				t.Fatalf("the owner's first login: %v", err)
			}
			attacker := func(i int) string {
				if i%2 == 0 {
					return fmt.Sprintf("198.51.%d.%d", i/250, i%250)
				}
				return fmt.Sprintf("2001:db8:%x::1", i)
			}
			hashed := func() int { return len(a.hasher.calls()) }
			before := hashed()
			var lastWait time.Duration
			for i := range 500 {
				err := tc.login(attacker(i), "guess "+fmt.Sprint(i))
				var te *ThrottledError
				switch {
				case errors.As(err, &te):
					lastWait = te.RetryAfter
				case !errors.Is(err, ErrInvalidCredentials):
					t.Fatalf("guess %d: %v", i, err)
				}
			}
			if n := hashed() - before; n != 10 {
				t.Errorf("500 guesses from 500 addresses at one instant were hashed %d times, want the account's free allowance of 10", n)
			}
			if lastWait <= 0 || lastWait > time.Second {
				t.Errorf("Retry-After %v for the attacker, want the first delay, 1s", lastWait)
			}
			// Following every Retry-After for a day buys the attacker few
			// guesses, ever more spaced out.
			prev, guesses := time.Duration(0), 0
			var waited time.Duration
			for i := 0; waited < 24*time.Hour && guesses <= 10+24*6; i++ {
				err := tc.login(attacker(1000+i), "paced guess")
				var te *ThrottledError
				if errors.As(err, &te) {
					if te.RetryAfter < prev {
						t.Fatalf("Retry-After went down from %v to %v", prev, te.RetryAfter)
					}
					prev = te.RetryAfter
					a.clock.Advance(te.RetryAfter)
					waited += te.RetryAfter
					continue
				}
				if !errors.Is(err, ErrInvalidCredentials) {
					t.Fatalf("paced guess %d: %v", i, err)
				}
				guesses++
				// Meanwhile the owner logs in, unslowed.
				if err := tc.login(owner, tc.right); err != nil {
					t.Fatalf("the owner, during the attack: %v", err)
				}
			}
			// 10 while the delay doubles from 1 s to 512 s, then one per
			// 10 minutes.
			if guesses > 10+24*6 {
				t.Errorf("a day of paced guessing from fresh addresses got %d guesses, want at most %d", guesses, 10+24*6)
			}
			if prev != 10*time.Minute {
				t.Errorf("the spacing reached %v, want the 10-minute maximum", prev)
			}
		})
	}
}

// Concurrent wrong guesses are hashed at most as often as the limit
// allows: each takes its place in the counts before hashing.
func TestConcurrentGuessesAreHashedAtMostTheLimit(t *testing.T) {
	const n = 40
	for name, addr := range map[string]func(i int) string{
		"one address":     func(int) string { return "192.0.2.1" },
		"many addresses":  func(i int) string { return fmt.Sprint("10.0.0.", i) },
		"one IPv6 subnet": func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a := newTestAccounts(t, AccountsOptions{HashConcurrency: n})
			if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
				t.Fatal(err)
			}
			// Every guess that gets to hash waits there until each of the
			// n has either reached the hash or been refused.
			decided, resume := make(chan struct{}, n), make(chan struct{})
			a.hasher.onVerify = func(string) {
				decided <- struct{}{}
				<-resume
			}
			before := len(a.hasher.calls())
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, err := a.Authenticate(ctx, "alice", "wrong password", addr(i))
					var te *ThrottledError
					if errors.As(err, &te) {
						decided <- struct{}{}
					}
				})
			}
			for range n {
				<-decided
			}
			close(resume)
			wg.Wait()
			limit := 10 // the account's free allowance from unknown addresses
			if name != "many addresses" {
				limit = 5 // one account from one address
			}
			if got := len(a.hasher.calls()) - before; got > limit {
				t.Errorf("%d concurrent wrong guesses were hashed %d times, want at most %d", n, got, limit)
			}
		})
	}
}

// A successful login with a hash of other parameters or another algorithm
// stores a new hash with the configured ones; nothing else of the account
// changes, and failures change nothing.
func TestLoginUpgradesOutdatedHashes(t *testing.T) {
	ctx := context.Background()
	for name, hasher := range map[string]PasswordHasher{
		"bcrypt":          NewBcrypt(bcrypt.MinCost),
		"argon2id, other": NewArgon2id(Argon2Params{Memory: 128, Iterations: 2, Parallelism: 1}),
	} {
		t.Run(name, func(t *testing.T) {
			a := newTestAccounts(t, AccountsOptions{})
			old, err := hasher.Hash(testPassword)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.store.CreateUser(ctx, store.User{Username: "alice", PasswordHash: old, Scopes: []string{"read"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Authenticate(ctx, "alice", "wrong password", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatal(err)
			}
			if u, _ := a.store.User(ctx, "alice"); u.PasswordHash != old {
				t.Error("a failed login replaced the hash")
			}
			if _, err := a.Authenticate(ctx, "alice", testPassword, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			u, _ := a.store.User(ctx, "alice")
			if p, _, _, err := parseArgon2id(u.PasswordHash); err != nil || p != cheapArgon2 {
				t.Errorf("hash after a successful login %q, want argon2id with the configured parameters", u.PasswordHash)
			}
			if u.Disabled || !u.NotBefore.IsZero() || !slices.Equal(u.Scopes, []string{"read"}) {
				t.Errorf("the upgrade changed more than the hash: %+v", u)
			}
			if _, err := a.Authenticate(ctx, "alice", testPassword, "192.0.2.1"); err != nil {
				t.Errorf("login with the upgraded hash: %v", err)
			}
		})
	}
}

// A stored hash that cannot be used costs what a wrong password does: one
// Verify against a hash of the configured algorithm and parameters (the
// dummy hash), never a quick refusal.
func TestUnusableStoredHashCostsAWrongPassword(t *testing.T) {
	ctx := context.Background()
	a := newTestAccounts(t, AccountsOptions{})
	good, err := NewBcrypt(bcrypt.MinCost).Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for i, stored := range []string{
		"",
		"plain text",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",                                    // salt and key too short
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", // memory out of bounds
		"$2a$10$tooshort",
		good[:len(good)-1] + "!", // not bcrypt's alphabet
		"$2a$99$" + good[7:],     // cost out of range
	} {
		name := fmt.Sprint("user", i)
		if err := a.store.CreateUser(ctx, store.User{Username: name, PasswordHash: stored}); err != nil {
			t.Fatal(err)
		}
		before := len(a.hasher.calls())
		if _, err := a.Authenticate(ctx, name, testPassword, fmt.Sprint("10.0.0.", i)); err != ErrInvalidCredentials { //nolint:errorlint // the very same value
			t.Errorf("stored hash %q: %v, want ErrInvalidCredentials", stored, err)
		}
		calls := a.hasher.calls()[before:]
		if len(calls) != 1 || calls[0] != a.dummyHash {
			t.Errorf("stored hash %q: Verify calls %q, want one with the dummy hash", stored, calls)
		}
	}
}

// One end-to-end pass with the real OWASP parameters and the SQLite store.
func TestAccountsWithDefaultsOnSQLite(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir()+"/auth.db")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a := NewAccounts(store, nil, nil, AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, []string{"read"}); err != nil {
		t.Fatal(err)
	}
	u, err := a.Authenticate(ctx, "alice", testPassword, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("stored hash %q does not use the defaults", u.PasswordHash)
	}
	if _, err := a.Authenticate(ctx, "alice", "wrong password", "192.0.2.1"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}
}

// BenchmarkConcurrentLogins runs logins with the default argon2id
// parameters from many goroutines and reports the peak number of hashes in
// flight, which must stay at the bound (GOMAXPROCS) however many logins
// wait: memory stays at about bound × 19 MiB.
func BenchmarkConcurrentLogins(b *testing.B) {
	ctx := context.Background()
	hasher := &countingHasher{PasswordHasher: NewArgon2id(DefaultArgon2Params)}
	a := NewAccounts(memory.New(), hasher, NewThrottle(ThrottleConfig{AccountAddressLimit: 1 << 30, AddressLimit: 1 << 30, AccountSlowAfter: 1 << 30}), AccountsOptions{})
	if _, err := a.CreateUser(ctx, "alice", testPassword, nil); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(200 / max(1, cap(a.limiter.slots)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, "alice", testPassword, "192.0.2.1"); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(hasher.peak.Load()), "peak-hashes")
	b.ReportMetric(float64(cap(a.limiter.slots)), "bound")
	if peak := hasher.peak.Load(); peak > int64(cap(a.limiter.slots)) {
		b.Errorf("peak %d concurrent hashes exceeds the bound %d", peak, cap(a.limiter.slots))
	}
}

// Accounts is what the guard verifies HTTP Basic and API keys with.
var _ AccountVerifier = (*Accounts)(nil)

// Two admin processes rotating one client's secret at once: the one that
// lands second fails and says so, and the secret the first handed out
// works; a rotation racing a revoking rotation does not undo the
// revocation either (it fails as well).
func TestRotateClientSecretRacingKeepsTheOtherRotation(t *testing.T) {
	ctx := context.Background()
	other := newTestAccounts(t, AccountsOptions{})
	st := &interleavedStore{Store: other.store}
	a := NewAccounts(st, other.hasher, NewThrottle(ThrottleConfig{Now: other.clock.Now}), AccountsOptions{Now: other.clock.Now})
	if _, err := a.CreateClient(ctx, "partner", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	for _, revoke := range []bool{false, true} {
		var otherSecret string
		st.before = func() {
			var err error
			if otherSecret, err = other.RotateClientSecret(ctx, "partner", revoke); err != nil {
				t.Error(err)
			}
		}
		before, _ := other.store.Client(ctx, "partner")
		secret, err := a.RotateClientSecret(ctx, "partner", false)
		if !errors.Is(err, store.ErrSecretRotatedMeanwhile) {
			t.Fatalf("rotation racing another (revoke %v): secret %q, error %v; want ErrSecretRotatedMeanwhile", revoke, secret, err)
		}
		c, err := other.store.Client(ctx, "partner")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := other.hasher.Verify(c.SecretHash, otherSecret); !ok || err != nil {
			t.Errorf("the secret of the rotation that landed first no longer works (revoke %v, %v)", revoke, err)
		}
		if revoke && !c.NotBefore.After(before.NotBefore) {
			t.Errorf("the revoking rotation's not-before was undone: %v, before %v", c.NotBefore, before.NotBefore)
		}
	}
}
