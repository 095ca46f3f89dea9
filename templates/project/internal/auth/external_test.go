package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
)

// fakeIdP is an identity provider whose keys, discovery document and
// failures a test controls, and which counts what it serves.
type fakeIdP struct {
	srv     *httptest.Server
	issuer  string // what discovery names; the server URL by default
	mu      sync.Mutex
	keys    map[string]ed25519.PrivateKey
	current string
	fail    bool
	// gate, when set, holds every key fetch until it is closed or the
	// client gives up: a slow issuer.
	gate        chan struct{}
	onFetch     func() // called on each key fetch, before it is answered
	discoveries atomic.Int32
	fetches     atomic.Int32
	// mux serves the issuer; discovery adds discoveryExtra's entries to its
	// document (login_gen_test.go adds a provider's endpoints).
	mux            *http.ServeMux
	discoveryExtra map[string]any
}

func newFakeIdP(t testing.TB, tls bool) *fakeIdP {
	t.Helper()
	idp := &fakeIdP{keys: map[string]ed25519.PrivateKey{}}
	idp.rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+discoveryPath, func(w http.ResponseWriter, r *http.Request) {
		idp.discoveries.Add(1)
		doc := map[string]any{"issuer": idp.issuer, "jwks_uri": idp.srv.URL + "/keys"}
		idp.mu.Lock()
		for k, v := range idp.discoveryExtra {
			doc[k] = v
		}
		idp.mu.Unlock()
		json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		idp.fetches.Add(1)
		idp.mu.Lock()
		gate, onFetch := idp.gate, idp.onFetch
		idp.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if onFetch != nil {
			onFetch()
		}
		idp.mu.Lock()
		defer idp.mu.Unlock()
		if idp.fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var keys []map[string]string
		for kid, k := range idp.keys {
			keys = append(keys, map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid,
				"x": base64.RawURLEncoding.EncodeToString(k.Public().(ed25519.PublicKey))})
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	idp.mux = mux
	if tls {
		idp.srv = httptest.NewTLSServer(mux)
	} else {
		idp.srv = httptest.NewServer(mux)
	}
	idp.issuer = idp.srv.URL
	t.Cleanup(idp.srv.Close)
	return idp
}

// hold makes key fetches wait until the returned function is called (which
// the test's cleanup does too).
func (idp *fakeIdP) hold(t *testing.T) (release func()) {
	gate := make(chan struct{})
	idp.mu.Lock()
	idp.gate = gate
	idp.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			idp.mu.Lock()
			idp.gate = nil
			idp.mu.Unlock()
			close(gate)
		})
	}
	t.Cleanup(release)
	return release
}

// fetchInFlight reports whether a key fetch has started and not ended.
func fetchInFlight(x *ExternalTokens) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.fetching
}

// waitForFetch waits for the key fetch in flight, if any, to end.
func waitForFetch(x *ExternalTokens) {
	var done <-chan singleflight.Result
	x.mu.Lock()
	if x.fetching {
		done = x.fetches.DoChan(jwksFetchKey, x.fetch)
	}
	x.mu.Unlock()
	if done != nil {
		<-done
	}
}

// rotate adds a new current key; the old ones stay published.
func (idp *fakeIdP) rotate() string {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	idp.mu.Lock()
	defer idp.mu.Unlock()
	idp.current = "k" + rand.Text()[:6]
	idp.keys[idp.current] = k
	return idp.current
}

func (idp *fakeIdP) config() ExternalConfig {
	return ExternalConfig{Issuer: idp.srv.URL, Audience: "api", Algorithms: []string{"EdDSA"},
		AllowHTTP: true, Client: idp.srv.Client()}
}

func (idp *fakeIdP) claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": idp.srv.URL, "sub": "alice", "aud": "api", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": rand.Text(), "scope": "b a"}
}

