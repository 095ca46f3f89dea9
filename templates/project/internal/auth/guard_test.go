package auth

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// gdAccounts is a fake AccountVerifier: two users and two API keys.
type gdAccounts struct {
	mu         sync.Mutex
	basicCalls int
	keyCalls   int
	err        error // returned by every call when set
}

func (a *gdAccounts) VerifyBasic(_ *http.Request, username, password string) (*Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.basicCalls++
	if a.err != nil {
		return nil, a.err
	}
	switch {
	case username == "alice" && password == "pw:alice":
		return &Principal{Subject: "alice", Scopes: []string{"admin", "read"}}, nil
	case username == "bob" && password == "pw:bob":
		return &Principal{Subject: "bob", Scopes: []string{"read"}}, nil
	}
	return nil, fmt.Errorf("fake: %w", ErrInvalidCredentials)
}

func (a *gdAccounts) VerifyAPIKey(_ *http.Request, key string) (*Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keyCalls++
	if a.err != nil {
		return nil, a.err
	}
	switch key {
	case "key-alice":
		return &Principal{Subject: "alice", Scopes: []string{"write", "read"}, TokenID: "k-alice"}, nil
	case "key-bob":
		return &Principal{Subject: "bob", Scopes: []string{"read"}, TokenID: "k-bob"}, nil
	}
	return nil, ErrInvalidCredentials
}

func (a *gdAccounts) calls() (basic, key int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.basicCalls, a.keyCalls
}

var gdSchemes = []Scheme{
	{Name: "bearer", Kind: KindBearer},
	{Name: "oauth", Kind: KindOAuth2},
	{Name: "basic", Kind: KindBasic},
	{Name: "headerKey", Kind: KindAPIKey, In: "header", Param: "X-API-Key"},
	{Name: "queryKey", Kind: KindAPIKey, In: "query", Param: "api_key"},
	{Name: "cookieKey", Kind: KindAPIKey, In: "cookie", Param: "session"},
	{Name: "mtls", Kind: KindCustom},   // verified by a custom verifier
	{Name: "digest", Kind: KindCustom}, // no verifier: denies
}

type gdFixture struct {
	tk    *tkFixture
	acc   *gdAccounts
	guard *Guard
	logs  *bytes.Buffer
	// tokens: alice with scope read, alice with read and write, bob.
	alice, aliceRW, bob string
}

func gdSetup(t *testing.T) *gdFixture {
	t.Helper()
	f := &gdFixture{tk: tkSetup(t), acc: &gdAccounts{}, logs: &bytes.Buffer{}}
	var err error
	f.guard, err = NewGuard(GuardConfig{
		Schemes:  gdSchemes,
		Tokens:   f.tk.tokens,
		Accounts: f.acc,
		Custom: map[string]CustomVerifier{"mtls": func(r *http.Request, s Scheme) (*Principal, error) {
			switch r.Header.Get("X-Test-Cert") {
			case "":
				return nil, nil
			case "alice":
				return &Principal{Subject: "alice"}, nil
			}
			return nil, ErrInvalidCredentials
		}},
		Realm:  "test",
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.alice, _ = f.tk.issue(t, "alice", "read")
	f.aliceRW, _ = f.tk.issue(t, "alice", "read", "write")
	f.bob, _ = f.tk.issue(t, "bob")
	return f
}

// gdEcho answers with the request's principal, or {"anonymous":true}.
var gdEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		p = &Principal{Subject: "anonymous"}
	}
	_ = json.NewEncoder(w).Encode(p)
})

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// gdResult is what a test looks at in a response.
type gdResult struct {
	status     int
	principal  Principal
	errorCode  string
	challenges []string
	header     http.Header
	body       string
}

func gdServe(t *testing.T, h http.Handler, req *http.Request) gdResult {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := gdResult{status: rec.Code, header: rec.Header(), body: rec.Body.String(), challenges: rec.Header().Values("WWW-Authenticate")}
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.principal); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		return res
	}
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	res.errorCode = body.Error
	return res
}

