package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/open"
)

// epClock is a settable clock shared by the service under test.
type epClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *epClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *epClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// epLog collects log output safely across goroutines.
type epLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *epLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *epLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// epFixture is a whole service, hardened, with one protected route (GET
// /me, bearer or basic) and one that panics.
type epFixture struct {
	t     testing.TB
	svc   *Service
	clock *epClock
	log   *epLog
	h     http.Handler
}

const epPassword = "correct horse battery staple"

func epSetup(t *testing.T, configure ...func(*Options)) *epFixture {
	t.Helper()
	return epSetupOn(t, memory.New(), nil, configure...)
}

// epSetupOn is epSetup on store, with cfg (if not nil) changing the
// configuration.
func epSetupOn(t testing.TB, store store.Store, cfg func(*Config), configure ...func(*Options)) *epFixture {
	t.Helper()
	f := &epFixture{t: t, clock: &epClock{t: time.Now().Truncate(time.Second)}, log: &epLog{}}
	opts := Options{
		Schemes: []Scheme{
			{Name: "bearerAuth", Kind: KindBearer},
			{Name: "basicAuth", Kind: KindBasic},
			{Name: "queryKey", Kind: KindAPIKey, In: "query", Param: "api_token"},
		},
		QueryAPIKeyParams: []string{"api_token"},
		Logger:            slog.New(slog.NewJSONHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range configure {
		c(&opts)
	}
	svc, err := newTestService(opts, f.clock.Now, store, open.Backends{}, cfg)
	if err != nil {
		t.Fatalf("newTestService: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	f.svc = svc
	mux := http.NewServeMux()
	svc.Mount(mux)
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"subject": p.Subject, "scopes": p.Scopes})
	})
	mux.Handle("GET /me", svc.Guard().Protect(Policy{
		{{Scheme: "bearerAuth"}},
		{{Scheme: "basicAuth"}},
		{{Scheme: "queryKey"}},
	}, me))
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("handler bug") })
	f.h = svc.Handler(mux)
	return f
}

func (f *epFixture) addUser(name string, scopes ...string) {
	f.t.Helper()
	if _, err := f.svc.Accounts().CreateUser(context.Background(), name, epPassword, scopes); err != nil {
		f.t.Fatalf("CreateUser(%s): %v", name, err)
	}
}

