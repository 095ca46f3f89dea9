package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// fakeProvider is an OpenID Connect provider for login tests: fakeIdP's
// discovery and keys, plus authorization, token and user-info endpoints.
// It checks PKCE S256, the client and the redirect URI, issues each code
// once, and lets a test change the next ID token.
type fakeProvider struct {
	*fakeIdP
	t                *testing.T
	clientID, secret string
	mu               sync.Mutex
	codes            map[string]fakeGrant
	// user is the profile of whoever logs in.
	user map[string]any
	// deny makes the authorization endpoint answer error=access_denied.
	deny bool
	// idToken, if set, changes the claims and header of the ID tokens
	// issued (a nil header entry is deleted); raw, if set, replaces the
	// whole ID token.
	idToken func(claims jwt.MapClaims, header map[string]any)
	raw     func(signed string) string
	// exchanges counts successful code exchanges.
	exchanges atomic.Int32
}

type fakeGrant struct {
	challenge, nonce, redirect string
	used                       bool
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	p := &fakeProvider{fakeIdP: newFakeIdP(t, true), t: t, clientID: "gatehouse-app", secret: "s3cret",
		codes: map[string]fakeGrant{},
		user:  map[string]any{"sub": "248289761001", "email": "jane@example.com", "email_verified": true, "name": "Jane"},
	}
	base := p.srv.URL
	p.mu.Lock()
	p.discoveryExtra = map[string]any{
		"authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
		"userinfo_endpoint": base + "/userinfo", "id_token_signing_alg_values_supported": []string{"EdDSA"},
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
	}
	p.mu.Unlock()
	p.mux.HandleFunc("GET /authorize", p.authorize)
	p.mux.HandleFunc("POST /token", p.token)
	p.mux.HandleFunc("GET /userinfo", p.userinfo)
	return p
}

func (p *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("client_id") != p.clientID || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	p.mu.Lock()
	if p.deny {
		back.Set("error", "access_denied")
	} else {
		code := rand.Text()
		p.codes[code] = fakeGrant{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
		back.Set("code", code)
	}
	p.mu.Unlock()
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (p *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	fail := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != p.clientID || secret != p.secret {
		fail("invalid_client")
		return
	}
	code := r.PostFormValue("code")
	p.mu.Lock()
	g, ok := p.codes[code]
	if ok {
		p.codes[code] = fakeGrant{used: true}
	}
	user := p.user
	mutate, raw := p.idToken, p.raw
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case r.PostFormValue("grant_type") != "authorization_code" || !ok || g.used:
		fail("invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		fail("invalid_grant") // PKCE: RFC 7636 §4.6
		return
	case r.PostFormValue("redirect_uri") != g.redirect:
		fail("invalid_grant")
		return
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": p.issuer, "aud": p.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": g.nonce}
	for k, v := range user {
		claims[k] = v
	}
	header := map[string]any{"typ": "JWT"}
	if mutate != nil {
		mutate(claims, header)
	}
	idt := p.signHeader(claims, header)
	if raw != nil {
		idt = raw(idt)
	}
	p.exchanges.Add(1)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": "provider-at-" + code, "token_type": "Bearer",
		"expires_in": 300, "id_token": idt})
}