func gdRequest(method, target string, headers ...string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

// gdReq builds a requirement: scheme names, each optionally followed by
// its scopes as a []string.
func gdReq(schemes ...any) Requirement {
	var r Requirement
	for i := 0; i < len(schemes); i++ {
		sr := SchemeRequirement{Scheme: schemes[i].(string)}
		if i+1 < len(schemes) {
			if scopes, ok := schemes[i+1].([]string); ok {
				sr.Scopes = scopes
				i++
			}
		}
		r = append(r, sr)
	}
	return r
}

func TestGuardEnforcesPolicies(t *testing.T) {
	f := gdSetup(t)
	const (
		bearerChallenge  = `Bearer realm="test"`
		invalidChallenge = `Bearer realm="test", error="invalid_token"`
		basicChallenge   = `Basic realm="test", charset="UTF-8"`
		keyChallenge     = `APIKey realm="test", in="header", name="X-API-Key"`
	)
	var (
		bearer     = Policy{gdReq("bearer")}
		bearerW    = Policy{gdReq("bearer", []string{"write"})}
		orPolicy   = Policy{gdReq("bearer"), gdReq("basic")}
		andPolicy  = Policy{gdReq("bearer", "headerKey")}
		anonPolicy = Policy{gdReq("bearer"), {}}
		basicAdmin = Policy{gdReq("basic", []string{"admin"})}
		headerKey  = Policy{gdReq("headerKey")}
		queryKey   = Policy{gdReq("queryKey")}
		cookieKey  = Policy{gdReq("cookieKey")}
		every      = Policy{gdReq("bearer"), gdReq("oauth"), gdReq("basic"), gdReq("headerKey")}
		// The first requirement fails on scope; nothing of it may leak into
		// the principal of the second.
		leak = Policy{gdReq("bearer", []string{"admin"}, "headerKey"), gdReq("headerKey")}
	)
	auth := func(v string) []string { return []string{"Authorization", v} }
	get := func(headers ...string) *http.Request { return gdRequest(http.MethodGet, "/", headers...) }

	for _, tc := range []struct {
		name       string
		policy     Policy
		req        *http.Request
		status     int
		subject    string   // for 200: "anonymous" when no principal
		schemes    []string // for 200
		scopes     []string // for 200
		challenges []string // checked when not nil
		errorCode  string   // checked for errors when set
	}{
		{name: "public ignores credentials", policy: Policy{}, req: get(auth("Bearer garbage")...), status: 200, subject: "anonymous"},
		{name: "bearer", policy: bearer, req: get(auth("Bearer " + f.alice)...), status: 200, subject: "alice", schemes: []string{"bearer"}, scopes: []string{"read"}},
		{name: "bearer scheme name in lower case", policy: bearer, req: get(auth("bearer " + f.alice)...), status: 200, subject: "alice"},
		{name: "bearer scheme name in capitals", policy: bearer, req: get(auth("BEARER " + f.alice)...), status: 200, subject: "alice"},
		{name: "bearer missing", policy: bearer, req: get(), status: 401, challenges: []string{bearerChallenge}, errorCode: "unauthorized"},
		{name: "bearer invalid", policy: bearer, req: get(auth("Bearer " + f.alice + "x")...), status: 401, challenges: []string{invalidChallenge}, errorCode: "invalid_token"},
		{name: "bearer with two spaces", policy: bearer, req: get(auth("Bearer  " + f.alice)...), status: 401, challenges: []string{invalidChallenge}},
		{name: "bearer with a tab", policy: bearer, req: get(auth("Bearer\t" + f.alice)...), status: 401, challenges: []string{invalidChallenge}},
		{name: "bearer without a token", policy: bearer, req: get(auth("Bearer")...), status: 401, challenges: []string{invalidChallenge}},
		{name: "bearer with two tokens", policy: bearer, req: get(auth("Bearer " + f.alice + " " + f.alice)...), status: 401},
		{name: "bearer token outside b64token", policy: bearer, req: get(auth("Bearer " + f.alice + "!")...), status: 401},
		{name: "bearer token in the query", policy: bearer, req: gdRequest("GET", "/?access_token="+f.alice), status: 401, challenges: []string{bearerChallenge}},
		{name: "bearer token in a form body", policy: bearer, req: func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("access_token="+f.alice))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(), status: 401},
		{name: "basic credential on a bearer route", policy: bearer, req: get(auth(basicAuth("alice", "pw:alice"))...), status: 401, challenges: []string{bearerChallenge}},
		{name: "two Authorization headers", policy: bearer, req: get("Authorization", "Bearer "+f.alice, "Authorization", "Bearer "+f.alice), status: 400, errorCode: "invalid_request"},
		{name: "scope missing", policy: bearerW, req: get(auth("Bearer " + f.alice)...), status: 403,
			challenges: []string{`Bearer realm="test", error="insufficient_scope", scope="write"`}, errorCode: "insufficient_scope"},
		{name: "scope granted", policy: bearerW, req: get(auth("Bearer " + f.aliceRW)...), status: 200, subject: "alice", scopes: []string{"read", "write"}},
		{name: "or: second alternative", policy: orPolicy, req: get(auth(basicAuth("alice", "pw:alice"))...), status: 200, subject: "alice", schemes: []string{"basic"}, scopes: []string{"admin", "read"}},
		{name: "or: first alternative", policy: orPolicy, req: get(auth("Bearer " + f.bob)...), status: 200, subject: "bob", schemes: []string{"bearer"}},
		{name: "or: neither", policy: orPolicy, req: get(), status: 401, challenges: []string{bearerChallenge, basicChallenge}},
		{name: "and: both", policy: andPolicy, req: get("Authorization", "Bearer "+f.alice, "X-API-Key", "key-alice"), status: 200,
			subject: "alice", schemes: []string{"bearer", "headerKey"}, scopes: []string{"read", "write"}},
		{name: "and: one half", policy: andPolicy, req: get(auth("Bearer " + f.alice)...), status: 401, challenges: []string{bearerChallenge, keyChallenge}},
		{name: "and: other half", policy: andPolicy, req: get("X-API-Key", "key-alice"), status: 401},
		{name: "and: two subjects", policy: andPolicy, req: get("Authorization", "Bearer "+f.alice, "X-API-Key", "key-bob"), status: 401},
		{name: "and: one half invalid", policy: andPolicy, req: get("Authorization", "Bearer "+f.alice, "X-API-Key", "nope"), status: 401},
		{name: "nothing leaks from a failed requirement", policy: leak, req: get("Authorization", "Bearer "+f.alice, "X-API-Key", "key-alice"), status: 200,
			subject: "alice", schemes: []string{"headerKey"}, scopes: []string{"read", "write"}},
		{name: "anonymous alternative without credentials", policy: anonPolicy, req: get(), status: 200, subject: "anonymous"},
		{name: "anonymous alternative with a good token", policy: anonPolicy, req: get(auth("Bearer " + f.alice)...), status: 200, subject: "alice"},
		{name: "anonymous alternative with a bad token", policy: anonPolicy, req: get(auth("Bearer nope")...), status: 401, challenges: []string{invalidChallenge}},
		{name: "anonymous alternative with too little scope", policy: Policy{gdReq("bearer", []string{"write"}), {}}, req: get(auth("Bearer " + f.alice)...), status: 200, subject: "anonymous"},
		{name: "anonymous alternative with a bad password", policy: Policy{gdReq("basic"), {}}, req: get(auth(basicAuth("alice", "wrong"))...), status: 401},
		{name: "role granted", policy: basicAdmin, req: get(auth(basicAuth("alice", "pw:alice"))...), status: 200, subject: "alice"},
		{name: "role missing", policy: basicAdmin, req: get(auth(basicAuth("bob", "pw:bob"))...), status: 403, challenges: []string{}, errorCode: "insufficient_scope"},
		{name: "basic wrong password", policy: basicAdmin, req: get(auth(basicAuth("alice", "pw:bob"))...), status: 401, challenges: []string{basicChallenge}},
		{name: "basic unknown user", policy: basicAdmin, req: get(auth(basicAuth("carol", "pw:carol"))...), status: 401, challenges: []string{basicChallenge}},
		{name: "basic password with a colon", policy: basicAdmin, req: get(auth(basicAuth("alice", "pw:alice:"))...), status: 401},
		{name: "api key in its header", policy: headerKey, req: get("X-API-Key", "key-alice"), status: 200, subject: "alice", schemes: []string{"headerKey"}},
		{name: "api key in its query parameter", policy: queryKey, req: gdRequest("GET", "/?api_key=key-bob"), status: 200, subject: "bob"},
		{name: "api key in its cookie", policy: cookieKey, req: get("Cookie", "session=key-alice"), status: 200, subject: "alice"},
		{name: "api key header sent twice", policy: headerKey, req: get("X-API-Key", "key-alice", "X-API-Key", "key-alice"), status: 400},
		{name: "api key in header and query", policy: headerKey, req: gdRequest("GET", "/?X-API-Key=key-alice", "X-API-Key", "key-alice"), status: 400},
		{name: "api key query parameter sent twice", policy: queryKey, req: gdRequest("GET", "/?api_key=key-bob&api_key=key-bob"), status: 400},
		{name: "api key cookie sent twice", policy: cookieKey, req: get("Cookie", "session=key-alice; session=key-alice"), status: 400},
		{name: "api key in the wrong place", policy: headerKey, req: gdRequest("GET", "/?X-API-Key=key-alice"), status: 401},
		{name: "api key cookie for a header scheme", policy: headerKey, req: get("Cookie", "X-API-Key=key-alice"), status: 401},
		{name: "api key empty", policy: headerKey, req: get("X-API-Key", ""), status: 401},
		{name: "api key unknown", policy: headerKey, req: get("X-API-Key", "nope"), status: 401, challenges: []string{keyChallenge}},
		{name: "api key too long", policy: headerKey, req: get("X-API-Key", strings.Repeat("k", 600)), status: 401},
		{name: "api key locations of two schemes", policy: Policy{gdReq("headerKey"), gdReq("queryKey")}, req: gdRequest("GET", "/?api_key=key-bob"), status: 200, subject: "bob", schemes: []string{"queryKey"}},
		{name: "one challenge per acceptable scheme", policy: every, req: get(), status: 401, challenges: []string{bearerChallenge, basicChallenge, keyChallenge}},
		{name: "oauth2 scheme takes bearer tokens", policy: Policy{gdReq("oauth")}, req: get(auth("Bearer " + f.alice)...), status: 200, subject: "alice", schemes: []string{"oauth"}},
		{name: "custom scheme with a verifier", policy: Policy{gdReq("mtls")}, req: get("X-Test-Cert", "alice"), status: 200, subject: "alice"},
		{name: "custom scheme refusing", policy: Policy{gdReq("mtls")}, req: get("X-Test-Cert", "mallory"), status: 401, challenges: []string{`mtls realm="test"`}},
		{name: "custom scheme without a verifier", policy: Policy{gdReq("digest")}, req: get(auth("Digest username=alice")...), status: 401, challenges: []string{`digest realm="test"`}},
		{name: "policy naming an unknown scheme", policy: Policy{gdReq("nope")}, req: get(auth("Bearer " + f.alice)...), status: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := gdServe(t, f.guard.Protect(tc.policy, gdEcho), tc.req)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", res.status, tc.status, res.body)
			}
			if tc.challenges != nil && !slices.Equal(res.challenges, tc.challenges) {
				t.Errorf("challenges %q, want %q", res.challenges, tc.challenges)
			}
			if tc.status != 200 {
				if tc.errorCode != "" && res.errorCode != tc.errorCode {
					t.Errorf("error %q, want %q", res.errorCode, tc.errorCode)
				}
				if tc.status == 401 && len(res.challenges) == 0 {
					t.Error("401 without a WWW-Authenticate challenge")
				}
				return
			}
			p := res.principal
			if p.Subject != tc.subject {
				t.Errorf("subject %q, want %q", p.Subject, tc.subject)
			}
			if tc.schemes != nil && !slices.Equal(p.Schemes, tc.schemes) {
				t.Errorf("schemes %q, want %q", p.Schemes, tc.schemes)
			}
			if tc.scopes != nil && !slices.Equal(p.Scopes, tc.scopes) {
				t.Errorf("scopes %q, want %q", p.Scopes, tc.scopes)
			}
			if cc := res.header.Get("Cache-Control"); tc.subject != "anonymous" && cc != "no-store" {
				t.Errorf("Cache-Control %q on an authenticated response", cc)
			}
		})
	}
}