// sign signs claims with the current key; header entries override (a nil
// value deletes).
func (idp *fakeIdP) sign(t testing.TB, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	idp.mu.Lock()
	kid, key := idp.current, idp.keys[idp.current]
	idp.mu.Unlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustExternal(t *testing.T, cfg ExternalConfig) *ExternalTokens {
	t.Helper()
	x, err := NewExternalTokens(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestExternalTokensDiscoverKeysAndVerify(t *testing.T) {
	idp := newFakeIdP(t, true)
	cfg := idp.config()
	cfg.AllowHTTP = false // https only
	x := mustExternal(t, cfg)
	claims, err := x.Verify(context.Background(), idp.sign(t, idp.claims(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "alice" || claims.Scope != "a b" || idp.discoveries.Load() != 1 || idp.fetches.Load() != 1 {
		t.Fatalf("claims %+v, %d discoveries, %d fetches", claims, idp.discoveries.Load(), idp.fetches.Load())
	}
	// The keys are cached: no more fetches.
	for range 3 {
		if _, err := x.Verify(context.Background(), idp.sign(t, idp.claims(), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := idp.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestExternalTokensJWKSURLSkipsDiscovery(t *testing.T) {
	idp := newFakeIdP(t, false)
	cfg := idp.config()
	cfg.JWKSURL = idp.srv.URL + "/keys"
	x := mustExternal(t, cfg)
	if _, err := x.Verify(context.Background(), idp.sign(t, idp.claims(), nil)); err != nil {
		t.Fatal(err)
	}
	if idp.discoveries.Load() != 0 {
		t.Fatal("discovery was fetched although OIDC_JWKS_URL was given")
	}
}

func TestExternalTokensRefuseHTTPOutsideDevelopment(t *testing.T) {
	for _, cfg := range []ExternalConfig{
		{Issuer: "http://id.example.com", Audience: "api"},
		{Issuer: "https://id.example.com", JWKSURL: "http://id.example.com/keys", Audience: "api"},
		{Issuer: "https://user:pw@id.example.com", Audience: "api"},
		{Issuer: "id.example.com", Audience: "api"},
	} {
		if _, err := NewExternalTokens(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	// A discovery document served over https may not point to http keys.
	idp := newFakeIdP(t, true)
	idp.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": idp.srv.URL, "jwks_uri": "http://127.0.0.1:1/keys"})
	})
	cfg := idp.config()
	cfg.AllowHTTP = false
	if err := mustExternal(t, cfg).Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("http jwks_uri: %v, want a refusal", err)
	}
	// The configuration allows http only in development.
	env := map[string]string{"OIDC_ISSUER": "http://localhost:9000", "OIDC_AUDIENCE": "api", "OIDC_ALLOW_HTTP": "true"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if _, _, err := LoadResourceServerConfig(lookup); err == nil || !strings.Contains(err.Error(), "OIDC_ALLOW_HTTP") {
		t.Fatalf("OIDC_ALLOW_HTTP in production: %v", err)
	}
	env["GATEHOUSE_ENV"] = "development"
	if _, _, err := LoadResourceServerConfig(lookup); err != nil {
		t.Fatalf("OIDC_ALLOW_HTTP in development: %v", err)
	}
	delete(env, "OIDC_ALLOW_HTTP")
	if _, _, err := LoadResourceServerConfig(lookup); err == nil {
		t.Fatal("http issuer accepted without OIDC_ALLOW_HTTP")
	}
}

func TestExternalTokensDiscoveryIssuerMustMatch(t *testing.T) {
	idp := newFakeIdP(t, false)
	idp.issuer = "https://evil.example.com"
	if err := mustExternal(t, idp.config()).Refresh(context.Background()); err == nil {
		t.Fatal("a discovery document naming another issuer was accepted")
	}
}

func TestExternalTokensRefreshOnUnknownKIDIsRateLimited(t *testing.T) {
	idp := newFakeIdP(t, false)
	now := time.Now()
	var mu sync.Mutex
	cfg := idp.config()
	cfg.MinRefresh = time.Minute
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	x := mustExternal(t, cfg)
	ctx := context.Background()
	if err := x.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Minute)

	// The issuer rotates: the new kid is fetched at once.
	idp.rotate()
	if _, err := x.Verify(ctx, idp.sign(t, idp.claims(), nil)); err != nil {
		t.Fatalf("token of a rotated key: %v", err)
	}
	if n := idp.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// Forged kids do not make the server fetch again within MinRefresh.
	for range 5 {
		if _, err := x.Verify(ctx, idp.sign(t, idp.claims(), map[string]any{"kid": "forged-" + rand.Text()})); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	// Nor does a real rotation, until MinRefresh has passed.
	idp.rotate()
	token := idp.sign(t, idp.claims(), nil)
	if _, err := x.Verify(ctx, token); err == nil {
		t.Fatal("a key not yet fetched verified")
	}
	if n := idp.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches within MinRefresh, want 2", n)
	}
	advance(time.Minute)
	if _, err := x.Verify(ctx, token); err != nil {
		t.Fatalf("after MinRefresh: %v", err)
	}
}

func TestExternalTokensKeepKeysWhenFetchFails(t *testing.T) {
	idp := newFakeIdP(t, false)
	now := time.Now()
	cfg := idp.config()
	cfg.CacheTTL = 10 * time.Minute
	cfg.Now = func() time.Time { return now }
	x := mustExternal(t, cfg)
	ctx := context.Background()
	token := idp.sign(t, idp.claims(), nil)
	if _, err := x.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	idp.fail = true
	idp.mu.Unlock()
	now = now.Add(20 * time.Minute) // the cache is stale: a fetch is tried and fails
	if _, err := x.Verify(ctx, idp.sign(t, idp.claims(), nil)); err != nil {
		t.Fatalf("known key while the stale keys are fetched again: %v", err)
	}
	waitForFetch(x)
	if _, err := x.Verify(ctx, idp.sign(t, idp.claims(), nil)); err != nil {
		t.Fatalf("known key after a failed fetch: %v", err)
	}
	if n := idp.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (the stale cache is refreshed)", n)
	}
}

// After the cache TTL, requests with a known kid are served with the keys
// in hand while one fetch renews them: a slow issuer delays nobody, and
// however many requests arrive, the issuer is asked once.
func TestExternalTokensServeStaleKeysWhileOneFetchRuns(t *testing.T) {
	idp := newFakeIdP(t, false)
	clock := &epClock{t: time.Now()}
	cfg := idp.config()
	cfg.CacheTTL, cfg.Now = 10*time.Minute, clock.Now
	x := mustExternal(t, cfg)
	ctx := context.Background()
	if err := x.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Minute)
	release := idp.hold(t)

	token := idp.sign(t, idp.claims(), nil)
	errs := make(chan error, 20)
	for range cap(errs) {
		go func() {
			_, err := x.Verify(ctx, token)
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatalf("a token of a known key while the keys are fetched again: %v", err)
		}
	}
	if !fetchInFlight(x) {
		t.Fatal("the verifications returned after the fetch ended: they waited for the slow issuer")
	}
	release()
	waitForFetch(x)
	if n := idp.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2: the first, and one for all the requests after the TTL", n)
	}
	if ks := x.keys.Load(); !ks.fetched.Equal(clock.Now()) {
		t.Fatalf("the keys were fetched at %v, not renewed at %v", ks.fetched, clock.Now())
	}
}

// Requests naming a kid the server does not know wait for one shared fetch,
// even when the issuer is slower than MinRefresh.
func TestExternalTokensUnknownKIDWaitsForOneSharedFetch(t *testing.T) {
	idp := newFakeIdP(t, false)
	clock := &epClock{t: time.Now()}
	cfg := idp.config()
	cfg.Now = clock.Now
	x := mustExternal(t, cfg)
	ctx := context.Background()
	if err := x.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultJWKSMinRefresh) // a fetch is allowed again
	idp.rotate()
	token := idp.sign(t, idp.claims(), nil)
	idp.mu.Lock()
	idp.onFetch = func() { clock.Advance(3 * DefaultJWKSMinRefresh) } // each fetch outlasts MinRefresh
	idp.mu.Unlock()
	release := idp.hold(t)

	var started sync.WaitGroup
	errs := make(chan error, 20)
	for range cap(errs) {
		started.Add(1)
		go func() {
			started.Done()
			_, err := x.Verify(ctx, token)
			errs <- err
		}()
	}
	started.Wait()
	release()
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Fatalf("a token of the issuer's new key: %v", err)
		}
	}
	if n := idp.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2: the first, and one shared by every request naming the new kid", n)
	}
}

// A request does not wait longer than FetchWait for keys it lacks; the
// fetch goes on and serves the requests after.
func TestExternalTokensUnknownKIDWaitIsBounded(t *testing.T) {
	idp := newFakeIdP(t, false)
	clock := &epClock{t: time.Now()}
	cfg := idp.config()
	cfg.Now, cfg.FetchWait = clock.Now, 50*time.Millisecond
	x := mustExternal(t, cfg)
	ctx := context.Background()
	if err := x.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultJWKSMinRefresh)
	idp.rotate()
	token := idp.sign(t, idp.claims(), nil)
	release := idp.hold(t)

	_, err := x.Verify(ctx, token)
	var te *tokenError
	if !errors.As(err, &te) || te.reason != rejectKID {
		t.Fatalf("a kid the slow issuer has not delivered yet: %v, want the rejection %q", err, rejectKID)
	}
	if !fetchInFlight(x) {
		t.Fatal("the verification returned after the fetch ended: it waited for the slow issuer")
	}
	release()
	waitForFetch(x)
	if _, err := x.Verify(ctx, token); err != nil {
		t.Fatalf("after the fetch that was in flight: %v", err)
	}
	if n := idp.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestExternalTokensMinRefreshFloor(t *testing.T) {
	idp := newFakeIdP(t, false)
	cfg := idp.config()
	cfg.MinRefresh = time.Second
	if _, err := NewExternalTokens(cfg); err == nil || !strings.Contains(err.Error(), "under the floor of 10s") {
		t.Fatalf("MinRefresh of 1s: %v, want a refusal naming the floor", err)
	}
	env := map[string]string{"OIDC_ISSUER": "https://id.example.com", "OIDC_AUDIENCE": "api", "OIDC_JWKS_MIN_REFRESH": "1s"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, _, err := LoadResourceServerConfig(lookup)
	if err == nil || !strings.Contains(err.Error(), "OIDC_JWKS_MIN_REFRESH: must be at least 10s, not 1s") {
		t.Fatalf("OIDC_JWKS_MIN_REFRESH=1s: %v", err)
	}
	env["OIDC_JWKS_MIN_REFRESH"] = "10s"
	if _, _, err := LoadResourceServerConfig(lookup); err != nil {
		t.Fatalf("OIDC_JWKS_MIN_REFRESH=10s: %v", err)
	}
}

func TestExternalTokensRefuse(t *testing.T) {
	idp := newFakeIdP(t, false)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := idp.claims()
		change(c)
		return c
	}
	idp.mu.Lock()
	kid, edKey := idp.current, idp.keys[idp.current]
	idp.mu.Unlock()
	signWith := func(method jwt.SigningMethod, key any, header map[string]any) string {
		tok := jwt.NewWithClaims(method, idp.claims())
		tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
		for k, v := range header {
			tok.Header[k] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pub := []byte(edKey.Public().(ed25519.PublicKey))
	cases := []struct {
		name  string
		want  rejection
		token string
	}{
		{"wrong issuer", rejectIssuer, idp.sign(t, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), nil)},
		{"wrong audience", rejectAudience, idp.sign(t, with(func(c jwt.MapClaims) { c["aud"] = []string{"other", "more"} }), nil)},
		{"no audience", rejectMissingClaim, idp.sign(t, with(func(c jwt.MapClaims) { delete(c, "aud") }), nil)},
		{"expired", rejectExpired, idp.sign(t, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), nil)},
		{"no exp", rejectMissingClaim, idp.sign(t, with(func(c jwt.MapClaims) { delete(c, "exp") }), nil)},
		{"exp as a string", rejectClaimType, idp.sign(t, with(func(c jwt.MapClaims) { c["exp"] = "9999999999" }), nil)},
		{"issued in the future", rejectFuture, idp.sign(t, with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), nil)},
		{"no subject", rejectMissingClaim, idp.sign(t, with(func(c jwt.MapClaims) { delete(c, "sub") }), nil)},
		{"malformed scope", rejectScopeClaim, idp.sign(t, with(func(c jwt.MapClaims) { c["scope"] = "a\"b" }), nil)},
		{"scope as an array", rejectScopeClaim, idp.sign(t, with(func(c jwt.MapClaims) { c["scope"] = []string{"a"} }), nil)},
		{"typ of another token", rejectExternalType, idp.sign(t, idp.claims(), map[string]any{"typ": "id_token+jwt"})},
		{"typ dpop", rejectExternalType, idp.sign(t, idp.claims(), map[string]any{"typ": "dpop+jwt"})},
		{"crit", rejectCrit, idp.sign(t, idp.claims(), map[string]any{"crit": []string{"exp"}})},
		{"jku", rejectKeyHeader, idp.sign(t, idp.claims(), map[string]any{"jku": idp.srv.URL + "/keys"})},
		{"embedded jwk", rejectKeyHeader, idp.sign(t, idp.claims(), map[string]any{"jwk": map[string]string{"kty": "OKP"}})},
		{"no kid", rejectKID, idp.sign(t, idp.claims(), map[string]any{"kid": nil})},
		{"unknown kid", rejectKID, idp.sign(t, idp.claims(), map[string]any{"kid": "nope"})},
		{"alg none", rejectSignature, signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)},
		{"HMAC with the public key", rejectSignature, signWith(jwt.SigningMethodHS256, pub, nil)},
		{"RS256 with the kid of an EdDSA key", rejectKeyAlg, signWith(jwt.SigningMethodRS256, rsaKey, nil)},
		{"altered signature", rejectMalformed, idp.sign(t, idp.claims(), nil)[:20] + "x"},
		{"oversized", rejectLength, strings.Repeat("a", MaxTokenLength+1)},
	}
	cfg := idp.config()
	cfg.Algorithms = []string{"EdDSA", "RS256"} // RS256 is accepted, but not with this key
	x := mustExternal(t, cfg)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := x.Verify(context.Background(), tc.token)
			var te *tokenError
			if !errors.Is(err, ErrInvalidCredentials) || !errors.As(err, &te) || te.reason != tc.want {
				t.Fatalf("err %v, want the rejection %q", err, tc.want)
			}
		})
	}
}