// signHeader is fakeIdP.sign without a testing.T, callable from handlers.
func (p *fakeProvider) signHeader(claims jwt.MapClaims, header map[string]any) string {
	p.fakeIdP.mu.Lock()
	kid, key := p.current, p.keys[p.current]
	p.fakeIdP.mu.Unlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = kid
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func (p *fakeProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer provider-at-") {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	user := p.user
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(user)
}

// loginTest is a server with provider login against a fakeProvider, and a
// browser.
type loginTest struct {
	t        *testing.T
	idp      *fakeProvider
	svc      *Service
	srv      *httptest.Server
	now      atomic.Int64 // offset of the server's clock, in nanoseconds
	returnTo string
}

func newLoginTest(t *testing.T, configure func(*LoginConfig)) *loginTest {
	t.Helper()
	return newLoginTestOn(t, configure, memory.New())
}

// newLoginTestOn is newLoginTest with the service on st.
func newLoginTestOn(t *testing.T, configure func(*LoginConfig), st store.Store) *loginTest {
	t.Helper()
	lt := &loginTest{t: t, idp: newFakeProvider(t), returnTo: "https://app.example/after"}
	mux := http.NewServeMux()
	lt.srv = httptest.NewUnstartedServer(mux)
	lt.srv.StartTLS()
	t.Cleanup(lt.srv.Close)
	ret, _ := url.Parse("https://app.example/")
	lc := LoginConfig{
		Providers: []ProviderConfig{{Name: "fake", Issuer: lt.idp.issuer, ClientID: lt.idp.clientID, ClientSecret: lt.idp.secret,
			Scopes: []string{"openid", "email"}, SubjectClaim: "sub", EmailClaim: "email", EmailVerifiedClaim: "email_verified", NameClaim: "name"}},
		Path: DefaultLoginPath, PublicURL: lt.srv.URL, Policy: PolicyLinked, DefaultScopes: []string{"pets:read"},
		ReturnTo: []*url.URL{ret}, StateTTL: 10 * time.Minute, AllowHTTP: true,
	}
	if configure != nil {
		configure(&lc)
	}
	svc, err := newTestService(Options{}, func() time.Time { return time.Now().Add(time.Duration(lt.now.Load())) },
		st, nil, func(c *Config) { c.Login = lc })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	svc.login.client = lt.idp.srv.Client()
	svc.Mount(mux)
	lt.svc = svc
	return lt
}

// browser returns a client with its own cookie jar that follows redirects
// except to the front end (app.example), which it does not reach.
func (lt *loginTest) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *lt.srv.Client() // a copy: Client returns one shared client
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "app.example" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &c
}

func (lt *loginTest) user(name string, disabled bool, scopes ...string) {
	lt.t.Helper()
	if err := lt.svc.Store().CreateUser(context.Background(), store.User{Username: name, PasswordHash: noPasswordHash, Scopes: scopes, Disabled: disabled}); err != nil {
		lt.t.Fatal(err)
	}
}

func (lt *loginTest) link(subject, username string) {
	lt.t.Helper()
	err := lt.svc.Store().(store.IdentityLinkStore).CreateIdentityLink(context.Background(),
		store.IdentityLink{Issuer: lt.idp.issuer, Subject: subject, Username: username, Provider: "fake"})
	if err != nil {
		lt.t.Fatal(err)
	}
}

func noFollow(c *http.Client) *http.Client {
	c2 := *c
	c2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c2
}