func TestGuardRefusesMalformedBasicWithoutVerifying(t *testing.T) {
	f := gdSetup(t)
	h := f.guard.Protect(Policy{gdReq("basic")}, gdEcho)
	b64 := base64.StdEncoding.EncodeToString
	for name, value := range map[string]string{
		"bad base64":             "Basic !!!notbase64",
		"unpadded base64":        "Basic " + strings.TrimRight(b64([]byte("alice:pw:alic")), "="),
		"no colon":               "Basic " + b64([]byte("alice")),
		"empty user-id":          "Basic " + b64([]byte(":pw:alice")),
		"control character":      "Basic " + b64([]byte("alice:pw\x00alice")),
		"newline in user-id":     "Basic " + b64([]byte("ali\nce:pw:alice")),
		"invalid UTF-8":          "Basic " + b64([]byte("alice:\xff\xfe")),
		"two spaces":             "Basic  " + b64([]byte("alice:pw:alice")),
		"nothing after the name": "Basic",
		"oversized":              "Basic " + b64([]byte("alice:"+strings.Repeat("p", 4000))),
	} {
		t.Run(name, func(t *testing.T) {
			res := gdServe(t, h, gdRequest("GET", "/", "Authorization", value))
			if res.status != 401 {
				t.Fatalf("status %d, want 401", res.status)
			}
			if !slices.Contains(res.challenges, `Basic realm="test", charset="UTF-8"`) {
				t.Errorf("challenges %q", res.challenges)
			}
		})
	}
	if basic, _ := f.acc.calls(); basic != 0 {
		t.Errorf("the verifier was called %d times for malformed credentials", basic)
	}
}