// serve sends a request through the hardened handler. headers are
// name, value pairs.
func (f *epFixture) serve(method, target, contentType, body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// post sends form parameters (name, value pairs) to path.
func (f *epFixture) post(path string, params ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.postWith(path, nil, params...)
}

func (f *epFixture) postWith(path string, headers []string, params ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return f.serve(http.MethodPost, path, "application/x-www-form-urlencoded", v.Encode(), headers...)
}

func (f *epFixture) token(params ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.post(f.svc.TokenPath(), params...)
}

// login performs the password grant and fails the test unless it succeeds.
func (f *epFixture) login(user, scope string) tokenResponse {
	f.t.Helper()
	w := f.token("grant_type", "password", "username", user, "password", epPassword, "scope", scope)
	return f.wantTokens(w)
}

func (f *epFixture) refresh(refreshToken string, extra ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.token(append([]string{"grant_type", "refresh_token", "refresh_token", refreshToken}, extra...)...)
}

func (f *epFixture) wantTokens(w *httptest.ResponseRecorder) tokenResponse {
	f.t.Helper()
	if w.Code != http.StatusOK {
		f.t.Fatalf("token endpoint: status %d, body %s", w.Code, w.Body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		f.t.Fatalf("token response: %v", err)
	}
	return tr
}

// me calls the protected route with an access token and returns the status.
func (f *epFixture) me(access string) int {
	f.t.Helper()
	return f.serve(http.MethodGet, "/me", "", "", "Authorization", "Bearer "+access).Code
}

func (f *epFixture) sync() {
	f.t.Helper()
	if err := f.svc.rev.Sync(context.Background()); err != nil {
		f.t.Fatalf("Sync: %v", err)
	}
}

func wantOAuthError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	var body ErrorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	if body.Error != code {
		t.Fatalf("error %q, want %q (%s)", body.Error, code, body.ErrorDescription)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
}

func TestPasswordGrantAnswersTokensWithNoStoreHeaders(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=password&username=alice&password=" + url.QueryEscape(epPassword)},
		{"form with charset", "application/x-www-form-urlencoded; charset=UTF-8", "grant_type=password&username=alice&password=" + url.QueryEscape(epPassword)},
		{"json", "application/json", `{"grant_type":"password","username":"alice","password":"` + epPassword + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := epSetup(t)
			f.addUser("alice", "pets:read", "pets:write")
			w := f.serve(http.MethodPost, f.svc.TokenPath(), tc.contentType, tc.body)
			tr := f.wantTokens(w)
			for name, want := range map[string]string{
				"Content-Type":           "application/json",
				"Cache-Control":          "no-store",
				"Pragma":                 "no-cache",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			var raw map[string]any
			json.Unmarshal(w.Body.Bytes(), &raw)
			for _, field := range []string{"access_token", "token_type", "expires_in", "refresh_token", "scope"} {
				if _, ok := raw[field]; !ok {
					t.Errorf("response lacks %s: %s", field, w.Body)
				}
			}
			if tr.TokenType != "Bearer" || tr.ExpiresIn != int64(DefaultAccessTTL/time.Second) || tr.Scope != "pets:read pets:write" {
				t.Errorf("response %+v", tr)
			}
			if !strings.HasPrefix(tr.RefreshToken, RefreshTokenPrefix) || len(tr.RefreshToken) < len(RefreshTokenPrefix)+43 {
				t.Errorf("refresh token %q is not a 256-bit opaque value", tr.RefreshToken)
			}
			if code := f.me(tr.AccessToken); code != http.StatusOK {
				t.Errorf("the access token gets %d at a protected route", code)
			}
		})
	}
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	f.addUser("bob")
	if err := f.svc.Accounts().DisableUser(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	attempt := func(user, password string) *httptest.ResponseRecorder {
		return f.token("grant_type", "password", "username", user, "password", password)
	}
	answers := map[string]*httptest.ResponseRecorder{
		"unknown user":     attempt("nobody", epPassword),
		"wrong password":   attempt("alice", "wrong password!"),
		"disabled account": attempt("bob", epPassword),
	}
	ref := answers["wrong password"]
	wantOAuthError(t, ref, http.StatusBadRequest, "invalid_grant")
	refHeaders := ref.Header().Clone()
	refHeaders.Del(RequestIDHeader)
	for name, w := range answers {
		if w.Code != ref.Code || w.Body.String() != ref.Body.String() {
			t.Errorf("%s: %d %s, want %d %s", name, w.Code, w.Body, ref.Code, ref.Body)
		}
		h := w.Header().Clone()
		h.Del(RequestIDHeader)
		if !equalHeaders(h, refHeaders) {
			t.Errorf("%s: headers %v, want %v", name, h, refHeaders)
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

func TestPasswordGrantScope(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice", "a", "b", "c")
	for _, tc := range []struct {
		requested string
		want      string // granted, or the error code
		ok        bool
	}{
		{"", "a b c", true},
		{"b", "b", true},
		{"c  a", "a c", true},
		{"a a", "a", true},
		{"a d", "invalid_scope", false},
		{"d", "invalid_scope", false},
		{"a\tb", "invalid_scope", false},
		{`"a"`, "invalid_scope", false},
	} {
		w := f.token("grant_type", "password", "username", "alice", "password", epPassword, "scope", tc.requested)
		if !tc.ok {
			wantOAuthError(t, w, http.StatusBadRequest, tc.want)
			continue
		}
		if got := f.wantTokens(w).Scope; got != tc.want {
			t.Errorf("scope %q: granted %q, want %q", tc.requested, got, tc.want)
		}
	}
}

func TestRefreshRotatesAndNarrowsScope(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice", "a", "b")
	first := f.login("alice", "")

	second := f.wantTokens(f.refresh(first.RefreshToken, "scope", "a"))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if second.Scope != "a" {
		t.Errorf("narrowed scope %q, want a", second.Scope)
	}
	if f.me(second.AccessToken) != http.StatusOK {
		t.Error("the refreshed access token is refused")
	}
	// The successor carries the narrowed scope: it cannot widen again.
	wantOAuthError(t, f.refresh(second.RefreshToken, "scope", "a b"), http.StatusBadRequest, "invalid_scope")
	// A refused scope leaves the token live.
	third := f.wantTokens(f.refresh(second.RefreshToken))
	if third.Scope != "a" {
		t.Errorf("scope after refresh without scope %q, want a", third.Scope)
	}
}

func TestRefreshReuseRevokesTheWholeFamily(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	first := f.login("alice", "")
	second := f.wantTokens(f.refresh(first.RefreshToken))

	// The first refresh token, already rotated, is presented again.
	wantOAuthError(t, f.refresh(first.RefreshToken), http.StatusBadRequest, "invalid_grant")

	wantOAuthError(t, f.refresh(second.RefreshToken), http.StatusBadRequest, "invalid_grant")
	for name, access := range map[string]string{"first": first.AccessToken, "second": second.AccessToken} {
		if code := f.me(access); code != http.StatusUnauthorized {
			t.Errorf("%s access token of the family: %d, want 401", name, code)
		}
	}
	if !strings.Contains(f.log.String(), `"event":"refresh_reuse"`) {
		t.Errorf("no refresh_reuse event logged:\n%s", f.log)
	}
	// Another session of the same user is unaffected.
	if f.me(f.login("alice", "").AccessToken) != http.StatusOK {
		t.Error("a new login after reuse is refused")
	}
}

// epStores opens each kind of store the refresh races run on.
var epStores = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"memory", func(*testing.T) store.Store { return memory.New() }},
	{"sqlite", func(t *testing.T) store.Store { return openTestSQLite(t, filepath.Join(t.TempDir(), "auth.db")) }},
}

// refreshBurst presents one refresh token n times at once and returns the
// answers.
func (f *epFixture) refreshBurst(refreshToken string, n int) []*httptest.ResponseRecorder {
	f.t.Helper()
	answers := make([]*httptest.ResponseRecorder, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = f.refresh(refreshToken)
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// Without a grace period a burst of refreshes with one token has exactly
// one winner (the rotation and the winner's access token are one
// transaction, so no burst ends with no winner, nor with a winner whose
// tokens the family does not hold), and the others, presenting a rotated
// token, end the whole session: strict reuse detection reaches the
// winner's tokens too.
func TestConcurrentRefreshHasExactlyOneWinnerAndReuseEndsTheSession(t *testing.T) {
	for _, st := range epStores {
		t.Run(st.name, func(t *testing.T) {
			for round := range 5 {
				f := epSetupOn(t, st.open(t), nil)
				f.addUser("alice")
				first := f.login("alice", "")
				var winners []tokenResponse
				for _, w := range f.refreshBurst(first.RefreshToken, 20) {
					if w.Code == http.StatusOK {
						winners = append(winners, f.wantTokens(w))
						continue
					}
					wantOAuthError(t, w, http.StatusBadRequest, "invalid_grant")
				}
				if len(winners) != 1 {
					t.Fatalf("round %d: %d of 20 concurrent refreshes succeeded, want exactly 1", round, len(winners))
				}
				f.sync()
				if code := f.me(winners[0].AccessToken); code != http.StatusUnauthorized {
					t.Errorf("round %d: the winner's access token after the reuse: %d, want 401", round, code)
				}
				wantOAuthError(t, f.refresh(winners[0].RefreshToken), http.StatusBadRequest, "invalid_grant")
			}
		})
	}
}

// With a grace period every concurrent retry of one refresh token gets the
// same new pair, and the pair works.
func TestConcurrentRefreshRetriesWithinGraceGetTheSamePair(t *testing.T) {
	grace := func(c *Config) { c.RefreshReuseGrace = 30 * time.Second }
	for _, st := range epStores {
		t.Run(st.name, func(t *testing.T) {
			for round := range 5 {
				f := epSetupOn(t, st.open(t), grace)
				f.addUser("alice")
				first := f.login("alice", "")
				answers := f.refreshBurst(first.RefreshToken, 20)
				pair := f.wantTokens(answers[0])
				for i, w := range answers {
					if got := f.wantTokens(w); got != pair {
						t.Fatalf("round %d: answer %d differs from answer 0:\n%+v\n%+v", round, i, got, pair)
					}
				}
				if pair.RefreshToken == first.RefreshToken || pair.AccessToken == first.AccessToken {
					t.Fatalf("round %d: the pair was not rotated", round)
				}
				f.sync()
				if code := f.me(pair.AccessToken); code != http.StatusOK {
					t.Fatalf("round %d: the shared access token: %d, want 200", round, code)
				}
				next := f.wantTokens(f.refresh(pair.RefreshToken))
				if code := f.me(next.AccessToken); code != http.StatusOK {
					t.Fatalf("round %d: the session after the retries: %d, want 200", round, code)
				}
			}
		})
	}
}

// The grace period covers the token just rotated, while its successor is
// unused, and nothing older (django-oauth-toolkit #1617): an older
// generation presented within the grace period still ends the session.
func TestRefreshGraceCoversOnlyTheImmediatelyPrecedingToken(t *testing.T) {
	f := epSetupOn(t, memory.New(), func(c *Config) { c.RefreshReuseGrace = time.Minute })
	f.addUser("alice")
	first := f.login("alice", "")
	second := f.wantTokens(f.refresh(first.RefreshToken))
	f.clock.Advance(10 * time.Second)
	if again := f.wantTokens(f.refresh(first.RefreshToken)); again != second {
		t.Fatalf("retry within the grace period:\n%+v\nwant\n%+v", again, second)
	}
	third := f.wantTokens(f.refresh(second.RefreshToken))
	if again := f.wantTokens(f.refresh(second.RefreshToken)); again != third {
		t.Fatalf("retry of the second token:\n%+v\nwant\n%+v", again, third)
	}
	// first precedes second, which is rotated: reuse.
	wantOAuthError(t, f.refresh(first.RefreshToken), http.StatusBadRequest, "invalid_grant")
	f.sync()
	if code := f.me(third.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("newest access token after an older generation came back: %d, want 401", code)
	}
	wantOAuthError(t, f.refresh(third.RefreshToken), http.StatusBadRequest, "invalid_grant")
	if !strings.Contains(f.log.String(), `"event":"refresh_reuse"`) {
		t.Errorf("no refresh_reuse event logged:\n%s", f.log)
	}
}

func TestRefreshRetryAfterTheGraceIsReuse(t *testing.T) {
	f := epSetupOn(t, memory.New(), func(c *Config) { c.RefreshReuseGrace = 10 * time.Second })
	f.addUser("alice")
	first := f.login("alice", "")
	second := f.wantTokens(f.refresh(first.RefreshToken))
	f.clock.Advance(10 * time.Second)
	wantOAuthError(t, f.refresh(first.RefreshToken), http.StatusBadRequest, "invalid_grant")
	f.sync()
	if code := f.me(second.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token after reuse past the grace period: %d, want 401", code)
	}
}

// A retry is answered for the session as it is now: a user disabled after
// the rotation gets no tokens from a retry.
func TestRefreshRetryChecksTheSessionAgain(t *testing.T) {
	f := epSetupOn(t, memory.New(), func(c *Config) { c.RefreshReuseGrace = time.Minute })
	f.addUser("alice")
	first := f.login("alice", "")
	second := f.wantTokens(f.refresh(first.RefreshToken))
	f.clock.Advance(time.Second)
	if err := f.svc.Accounts().DisableUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, f.refresh(first.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, f.refresh(second.RefreshToken), http.StatusBadRequest, "invalid_grant")
}

func TestTokensOfOneKindAreRefusedAsTheOther(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	tr := f.login("alice", "")
	wantOAuthError(t, f.refresh(tr.AccessToken), http.StatusBadRequest, "invalid_grant")
	if code := f.me(tr.RefreshToken); code != http.StatusUnauthorized {
		t.Errorf("refresh token as bearer: %d, want 401", code)
	}
	// Neither attempt harmed the session.
	f.wantTokens(f.refresh(tr.RefreshToken))
}

func TestRevocationEndpoint(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	revoke := func(params ...string) *httptest.ResponseRecorder {
		return f.post(f.svc.RevokePath(), params...)
	}

	t.Run("refresh token ends its session", func(t *testing.T) {
		tr := f.login("alice", "")
		refreshed := f.wantTokens(f.refresh(tr.RefreshToken))
		if w := revoke("token", refreshed.RefreshToken, "token_type_hint", "refresh_token"); w.Code != http.StatusOK {
			t.Fatalf("revoke: %d %s", w.Code, w.Body)
		}
		wantOAuthError(t, f.refresh(refreshed.RefreshToken), http.StatusBadRequest, "invalid_grant")
		for _, access := range []string{tr.AccessToken, refreshed.AccessToken} {
			if code := f.me(access); code != http.StatusUnauthorized {
				t.Errorf("access token of a revoked session: %d, want 401", code)
			}
		}
	})
	t.Run("access token is denied", func(t *testing.T) {
		tr := f.login("alice", "")
		if w := revoke("token", tr.AccessToken, "token_type_hint", "access_token"); w.Code != http.StatusOK {
			t.Fatalf("revoke: %d %s", w.Code, w.Body)
		}
		if code := f.me(tr.AccessToken); code != http.StatusUnauthorized {
			t.Errorf("revoked access token: %d, want 401", code)
		}
		// Denied in the store too, for other processes.
		other := NewRevocations(f.svc.Store())
		other.Sync(context.Background())
		claims, _ := f.svc.Tokens().Verify(context.Background(), f.login("alice", "").AccessToken)
		if other.Denied(claims.ID) {
			t.Error("an unrelated token is denied")
		}
		if n := len(other.denied); n == 0 {
			t.Error("the store's feed has no denied token")
		}
	})
	t.Run("unknown and invalid tokens get 200", func(t *testing.T) {
		for _, tok := range []string{"nonsense", RefreshTokenPrefix + "AAAA", "a.b.c", strings.Repeat("x", 5000)} {
			if w := revoke("token", tok); w.Code != http.StatusOK {
				t.Errorf("revoke %.20q: %d, want 200", tok, w.Code)
			}
		}
	})
	t.Run("malformed requests", func(t *testing.T) {
		wantOAuthError(t, revoke(), http.StatusBadRequest, "invalid_request")
		wantOAuthError(t, revoke("token", "a", "token", "b"), http.StatusBadRequest, "invalid_request")
		w := f.serve(http.MethodGet, f.svc.RevokePath(), "", "")
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("GET: %d Allow %q", w.Code, w.Header().Get("Allow"))
		}
		w = f.postWith(f.svc.RevokePath(), []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ghost:secret"))}, "token", "x")
		wantOAuthError(t, w, http.StatusUnauthorized, "invalid_client")
	})
}

func TestLogoutEndsTheAccessToken(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	// Revoking the refresh token alone ends the access tokens issued with
	// its family.
	tr := f.login("alice", "")
	if w := f.post(f.svc.RevokePath(), "token", tr.RefreshToken); w.Code != http.StatusOK {
		t.Fatalf("logout: %d", w.Code)
	}
	if code := f.me(tr.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token after logout: %d, want 401", code)
	}

	// Both in one request: refresh token as token, access token as bearer.
	tr = f.login("alice", "")
	w := f.postWith(f.svc.RevokePath(), []string{"Authorization", "Bearer " + tr.AccessToken}, "token", tr.RefreshToken)
	if w.Code != http.StatusOK {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if code := f.me(tr.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token after logout: %d, want 401", code)
	}
	wantOAuthError(t, f.refresh(tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
	if !strings.Contains(f.log.String(), `"event":"session_revoked"`) {
		t.Error("no session_revoked event logged")
	}
}

func TestPasswordChangeAndDisablingEndSessions(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	f.addUser("bob")
	ctx := context.Background()
	alice, bob := f.login("alice", ""), f.login("bob", "")
	f.clock.Advance(2 * time.Second)

	if err := f.svc.Accounts().SetPassword(ctx, "alice", "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Accounts().DisableUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	f.sync() // what the background poll does within a second
	// Logins wait for the second after a change.
	f.clock.Advance(time.Second)

	for name, tr := range map[string]tokenResponse{"alice": alice, "bob": bob} {
		if code := f.me(tr.AccessToken); code != http.StatusUnauthorized {
			t.Errorf("%s's old access token: %d, want 401", name, code)
		}
		wantOAuthError(t, f.refresh(tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
	}
	w := f.token("grant_type", "password", "username", "alice", "password", "a brand new password")
	if f.me(f.wantTokens(w).AccessToken) != http.StatusOK {
		t.Error("a login with the new password is refused")
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	}
	t.Run("enabled", func(t *testing.T) {
		f := epSetup(t, func(o *Options) { o.ClientCredentials = true })
		secret, err := f.svc.Accounts().CreateClient(context.Background(), "partner", []string{"a", "b"})
		if err != nil {
			t.Fatal(err)
		}
		w := f.postWith(f.svc.TokenPath(), []string{"Authorization", basic("partner", secret)}, "grant_type", "client_credentials", "scope", "a")
		tr := f.wantTokens(w)
		if tr.RefreshToken != "" || tr.Scope != "a" {
			t.Errorf("client_credentials response %+v: want scope a and no refresh token", tr)
		}
		claims, err := f.svc.Tokens().Verify(context.Background(), tr.AccessToken)
		if err != nil || claims.Subject != "partner" || claims.ClientID != "partner" {
			t.Errorf("claims %+v, %v", claims, err)
		}
		// Form authentication works too.
		f.wantTokens(f.token("grant_type", "client_credentials", "client_id", "partner", "client_secret", secret))

		w = f.postWith(f.svc.TokenPath(), []string{"Authorization", basic("partner", "wrong")}, "grant_type", "client_credentials")
		wantOAuthError(t, w, http.StatusUnauthorized, "invalid_client")
		if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
			t.Errorf("WWW-Authenticate %q", got)
		}
		wantOAuthError(t, f.token("grant_type", "client_credentials"), http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, f.token("grant_type", "client_credentials", "client_id", "partner", "scope", "a"), http.StatusUnauthorized, "invalid_client")
		w = f.postWith(f.svc.TokenPath(), []string{"Authorization", basic("partner", secret)},
			"grant_type", "client_credentials", "client_id", "partner", "client_secret", secret)
		wantOAuthError(t, w, http.StatusBadRequest, "invalid_request")
		w = f.postWith(f.svc.TokenPath(), []string{"Authorization", "Basic !!!"}, "grant_type", "client_credentials")
		wantOAuthError(t, w, http.StatusUnauthorized, "invalid_client")
		w = f.postWith(f.svc.TokenPath(), []string{"Authorization", basic("partner", secret)}, "grant_type", "client_credentials", "scope", "c")
		wantOAuthError(t, w, http.StatusBadRequest, "invalid_scope")
	})
	t.Run("disabled", func(t *testing.T) {
		f := epSetup(t)
		secret, _ := f.svc.Accounts().CreateClient(context.Background(), "partner", nil)
		w := f.postWith(f.svc.TokenPath(), []string{"Authorization", basic("partner", secret)}, "grant_type", "client_credentials")
		wantOAuthError(t, w, http.StatusBadRequest, "unsupported_grant_type")
	})
}

func TestRefreshIsBoundToTheClient(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	ctx := context.Background()
	secretA, _ := f.svc.Accounts().CreateClient(ctx, "app-a", nil)
	secretB, _ := f.svc.Accounts().CreateClient(ctx, "app-b", nil)
	w := f.token("grant_type", "password", "username", "alice", "password", epPassword,
		"client_id", "app-a", "client_secret", secretA)
	tr := f.wantTokens(w)
	// Presented by another client: refused, and the session is ended.
	w = f.refresh(tr.RefreshToken, "client_id", "app-b", "client_secret", secretB)
	wantOAuthError(t, w, http.StatusBadRequest, "invalid_grant")
	if code := f.me(tr.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token of a session stolen by another client: %d, want 401", code)
	}

	tr = f.wantTokens(f.token("grant_type", "password", "username", "alice", "password", epPassword,
		"client_id", "app-a", "client_secret", secretA))
	f.wantTokens(f.refresh(tr.RefreshToken, "client_id", "app-a", "client_secret", secretA))
}

func TestFailedLoginsAreThrottled(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	var w *httptest.ResponseRecorder
	for range 10 {
		w = f.token("grant_type", "password", "username", "alice", "password", "not the password")
		if w.Code == http.StatusTooManyRequests {
			break
		}
		wantOAuthError(t, w, http.StatusBadRequest, "invalid_grant")
	}
	wantOAuthError(t, w, http.StatusTooManyRequests, "too_many_requests")
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" || strings.Trim(ra, "0123456789") != "" {
		t.Errorf("Retry-After %q, want a positive number of seconds", ra)
	}
	// Even the right password waits.
	w = f.token("grant_type", "password", "username", "alice", "password", epPassword)
	wantOAuthError(t, w, http.StatusTooManyRequests, "too_many_requests")
	f.clock.Advance(time.Hour)
	f.login("alice", "")
}

func TestTokenEndpointRefusesMalformedRequests(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	path := f.svc.TokenPath()
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"GET", http.MethodGet, path, "", "", http.StatusMethodNotAllowed, "invalid_request"},
		{"no grant_type", http.MethodPost, path, form, "username=alice", http.StatusBadRequest, "invalid_request"},
		{"unknown grant", http.MethodPost, path, form, "grant_type=authorization_code&code=x", http.StatusBadRequest, "unsupported_grant_type"},
		{"duplicate username", http.MethodPost, path, form, "grant_type=password&username=alice&username=bob&password=x", http.StatusBadRequest, "invalid_request"},
		{"duplicate grant_type", http.MethodPost, path, form, "grant_type=password&grant_type=password&username=alice&password=" + url.QueryEscape(epPassword), http.StatusBadRequest, "invalid_request"},
		{"duplicate JSON key", http.MethodPost, path, "application/json", `{"grant_type":"password","username":"bob","username":"alice","password":"` + epPassword + `"}`, http.StatusBadRequest, "invalid_request"},
		{"JSON number", http.MethodPost, path, "application/json", `{"grant_type":"password","username":1}`, http.StatusBadRequest, "invalid_request"},
		{"JSON array", http.MethodPost, path, "application/json", `["grant_type"]`, http.StatusBadRequest, "invalid_request"},
		{"JSON trailing data", http.MethodPost, path, "application/json", `{"grant_type":"password"}{}`, http.StatusBadRequest, "invalid_request"},
		{"parameters in the URL", http.MethodPost, path + "?password=" + url.QueryEscape(epPassword), form, "grant_type=password&username=alice", http.StatusBadRequest, "invalid_request"},
		{"no content type", http.MethodPost, path, "", "grant_type=password", http.StatusBadRequest, "invalid_request"},
		{"text body", http.MethodPost, path, "text/plain", "grant_type=password", http.StatusBadRequest, "invalid_request"},
		{"bad escape", http.MethodPost, path, form, "grant_type=password&username=%zz", http.StatusBadRequest, "invalid_request"},
		{"missing password", http.MethodPost, path, form, "grant_type=password&username=alice", http.StatusBadRequest, "invalid_request"},
		{"missing refresh_token", http.MethodPost, path, form, "grant_type=refresh_token", http.StatusBadRequest, "invalid_request"},
		{"oversized body", http.MethodPost, path, form, "grant_type=password&username=alice&password=" + strings.Repeat("x", maxParamsBody), http.StatusRequestEntityTooLarge, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.serve(tc.method, tc.target, tc.contentType, tc.body)
			wantOAuthError(t, w, tc.status, tc.code)
			if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q", w.Header().Get("Allow"))
			}
		})
	}
}

func TestOversizedBodyIsRefusedBeforeHashing(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	// No Content-Length: the limit applies while reading.
	body := "grant_type=password&username=alice&password=" + strings.Repeat("x", 2*maxParamsBody)
	r := httptest.NewRequest(http.MethodPost, f.svc.TokenPath(), struct{ *strings.Reader }{strings.NewReader(body)})
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	wantOAuthError(t, w, http.StatusRequestEntityTooLarge, "invalid_request")
	if strings.Contains(f.log.String(), "login_failure") {
		t.Error("an oversized request reached password checking")
	}
}

func TestTokenEndpointLogsNoSecrets(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	tr := f.login("alice", "")
	f.refresh(tr.RefreshToken)
	f.refresh(tr.RefreshToken) // reuse
	f.token("grant_type", "password", "username", "alice", "password", "wrong password 123")
	other := f.login("alice", "")
	f.post(f.svc.RevokePath(), "token", other.AccessToken)
	logs := f.log.String()
	for _, secret := range []string{epPassword, "wrong password 123", tr.AccessToken, tr.RefreshToken, other.AccessToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret %.12q…", secret)
		}
	}
	for _, event := range []string{"login_success", "login_failure", "refresh_success", "refresh_reuse", "access_token_revoked"} {
		if !strings.Contains(logs, `"event":"`+event+`"`) {
			t.Errorf("no %s event logged", event)
		}
	}
}

func TestRefreshFamilyExpiresAbsolutely(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	tr := f.login("alice", "")
	ttl := f.svc.Config().RefreshTokenTTL
	// Rotating every day does not extend the session.
	var elapsed time.Duration
	for elapsed+24*time.Hour < ttl {
		f.clock.Advance(24 * time.Hour)
		elapsed += 24 * time.Hour
		tr = f.wantTokens(f.refresh(tr.RefreshToken))
	}
	f.clock.Advance(ttl - elapsed - time.Second)
	tr = f.wantTokens(f.refresh(tr.RefreshToken))
	f.clock.Advance(time.Second)
	wantOAuthError(t, f.refresh(tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
}

// lookupHookStore runs fn once, right after the at-th look-up of a user or
// a client.
type lookupHookStore struct {
	store.Store
	mu    sync.Mutex
	calls int
	at    int
	fn    func()
	fired bool
}

func (s *lookupHookStore) User(ctx context.Context, name string) (store.User, error) {
	u, err := s.Store.User(ctx, name)
	s.looked()
	return u, err
}

func (s *lookupHookStore) Client(ctx context.Context, id string) (store.Client, error) {
	c, err := s.Store.Client(ctx, id)
	s.looked()
	return c, err
}

func (s *lookupHookStore) looked() {
	s.mu.Lock()
	s.calls++
	fire := s.calls == s.at && s.fn != nil
	s.fired = s.fired || fire
	s.mu.Unlock()
	if fire {
		s.fn()
	}
}

// arm makes fn run after the at-th look-up from now on.
func (s *lookupHookStore) arm(at int, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.at, s.fn, s.fired = 0, at, fn, false
}

func (s *lookupHookStore) hasFired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fired
}

// A password change or a disable that lands while a login with the old
// password is in progress ends that login: it is refused, or whatever it
// was issued is dead. The change lands after the login's first look-up of
// the user (before its password is hashed) or after its second (once the
// account was judged, before its tokens are issued); in the same
// millisecond as both, or a second after the look-up and a second before
// the tokens are issued.
func TestLoginInFlightDoesNotOutliveAPasswordChangeOrDisable(t *testing.T) {
	for _, change := range []string{"password change", "disable"} {
		for lookup := 1; lookup <= 2; lookup++ {
			for _, step := range []time.Duration{0, time.Second} {
				testLoginInFlight(t, change, lookup, step)
			}
		}
	}
}

func testLoginInFlight(t *testing.T, change string, lookup int, step time.Duration) {
	t.Run(fmt.Sprintf("%s after look-up %d, %v apart", change, lookup, step), func(t *testing.T) {
		store := &lookupHookStore{Store: memory.New()}
		f := epSetupOn(t, store, nil)
		f.addUser("alice")
		store.arm(lookup, func() {
			// With a step, a token dated when it is issued rather than
			// when its login was judged carries an iat after the change.
			f.clock.Advance(step)
			defer f.clock.Advance(step)
			var err error
			if change == "disable" {
				err = f.svc.Accounts().DisableUser(context.Background(), "alice")
			} else {
				err = f.svc.Accounts().SetPassword(context.Background(), "alice", "a brand new password")
			}
			if err != nil {
				t.Error(err)
			}
		})
		w := f.token("grant_type", "password", "username", "alice", "password", epPassword)
		if !store.hasFired() {
			t.Fatalf("the login looked the user up fewer than %d times: the %s did not land during it", lookup, change)
		}
		f.sync()
		if w.Code != http.StatusOK {
			wantOAuthError(t, w, http.StatusBadRequest, "invalid_grant")
			return
		}
		tr := f.wantTokens(w)
		if code := f.me(tr.AccessToken); code != http.StatusUnauthorized {
			t.Errorf("the access token of a login judged before the %s: %d, want 401", change, code)
		}
		wantOAuthError(t, f.refresh(tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
	})
}

// The same for an OAuth client whose secret is rotated with revocation
// while its client_credentials grant is in progress.
func TestClientLoginInFlightDoesNotOutliveARevocation(t *testing.T) {
	for lookup := 1; lookup <= 2; lookup++ {
		t.Run(fmt.Sprintf("after look-up %d", lookup), func(t *testing.T) {
			store := &lookupHookStore{Store: memory.New()}
			f := epSetupOn(t, store, nil, func(o *Options) { o.ClientCredentials = true })
			secret, err := f.svc.Accounts().CreateClient(context.Background(), "partner", nil)
			if err != nil {
				t.Fatal(err)
			}
			store.arm(lookup, func() {
				f.clock.Advance(time.Second)
				defer f.clock.Advance(time.Second)
				if _, err := f.svc.Accounts().RotateClientSecret(context.Background(), "partner", true); err != nil {
					t.Error(err)
				}
			})
			w := f.token("grant_type", "client_credentials", "client_id", "partner", "client_secret", secret)
			if !store.hasFired() {
				t.Fatalf("the grant looked the client up fewer than %d times", lookup)
			}
			f.sync()
			if w.Code != http.StatusOK {
				wantOAuthError(t, w, http.StatusUnauthorized, "invalid_client")
				return
			}
			if code := f.me(f.wantTokens(w).AccessToken); code != http.StatusUnauthorized {
				t.Errorf("the access token of a client judged before its revocation: %d, want 401", code)
			}
		})
	}
}

// tokenFrom posts a password grant from the client address addr.
func (f *epFixture) tokenFrom(addr, username, password string) *httptest.ResponseRecorder {
	f.t.Helper()
	body := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}.Encode()
	r := httptest.NewRequest(http.MethodPost, f.svc.TokenPath(), strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr + ":4444"
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// An attacker spraying guesses at one account from many addresses is
// slowed down (429 with Retry-After) after the account's free allowance,
// while the owner keeps logging in from the address they used before.
func TestTokenEndpointSlowsSprayingButNotTheOwner(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	const owner = "192.0.2.10"
	f.wantTokens(f.tokenFrom(owner, "alice", epPassword))
	refused := 0
	for i := range 100 {
		w := f.tokenFrom(fmt.Sprint("203.0.113.", i), "alice", "guess"+fmt.Sprint(i))
		switch w.Code {
		case http.StatusTooManyRequests:
			refused++
			if ra := w.Header().Get("Retry-After"); ra != "1" {
				t.Errorf("guess %d: Retry-After %q, want 1", i, ra)
			}
		default:
			wantOAuthError(t, w, http.StatusBadRequest, "invalid_grant")
		}
	}
	if refused != 90 {
		t.Errorf("%d of 100 guesses from 100 addresses refused, want all but the account's allowance of 10", refused)
	}
	f.wantTokens(f.tokenFrom(owner, "alice", epPassword))
	// From an address it has not logged in from, the owner waits like
	// anyone else: slowed down, never locked out.
	w := f.tokenFrom("198.51.100.1", "alice", epPassword)
	wantOAuthError(t, w, http.StatusTooManyRequests, "too_many_requests")
	f.clock.Advance(time.Second)
	f.wantTokens(f.tokenFrom("198.51.100.1", "alice", epPassword))
}

// A failed login names the account in the log only if it exists: an
// unknown "user name" is often a password typed into the wrong field, and
// is logged as a short digest. The same goes for client ids.
func TestFailedLoginLogsOnlyExistingNames(t *testing.T) {
	f := epSetup(t, func(o *Options) { o.ClientCredentials = true })
	f.addUser("alice")
	if _, err := f.svc.Accounts().CreateClient(context.Background(), "partner", nil); err != nil {
		t.Fatal(err)
	}
	const pasted = "Tr0ub4dor&3-my-password"
	wantOAuthError(t, f.token("grant_type", "password", "username", pasted, "password", "x"), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, f.token("grant_type", "password", "username", "ALICE", "password", "wrong password"), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, f.token("grant_type", "client_credentials", "client_id", "pasted-secret-abc", "client_secret", "x"), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, f.token("grant_type", "client_credentials", "client_id", "partner", "client_secret", "x"), http.StatusUnauthorized, "invalid_client")

	var events []map[string]any
	for line := range strings.Lines(f.log.String()) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if ev["event"] == "login_failure" || ev["event"] == "client_auth_failure" {
			events = append(events, ev)
		}
	}
	if len(events) != 4 {
		t.Fatalf("%d failure events, want 4:\n%s", len(events), f.log)
	}
	for i, tc := range []struct{ key, want string }{
		{"username_digest", ""}, {"username", "alice"}, {"client_id_digest", ""}, {"client_id", "partner"},
	} {
		got, ok := events[i][tc.key].(string)
		if !ok || (tc.want != "" && got != tc.want) || (tc.want == "" && len(got) != 16) {
			t.Errorf("event %d: %s = %v, want %q (or 16 hex digits for a digest): %v", i, tc.key, events[i][tc.key], tc.want, events[i])
		}
	}
	for _, secret := range []string{pasted, "pasted-secret-abc"} {
		if strings.Contains(f.log.String(), secret) {
			t.Errorf("the log contains the unknown name %q", secret)
		}
	}
}