// begin starts a login in the browser and returns the URL the provider
// sends it back to, without following it.
func (lt *loginTest) begin(b *http.Client, query string) *url.URL {
	lt.t.Helper()
	nf := noFollow(b)
	resp := lt.get(nf, lt.srv.URL+"/auth/login/fake"+query)
	if resp.StatusCode != http.StatusFound {
		lt.t.Fatalf("start: status %d, want 302", resp.StatusCode)
	}
	resp = lt.get(nf, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		lt.t.Fatalf("provider: status %d, want 302", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		lt.t.Fatal(err)
	}
	return u
}

func (lt *loginTest) get(c *http.Client, u string) *http.Response {
	lt.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		lt.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// finish follows the callback URL in the browser and returns the answer.
func (lt *loginTest) finish(b *http.Client, callback *url.URL) (*http.Response, map[string]string) {
	lt.t.Helper()
	resp, err := noFollow(b).Get(callback.String())
	if err != nil {
		lt.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

// handOff posts to the session endpoint and returns the status and the
// token response.
func (lt *loginTest) handOff(b *http.Client) (int, tokenResponse) {
	lt.t.Helper()
	resp, err := b.Post(lt.srv.URL+"/auth/login/session", "application/x-www-form-urlencoded", nil)
	if err != nil {
		lt.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	json.NewDecoder(resp.Body).Decode(&tr)
	return resp.StatusCode, tr
}

// login runs the whole flow in a new browser and returns the tokens.
func (lt *loginTest) login() tokenResponse {
	lt.t.Helper()
	b := lt.browser()
	resp, body := lt.finish(b, lt.begin(b, ""))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example/" {
		lt.t.Fatalf("callback: status %d Location %q body %v, want 303 to the front end", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	status, tr := lt.handOff(b)
	if status != http.StatusOK || tr.AccessToken == "" || tr.RefreshToken == "" {
		lt.t.Fatalf("session hand-off: status %d %+v, want tokens", status, tr)
	}
	return tr
}

// refused checks that a callback answer issued nothing: an error status,
// no session cookie, and nothing to hand over.
func (lt *loginTest) refused(b *http.Client, resp *http.Response, body map[string]string, status int, code string) {
	lt.t.Helper()
	if resp.StatusCode != status || body["error"] != code {
		lt.t.Errorf("status %d error %q, want %d %q (%v)", resp.StatusCode, body["error"], status, code, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == loginSessionCookie && c.Value != "" {
			lt.t.Errorf("a session cookie was set")
		}
	}
	if s, _ := lt.handOff(b); s == http.StatusOK {
		lt.t.Errorf("the session endpoint handed over tokens after a refused login")
	}
}

func TestProviderLoginIssuesWorkingTokensAndReusesTheLink(t *testing.T) {
	lt := newLoginTest(t, nil)
	lt.user("jane", false, "pets:read", "pets:write")
	lt.link("248289761001", "jane")
	tr := lt.login()
	claims, err := lt.svc.Tokens().Verify(context.Background(), tr.AccessToken)
	if err != nil || claims.Subject != "jane" || tr.Scope != "pets:read pets:write" {
		t.Fatalf("access token: %v, claims %+v scope %q; want jane's with her scopes", err, claims, tr.Scope)
	}
	// The refresh token works at the token endpoint, and rotates.
	resp, err := lt.srv.Client().PostForm(lt.srv.URL+DefaultTokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: status %d, want 200", resp.StatusCode)
	}
	// A second login reuses the link.
	tr2 := lt.login()
	if c, _ := lt.svc.Tokens().Verify(context.Background(), tr2.AccessToken); c.Subject != "jane" {
		t.Errorf("second login: subject %q, want jane", c.Subject)
	}
	links, _ := lt.svc.Store().(store.IdentityLinkStore).ListIdentityLinks(context.Background())
	if len(links) != 1 {
		t.Errorf("%d links after two logins, want 1", len(links))
	}
}

func TestProviderLoginCreatePolicyCreatesOnceAndLinks(t *testing.T) {
	lt := newLoginTest(t, func(c *LoginConfig) { c.Policy = PolicyCreate })
	tr := lt.login()
	c, _ := lt.svc.Tokens().Verify(context.Background(), tr.AccessToken)
	if c.Subject != "fake-248289761001" || tr.Scope != "pets:read" {
		t.Fatalf("created user %q scope %q, want fake-248289761001 with the default scopes", c.Subject, tr.Scope)
	}
	lt.login()
	users, _ := lt.svc.Store().ListUsers(context.Background())
	links, _ := lt.svc.Store().(store.IdentityLinkStore).ListIdentityLinks(context.Background())
	if len(users) != 1 || len(links) != 1 || links[0].Username != "fake-248289761001" {
		t.Errorf("after two logins: users %v links %v, want one of each", users, links)
	}
	// The created user has no password.
	if _, err := lt.svc.Accounts().Authenticate(context.Background(), "fake-248289761001", "!provider-login", "192.0.2.1"); err == nil {
		t.Error("a user created by a provider login logged in with a password")
	}
}

func TestProviderLoginLinksByEmailOnlyWhenVerified(t *testing.T) {
	lt := newLoginTest(t, func(c *LoginConfig) { c.Policy = PolicyVerifiedEmail })
	lt.user("jane@example.com", false, "pets:read")
	lt.idp.user["email_verified"] = false
	b := lt.browser()
	resp, body := lt.finish(b, lt.begin(b, ""))
	lt.refused(b, resp, body, http.StatusForbidden, "access_denied")
	if links, _ := lt.svc.Store().(store.IdentityLinkStore).ListIdentityLinks(context.Background()); len(links) != 0 {
		t.Fatalf("an unverified email linked the identity: %v", links)
	}
	lt.idp.mu.Lock()
	lt.idp.user = map[string]any{"sub": "248289761001", "email": "Jane@Example.com", "email_verified": true}
	lt.idp.mu.Unlock()
	tr := lt.login()
	if c, _ := lt.svc.Tokens().Verify(context.Background(), tr.AccessToken); c.Subject != "jane@example.com" {
		t.Errorf("verified email: subject %q, want jane@example.com", c.Subject)
	}
}

func TestProviderLoginRefusesUnlinkedIdentityByDefault(t *testing.T) {
	lt := newLoginTest(t, nil)
	lt.user("jane@example.com", false)
	b := lt.browser()
	resp, body := lt.finish(b, lt.begin(b, ""))
	lt.refused(b, resp, body, http.StatusForbidden, "access_denied")
}

func TestProviderLoginRefusesDisabledUser(t *testing.T) {
	lt := newLoginTest(t, nil)
	lt.user("jane", true)
	lt.link("248289761001", "jane")
	b := lt.browser()
	resp, body := lt.finish(b, lt.begin(b, ""))
	lt.refused(b, resp, body, http.StatusForbidden, "access_denied")
}

func TestProviderLoginStateAttacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(lt *loginTest, b *http.Client) (*http.Response, map[string]string)
	}{
		{"missing", func(lt *loginTest, b *http.Client) (*http.Response, map[string]string) {
			cb := lt.begin(b, "")
			q := cb.Query()
			q.Del("state")
			cb.RawQuery = q.Encode()
			return lt.finish(b, cb)
		}},
		{"mismatched", func(lt *loginTest, b *http.Client) (*http.Response, map[string]string) {
			cb := lt.begin(b, "")
			q := cb.Query()
			q.Set("state", q.Get("state")+"x")
			cb.RawQuery = q.Encode()
			return lt.finish(b, cb)
		}},
		{"replayed", func(lt *loginTest, b *http.Client) (*http.Response, map[string]string) {
			cb := lt.begin(b, "")
			if resp, _ := lt.finish(b, cb); resp.StatusCode != http.StatusSeeOther {
				lt.t.Fatalf("first callback: %d", resp.StatusCode)
			}
			if s, _ := lt.handOff(b); s != http.StatusOK {
				lt.t.Fatalf("first hand-off: %d", s)
			}
			return lt.finish(b, cb)
		}},
		{"expired", func(lt *loginTest, b *http.Client) (*http.Response, map[string]string) {
			cb := lt.begin(b, "")
			lt.now.Store(int64(11 * time.Minute))
			return lt.finish(b, cb)
		}},
		{"other browser (login CSRF)", func(lt *loginTest, b *http.Client) (*http.Response, map[string]string) {
			// The attacker's own login, finished in the victim's browser.
			cb := lt.begin(lt.browser(), "")
			return lt.finish(b, cb)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := newLoginTest(t, nil)
			lt.user("jane", false)
			lt.link("248289761001", "jane")
			b := lt.browser()
			resp, body := tc.run(lt, b)
			lt.refused(b, resp, body, http.StatusBadRequest, "invalid_request")
		})
	}
}

func TestProviderLoginCodeAttacks(t *testing.T) {
	t.Run("code replayed", func(t *testing.T) {
		lt := newLoginTest(t, nil)
		lt.user("jane", false)
		lt.link("248289761001", "jane")
		b := lt.browser()
		first := lt.begin(b, "")
		if resp, _ := lt.finish(b, first); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first callback: %d", resp.StatusCode)
		}
		lt.handOff(b)
		// A new login in the same browser, its code replaced by the used one.
		cb := lt.begin(b, "")
		q := cb.Query()
		q.Set("code", first.Query().Get("code"))
		cb.RawQuery = q.Encode()
		resp, body := lt.finish(b, cb)
		lt.refused(b, resp, body, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("PKCE verifier wrong (code injection)", func(t *testing.T) {
		lt := newLoginTest(t, nil)
		lt.user("jane", false)
		lt.link("248289761001", "jane")
		b := lt.browser()
		// A code issued for another login (another challenge), injected
		// into this one's callback: its verifier does not match.
		injected := lt.begin(lt.browser(), "").Query().Get("code")
		cb := lt.begin(b, "")
		q := cb.Query()
		q.Set("code", injected)
		cb.RawQuery = q.Encode()
		resp, body := lt.finish(b, cb)
		lt.refused(b, resp, body, http.StatusBadRequest, "invalid_grant")
		if n := lt.idp.exchanges.Load(); n != 0 {
			t.Errorf("the provider exchanged %d codes", n)
		}
	})
	t.Run("provider error", func(t *testing.T) {
		lt := newLoginTest(t, nil)
		lt.idp.deny = true
		b := lt.browser()
		resp, body := lt.finish(b, lt.begin(b, ""))
		lt.refused(b, resp, body, http.StatusBadRequest, "access_denied")
	})
}

func TestProviderLoginIDTokenAttacks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		idToken func(claims jwt.MapClaims, header map[string]any)
		raw     func(p *fakeProvider) func(string) string
	}{
		{"another audience", func(c jwt.MapClaims, _ map[string]any) { c["aud"] = "another-app" }, nil},
		{"another issuer", func(c jwt.MapClaims, _ map[string]any) { c["iss"] = "https://evil.example" }, nil},
		{"expired", func(c jwt.MapClaims, _ map[string]any) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
		}, nil},
		{"wrong nonce", func(c jwt.MapClaims, _ map[string]any) { c["nonce"] = "replayed-nonce" }, nil},
		{"no nonce", func(c jwt.MapClaims, _ map[string]any) { delete(c, "nonce") }, nil},
		{"unknown key", nil, func(p *fakeProvider) func(string) string {
			other := newFakeIdP(p.t, true)
			return func(string) string {
				c := jwt.MapClaims{"iss": p.issuer, "aud": p.clientID, "sub": "248289761001",
					"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
				// Signed by another issuer's key under the provider's kid.
				p.fakeIdP.mu.Lock()
				kid := p.current
				p.fakeIdP.mu.Unlock()
				return other.sign(p.t, c, map[string]any{"kid": kid, "typ": "JWT"})
			}
		}},
		{"alg none", nil, func(p *fakeProvider) func(string) string {
			return func(signed string) string {
				parts := strings.Split(signed, ".")
				h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
				return h + "." + parts[1] + "."
			}
		}},
		{"signature altered", nil, func(p *fakeProvider) func(string) string {
			return func(signed string) string {
				parts := strings.Split(signed, ".")
				claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
				forged := strings.Replace(string(claims), "248289761001", "000000000001", 1)
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lt := newLoginTest(t, nil)
			lt.user("jane", false)
			lt.link("248289761001", "jane")
			lt.user("other", false)
			lt.link("000000000001", "other")
			lt.idp.t = t
			lt.idp.idToken = tc.idToken
			if tc.raw != nil {
				lt.idp.raw = tc.raw(lt.idp)
			}
			b := lt.browser()
			resp, body := lt.finish(b, lt.begin(b, ""))
			lt.refused(b, resp, body, http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestProviderLoginReturnTo(t *testing.T) {
	lt := newLoginTest(t, func(c *LoginConfig) {
		u, _ := url.Parse("https://app.example/spa/")
		c.ReturnTo = []*url.URL{u}
	})
	lt.user("jane", false)
	lt.link("248289761001", "jane")
	nf := noFollow(lt.browser())
	for _, rt := range []string{
		"https://evil.example/", "https://app.example.evil.example/", "http://app.example/", "//evil.example/",
		"https://app.example@evil.example/", "https://evil.example/?https://app.example/", "/relative",
		"https://app.example:8443/", "https://app.example/spa/../../x", "https://app.example/other", "https://app.example/spa-evil/", "javascript:alert(1)", "https://app.example\\@evil.example/",
	} {
		resp := lt.get(nf, lt.srv.URL+"/auth/login/fake?return_to="+url.QueryEscape(rt))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("return_to %q: status %d, want 400", rt, resp.StatusCode)
		}
	}
	// An allowed one is where the browser lands.
	b := lt.browser()
	resp, _ := lt.finish(b, lt.begin(b, "?return_to="+url.QueryEscape("https://app.example/spa/home?tab=1")))
	if got := resp.Header.Get("Location"); got != "https://app.example/spa/home?tab=1" {
		t.Errorf("Location %q, want the allowed return_to", got)
	}
}

func TestProviderLoginSessionHandOffIsSingleUse(t *testing.T) {
	lt := newLoginTest(t, nil)
	lt.user("jane", false)
	lt.link("248289761001", "jane")
	b := lt.browser()
	resp, _ := lt.finish(b, lt.begin(b, ""))
	var handOff *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == loginSessionCookie {
			handOff = c
		}
	}
	if handOff == nil || !handOff.HttpOnly || !handOff.Secure || handOff.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v, want HttpOnly, Secure, SameSite=Strict", handOff)
	}
	if strings.Contains(resp.Header.Get("Location"), handOff.Value) {
		t.Fatal("the session token is in the redirect URL")
	}
	status, tr := lt.handOff(b)
	if status != http.StatusOK {
		t.Fatalf("hand-off: %d", status)
	}
	// Replaying the cookie (stolen) ends the session it started.
	req, _ := http.NewRequest(http.MethodPost, lt.srv.URL+"/auth/login/session", nil)
	req.AddCookie(&http.Cookie{Name: loginSessionCookie, Value: handOff.Value})
	r2, err := lt.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed hand-off: %d, want 400", r2.StatusCode)
	}
	lt.svc.rev.Sync(context.Background())
	if _, err := lt.svc.Tokens().Verify(context.Background(), tr.AccessToken); err == nil {
		t.Error("the session survived a replayed hand-off")
	}
	// Another origin may not take over a login.
	req, _ = http.NewRequest(http.MethodPost, lt.srv.URL+"/auth/login/session", nil)
	req.Header.Set("Origin", "https://evil.example")
	if r3, err := b.Do(req); err != nil || r3.StatusCode != http.StatusForbidden {
		t.Errorf("hand-off from another origin: %v %v, want 403", r3.StatusCode, err)
	}
}

func TestProviderLoginStateCookie(t *testing.T) {
	lt := newLoginTest(t, nil)
	resp := lt.get(noFollow(lt.browser()), lt.srv.URL+"/auth/login/fake")
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == loginStateCookie {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 {
		t.Fatalf("state cookie %+v, want HttpOnly, Secure, SameSite=Lax, 10 minutes", c)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("code_verifier") != "" {
		t.Errorf("authorization request %v: want state, nonce and an S256 challenge, no verifier", q)
	}
	if strings.Contains(loc.RawQuery, c.Value) {
		t.Error("the browser binding is in the authorization URL")
	}
	if r := lt.get(lt.browser(), lt.srv.URL+"/auth/login/nosuch"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown provider: %d, want 404", r.StatusCode)
	}
}

func TestProviderLoginPlainOAuth2(t *testing.T) {
	var idp *fakeProvider
	lt := newLoginTest(t, func(c *LoginConfig) {
		c.Policy = PolicyCreate
	})
	idp = lt.idp
	// Reconfigure as a plain OAuth2 provider (GitHub-like: numeric id, no
	// verified-email claim).
	p := lt.svc.login.providers["fake"]
	p.cfg = ProviderConfig{Name: "fake", AuthURL: idp.srv.URL + "/authorize", TokenURL: idp.srv.URL + "/token",
		UserInfoURL: idp.srv.URL + "/userinfo", ClientID: idp.clientID, ClientSecret: idp.secret,
		SubjectClaim: "id", EmailClaim: "email", NameClaim: "login"}
	p.issuer = p.cfg.LinkIssuer()
	idp.user = map[string]any{"id": json.Number("583231"), "login": "octocat", "email": "jane@example.com"}
	lt.user("jane@example.com", false)
	tr := lt.login()
	c, _ := lt.svc.Tokens().Verify(context.Background(), tr.AccessToken)
	if c.Subject != "fake-583231" {
		t.Errorf("subject %q, want fake-583231 (an email without a verified flag never links)", c.Subject)
	}
}

func TestLoadLoginConfig(t *testing.T) {
	env := map[string]string{
		"LOGIN_PROVIDERS": "Google,github", "LOGIN_PUBLIC_URL": "https://api.example.com/",
		"LOGIN_RETURN_TO":        "https://app.example.com/",
		"LOGIN_GOOGLE_ISSUER":    "https://accounts.google.com",
		"LOGIN_GOOGLE_CLIENT_ID": "g", "LOGIN_GOOGLE_CLIENT_SECRET": "gs",
		"LOGIN_GITHUB_AUTH_URL": "https://github.com/login/oauth/authorize", "LOGIN_GITHUB_TOKEN_URL": "https://github.com/login/oauth/access_token",
		"LOGIN_GITHUB_USERINFO_URL": "https://api.github.com/user", "LOGIN_GITHUB_CLIENT_ID": "h", "LOGIN_GITHUB_CLIENT_SECRET": "hs",
		"LOGIN_GITHUB_SUBJECT_CLAIM": "id", "LOGIN_GITHUB_SCOPES": "read:user",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, errs := loadLoginConfig(lookup, false)
	if len(errs) != 0 {
		t.Fatal(errors.Join(errs...))
	}
	if len(c.Providers) != 2 || c.Providers[0].Name != "github" || c.Providers[1].Name != "google" || c.Policy != PolicyLinked ||
		c.PublicURL != "https://api.example.com" || c.Providers[0].LinkIssuer() != "https://github.com" ||
		c.Providers[0].EmailVerifiedClaim != "" || c.Providers[1].EmailVerifiedClaim != "email_verified" {
		t.Errorf("config %+v", c)
	}
	for k, want := range map[string]string{
		"LOGIN_GOOGLE_CLIENT_SECRET": "LOGIN_GOOGLE_CLIENT_SECRET: is required",
		"LOGIN_RETURN_TO":            "LOGIN_RETURN_TO: is required",
		"LOGIN_GITHUB_TOKEN_URL":     "LOGIN_GITHUB_TOKEN_URL: is required",
	} {
		old := env[k]
		delete(env, k)
		_, errs := loadLoginConfig(lookup, false)
		if !strings.Contains(errors.Join(errs...).Error(), want) {
			t.Errorf("without %s: %v, want %q", k, errs, want)
		}
		env[k] = old
	}
	// A plain provider at the OIDC issuer's origin would share its subjects.
	env["LOGIN_PROVIDERS"] = "google,github,gplain"
	for k, v := range map[string]string{"AUTH_URL": "https://accounts.google.com/o/oauth2/v2/auth", "TOKEN_URL": "https://oauth2.googleapis.com/token",
		"USERINFO_URL": "https://openidconnect.googleapis.com/v1/userinfo", "CLIENT_ID": "p", "CLIENT_SECRET": "ps"} {
		env["LOGIN_GPLAIN_"+k] = v
	}
	_, errs = loadLoginConfig(lookup, false)
	if msg := errors.Join(errs...).Error(); !strings.Contains(msg, "providers google and gplain both link identities under the issuer https://accounts.google.com") {
		t.Errorf("two providers under one issuer: %v", msg)
	}
	env["LOGIN_PROVIDERS"] = "google,github"

	env["LOGIN_ACCOUNT_POLICY"] = "anyone"
	env["LOGIN_PUBLIC_URL"] = "http://api.example.com"
	_, errs = loadLoginConfig(lookup, false)
	if msg := errors.Join(errs...).Error(); !strings.Contains(msg, "LOGIN_ACCOUNT_POLICY") || !strings.Contains(msg, "LOGIN_PUBLIC_URL") {
		t.Errorf("bad policy and http public URL: %v", msg)
	}
}