func TestGuardVerifiesEachCredentialOnce(t *testing.T) {
	f := gdSetup(t)
	// Bob fails the first requirement on role and passes the second.
	h := f.guard.Protect(Policy{gdReq("basic", []string{"admin"}), gdReq("basic", "headerKey"), gdReq("basic")}, gdEcho)
	res := gdServe(t, h, gdRequest("GET", "/", "Authorization", basicAuth("bob", "pw:bob"), "X-API-Key", "key-alice"))
	// key-alice authenticates alice, not bob: the second requirement fails too.
	if res.status != 200 || res.principal.Subject != "bob" || !slices.Equal(res.principal.Schemes, []string{"basic"}) {
		t.Fatalf("%d %+v", res.status, res.principal)
	}
	if basic, key := f.acc.calls(); basic != 1 || key != 1 {
		t.Errorf("verifier calls: basic %d, api key %d; want 1 each", basic, key)
	}
}

func TestGuardThrottledAndInternalFailures(t *testing.T) {
	f := gdSetup(t)
	h := f.guard.Protect(Policy{gdReq("basic"), gdReq("headerKey")}, gdEcho)

	f.acc.err = &ThrottledError{RetryAfter: 1500 * time.Millisecond}
	res := gdServe(t, h, gdRequest("GET", "/", "Authorization", basicAuth("alice", "pw:alice")))
	if res.status != 429 || res.header.Get("Retry-After") != "2" {
		t.Errorf("throttled: %d, Retry-After %q; want 429 and 2", res.status, res.header.Get("Retry-After"))
	}

	f.acc.err = fmt.Errorf("store: %w", errors.New("database is locked at /var/lib/app.db"))
	res = gdServe(t, h, gdRequest("GET", "/", "X-API-Key", "key-alice"))
	if res.status != 503 || res.errorCode != "temporarily_unavailable" {
		t.Errorf("internal: %d %q", res.status, res.errorCode)
	}
	if strings.Contains(res.body, "database") || strings.Contains(res.body, "/var") {
		t.Errorf("the body reveals internals: %s", res.body)
	}
	// A verifier answering neither principal nor error fails closed.
	f.acc.err = nil
	g, _ := NewGuard(GuardConfig{Schemes: gdSchemes, Tokens: f.tk.tokens, Accounts: nilAccounts{}})
	if res := gdServe(t, g.Protect(Policy{gdReq("basic")}, gdEcho), gdRequest("GET", "/", "Authorization", basicAuth("a", "b"))); res.status != 503 {
		t.Errorf("nil principal: %d, want 503", res.status)
	}
}