func TestExternalTokensTypAndScopeClaims(t *testing.T) {
	idp := newFakeIdP(t, false)
	ctx := context.Background()
	lax := mustExternal(t, idp.config())
	strictCfg := idp.config()
	strictCfg.RequireATJWT = true
	strict := mustExternal(t, strictCfg)
	for _, tc := range []struct {
		name         string
		header       map[string]any
		laxOK, strOK bool
	}{
		{"at+jwt", nil, true, true},
		{"application/at+JWT", map[string]any{"typ": "application/at+JWT"}, true, true},
		{"JWT", map[string]any{"typ": "JWT"}, true, false},
		{"no typ", map[string]any{"typ": nil}, true, false},
	} {
		token := idp.sign(t, idp.claims(), tc.header)
		if _, err := lax.Verify(ctx, token); (err == nil) != tc.laxOK {
			t.Errorf("%s without OIDC_REQUIRE_AT_JWT: %v", tc.name, err)
		}
		if _, err := strict.Verify(ctx, token); (err == nil) != tc.strOK {
			t.Errorf("%s with OIDC_REQUIRE_AT_JWT: %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name   string
		change func(jwt.MapClaims)
		want   string
	}{
		{"scp array (Okta)", func(c jwt.MapClaims) { delete(c, "scope"); c["scp"] = []string{"write", "read"} }, "read write"},
		{"scp string (Entra ID)", func(c jwt.MapClaims) { delete(c, "scope"); c["scp"] = "write read" }, "read write"},
		{"scope wins over scp", func(c jwt.MapClaims) { c["scope"] = "read"; c["scp"] = []string{"admin"} }, "read"},
		{"no scopes", func(c jwt.MapClaims) { delete(c, "scope") }, ""},
		{"no jti, no iat", func(c jwt.MapClaims) { delete(c, "jti"); delete(c, "iat") }, "a b"},
	} {
		c := idp.claims()
		tc.change(c)
		claims, err := lax.Verify(ctx, idp.sign(t, c, nil))
		if err != nil || claims.Scope != tc.want {
			t.Errorf("%s: scope %q, %v; want %q", tc.name, claims.Scope, err, tc.want)
		}
	}
}

func TestParseExternalJWKSSkipsUnusableKeys(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	x := base64.RawURLEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	keys, err := parseExternalJWKS([]json.RawMessage{
		raw(`{"kty":"OKP","crv":"Ed25519","kid":"good","x":"` + x + `"}`),
		raw(`{"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"` + x + `"}`),
		raw(`{"kty":"OKP","crv":"Ed25519","kid":"mismatch","alg":"RS256","x":"` + x + `"}`),
		raw(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
		raw(`{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}`),
		raw(`{"kty":"OKP","crv":"Ed25519","kid":"twice","x":"` + x + `"}`),
		raw(`{"kty":"OKP","crv":"Ed25519","kid":"twice","x":"` + x + `"}`),
		raw(`{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}`),
	}, []string{"EdDSA", "RS256"})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["good"].pub == nil {
		t.Fatalf("keys %v, want only the good one", keys)
	}
	if _, err := parseExternalJWKS([]json.RawMessage{raw(`{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + x + `"}`)}, []string{"RS256"}); err == nil {
		t.Fatal("a JWKS without a key for the accepted algorithms was accepted")
	}
}

// Tokens are remembered per fetched key set: verified ones until they
// expire, refused ones (form, signature) with their reason. Keys fetched
// again start afresh, so a key the issuer withdrew verifies nothing more.
func TestExternalTokensRemembered(t *testing.T) {
	idp := newFakeIdP(t, false)
	x := mustExternal(t, idp.config())
	ctx := context.Background()
	if err := x.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A check that had to fetch the keys remembers nothing: the keys it
	// used may not be those fetched last. Here they are in hand.
	token := idp.sign(t, idp.claims(), nil)
	if _, err := x.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	ks := x.keys.Load()
	if ks.verified.get(token) == nil {
		t.Fatal("a verified token was not remembered")
	}
	claims, err := x.Verify(ctx, token)
	if err != nil || claims.Subject != "alice" {
		t.Fatalf("remembered token: %+v, %v", claims, err)
	}

	// Another key's signature under a known kid.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, idp.claims())
	forged.Header["kid"], forged.Header["typ"] = idp.current, "at+jwt"
	bad, err := forged.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := x.Verify(ctx, bad)
		var te *tokenError
		if !errors.As(err, &te) || te.reason != rejectSignature {
			t.Fatalf("forged token: %v, want %q", err, rejectSignature)
		}
	}
	if r := ks.refused.reason(bad, time.Now()); r != rejectSignature {
		t.Fatalf("forged token remembered as %q", r)
	}
	// Refused for a claim: checked again each time.
	late := idp.claims()
	late["aud"] = "other"
	wrongAud := idp.sign(t, late, nil)
	for range 2 {
		if _, err := x.Verify(ctx, wrongAud); err == nil {
			t.Fatal("a token for another audience accepted")
		}
	}
	if ks.refused.cache.get(wrongAud) != nil {
		t.Fatal("a token refused for its claims was remembered")
	}

	// The issuer withdraws the key: once the keys are fetched again, its
	// tokens fail, remembered or not.
	idp.mu.Lock()
	delete(idp.keys, idp.current)
	idp.mu.Unlock()
	idp.rotate()
	if err := x.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Verify(ctx, token); err == nil {
		t.Fatal("a token of a withdrawn key was accepted after the keys were fetched again")
	}
	if _, err := x.Verify(ctx, idp.sign(t, idp.claims(), nil)); err != nil {
		t.Fatalf("the new key: %v", err)
	}
}

// BenchmarkExternalVerify: an external token seen before (remembered) and
// one seen for the first time (a signature check: EdDSA here).
func BenchmarkExternalVerify(b *testing.B) {
	idp := newFakeIdP(b, false)
	ctx := context.Background()
	for _, seen := range []bool{true, false} {
		name := map[bool]string{true: "seen", false: "first-seen"}[seen]
		b.Run(name, func(b *testing.B) {
			x, err := NewExternalTokens(idp.config())
			if err != nil {
				b.Fatal(err)
			}
			if err := x.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			token := idp.sign(b, idp.claims(), nil)
			b.ReportAllocs()
			for b.Loop() {
				if !seen {
					x.keys.Load().verified.entries = map[string]*cacheEntry{}
				}
				if _, err := x.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