type nilAccounts struct{}

func (nilAccounts) VerifyBasic(*http.Request, string, string) (*Principal, error) { return nil, nil }
func (nilAccounts) VerifyAPIKey(*http.Request, string) (*Principal, error)        { return nil, nil }

func TestGuardCookieCredentialsAndCrossOriginRequests(t *testing.T) {
	f := gdSetup(t)
	h := f.guard.Protect(Policy{gdReq("cookieKey")}, gdEcho)
	for _, tc := range []struct {
		method, site string
		status       int
	}{
		{"POST", "cross-site", 403},
		{"DELETE", "same-site", 403},
		{"POST", "same-origin", 200},
		{"POST", "", 200}, // not a browser
		{"GET", "cross-site", 200},
	} {
		r := gdRequest(tc.method, "/", "Cookie", "session=key-alice")
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		if res := gdServe(t, h, r); res.status != tc.status {
			t.Errorf("%s from %q: %d, want %d", tc.method, tc.site, res.status, tc.status)
		}
	}
	// Bearer tokens are not sent by browsers on their own: no CSRF check.
	r := gdRequest("POST", "/", "Authorization", "Bearer "+f.alice, "Sec-Fetch-Site", "cross-site")
	if res := gdServe(t, f.guard.Protect(Policy{gdReq("bearer")}, gdEcho), r); res.status != 200 {
		t.Errorf("cross-site bearer POST: %d", res.status)
	}
}

// Browsers resend Basic credentials as they do cookies, cross-site requests
// included: an unsafe cross-origin request authenticated by Basic is
// refused before the password is checked.
func TestGuardBasicCredentialsAndCrossOriginRequests(t *testing.T) {
	f := gdSetup(t)
	h := f.guard.Protect(Policy{gdReq("basic")}, gdEcho)
	for _, tc := range []struct {
		method string
		header []string
		status int
	}{
		{"POST", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"PUT", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"DELETE", []string{"Origin", "https://evil.example"}, 403}, // a browser without Sec-Fetch-Site
		{"POST", []string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"POST", []string{"Origin", "http://example.com"}, 200}, // the request's own host
		{"POST", nil, 200}, // not a browser
		{"GET", []string{"Sec-Fetch-Site", "cross-site"}, 200},
	} {
		r := gdRequest(tc.method, "http://example.com/", append([]string{"Authorization", basicAuth("alice", "pw:alice")}, tc.header...)...)
		before, _ := f.acc.calls()
		res := gdServe(t, h, r)
		if res.status != tc.status {
			t.Errorf("%s with %q: %d, want %d", tc.method, tc.header, res.status, tc.status)
		}
		if after, _ := f.acc.calls(); tc.status == 403 && after != before {
			t.Errorf("%s with %q: the password was checked", tc.method, tc.header)
		}
	}
}

// Over a real connection, header names arrive in any case and repeated
// header lines stay separate.
func TestGuardOnTheWire(t *testing.T) {
	f := gdSetup(t)
	mux := http.NewServeMux()
	mux.Handle("/bearer", f.guard.Protect(Policy{gdReq("bearer")}, gdEcho))
	mux.Handle("/key", f.guard.Protect(Policy{gdReq("headerKey")}, gdEcho))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tc := range []struct {
		name, path string
		headers    []string
		status     int
	}{
		{"lower-case header name", "/bearer", []string{"authorization: bearer " + f.alice}, 200},
		{"two Authorization lines", "/bearer", []string{"Authorization: Bearer " + f.alice, "authorization: Bearer " + f.alice}, 400},
		{"api key header name in lower case", "/key", []string{"x-api-key: key-alice"}, 200},
		{"api key header twice in different cases", "/key", []string{"X-API-Key: key-alice", "x-api-key: key-alice"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s\r\n\r\n", tc.path, strings.Join(tc.headers, "\r\n"))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestGuardPrincipalIsPerRequest(t *testing.T) {
	f := gdSetup(t)
	h := f.guard.Protect(Policy{gdReq("bearer")}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		if !slices.Equal(p.Scopes, []string{"read", "write"}) {
			t.Errorf("scopes %q", p.Scopes)
		}
		p.Scopes[0] = "admin" // a careless handler
		p.Schemes[0] = "other"
	}))
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), gdRequest("GET", "/", "Authorization", "Bearer "+f.aliceRW))
	}
}

func TestNewGuardRefusesMissingVerifiers(t *testing.T) {
	tk := tkSetup(t)
	for name, cfg := range map[string]GuardConfig{
		"token scheme without tokens": {Schemes: []Scheme{{Name: "b", Kind: KindBearer}}, Accounts: &gdAccounts{}},
		"basic without accounts":      {Schemes: []Scheme{{Name: "b", Kind: KindBasic}}, Tokens: tk.tokens},
		"api key without accounts":    {Schemes: []Scheme{{Name: "k", Kind: KindAPIKey, In: "header", Param: "K"}}, Tokens: tk.tokens},
		"api key in a bad place":      {Schemes: []Scheme{{Name: "k", Kind: KindAPIKey, In: "body", Param: "K"}}, Accounts: &gdAccounts{}},
		"api key without a name":      {Schemes: []Scheme{{Name: "k", Kind: KindAPIKey, In: "header"}}, Accounts: &gdAccounts{}},
		"unknown kind":                {Schemes: []Scheme{{Name: "x", Kind: 99}}},
		"duplicate scheme":            {Schemes: []Scheme{{Name: "c", Kind: KindCustom}, {Name: "c", Kind: KindCustom}}},
		"custom verifier for a non-custom scheme": {
			Schemes: []Scheme{{Name: "b", Kind: KindBearer}}, Tokens: tk.tokens,
			Custom: map[string]CustomVerifier{"b": func(*http.Request, Scheme) (*Principal, error) { return nil, nil }},
		},
		"bad trusted origin": {TrustedOrigins: []string{"not an origin"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewGuard(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewGuard(GuardConfig{Schemes: []Scheme{{Name: "c", Kind: KindCustom}}}); err != nil {
		t.Errorf("a custom scheme without a verifier must deny, not fail startup: %v", err)
	}
}

func TestGuardLogsWithoutSecrets(t *testing.T) {
	f := gdSetup(t)
	revokedTok, claims := f.tk.issue(t, "alice")
	f.tk.rev.Deny(store.DeniedToken{JTI: claims.ID, ExpiresAt: claims.ExpiresAt})

	// At DEBUG every event is logged, successes included.
	f.guard.log = slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := f.guard.Protect(Policy{gdReq("bearer"), gdReq("basic"), gdReq("queryKey")}, gdEcho)
	requests := []*http.Request{
		gdRequest("GET", "/ok", "Authorization", "Bearer "+f.alice, "X-Request-Id", "req-1"),
		gdRequest("GET", "/bad", "Authorization", "Bearer "+f.alice+"x"),
		gdRequest("GET", "/revoked", "Authorization", "Bearer "+revokedTok),
		gdRequest("GET", "/pw", "Authorization", basicAuth("alice", "hunter2-secret")),
		gdRequest("GET", "/key?api_key=key-bob"),
		gdRequest("GET", "/inject", "X-Request-Id", "evil\n{\"level\":\"INFO\",\"msg\":\"forged\"}"),
	}
	for i, r := range requests {
		// Failures are logged once a minute per address: one each.
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
		mux.ServeHTTP(httptest.NewRecorder(), r)
	}
	out := f.logs.String()
	for _, secret := range []string{f.alice, "hunter2-secret", basicAuth("alice", "hunter2-secret")[6:], "key-bob", revokedTok} {
		if strings.Contains(out, secret) {
			t.Errorf("a credential appears in the logs:\n%s", out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(requests) {
		t.Fatalf("%d log lines for %d requests (an injected newline split an event?):\n%s", len(lines), len(requests), out)
	}
	var events []map[string]any
	for _, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		events = append(events, ev)
	}
	aliceJTI := mustClaims(t, f.tk, f.alice).ID
	if ev := events[0]; ev["msg"] != "authentication succeeded" || ev["level"] != "DEBUG" || ev["subject"] != "alice" || ev["token_id"] != aliceJTI || ev["request_id"] != "req-1" || ev["schemes"] != "bearer" {
		t.Errorf("success event %v", ev)
	}
	if ev := events[1]; ev["msg"] != "authentication failed" || ev["status"] != float64(401) || ev["reason"] == "" || ev["scheme"] != "bearer" {
		t.Errorf("failure event %v", ev)
	}
	if ev := events[2]; ev["token_id"] != claims.ID || ev["reason"] != string(rejectDenied) {
		t.Errorf("revoked-token event %v, want its jti", ev)
	}
	if ev := events[4]; ev["subject"] != "bob" || ev["token_id"] != "k-bob" {
		t.Errorf("api key event %v", ev)
	}
}

func mustClaims(t *testing.T, f *tkFixture, token string) AccessClaims {
	t.Helper()
	c, err := f.tokens.Verify(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An API key scheme in the Authorization header (PagerDuty, Discord, Gotify)
// does not claim a bearer token or a Basic login sent in that header.
func TestGuardAuthorizationHeaderAPIKeyLeavesBearerAlone(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool // the API key verifier sees it
	}{
		{"Bearer abc.def.ghi", false},
		{"bearer abc", false},
		{"Basic YWxpY2U6cHc=", false},
		{"Token token=abc", true},
		{"gh_rawkey", true},
		{"Bearerish abc", true},
	} {
		if got := !isStandardCredential(tc.value); got != tc.want {
			t.Errorf("%q: seen as API key = %v, want %v", tc.value, got, tc.want)
		}
	}
}
