package auth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Requests to login providers follow no redirect (a token request sent on
// elsewhere would carry the code, the verifier and the client secret) and
// read no answer longer than maxProviderBody.
func TestGuardedProviderClient(t *testing.T) {
	var followed bool
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed = true })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), maxProviderBody+1))
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), maxProviderBody))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := guardedProviderClient(srv.Client())

	resp, err := c.Post(srv.URL+"/token", "application/x-www-form-urlencoded", bytes.NewReader([]byte("code=c&client_secret=s")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Errorf("redirect: status %d, followed %v; want the 307 itself", resp.StatusCode, followed)
	}

	read := func(path string) ([]byte, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if _, err := read("/huge"); !errors.Is(err, errProviderBodyTooLarge) {
		t.Errorf("an answer of the limit plus one byte: %v, want errProviderBodyTooLarge", err)
	}
	if b, err := read("/exact"); err != nil || len(b) != maxProviderBody {
		t.Errorf("an answer of exactly the limit: %d bytes, %v", len(b), err)
	}
}

// A provider whose discovery fails is asked again after discoveryRetry,
// not at every visitor's login; its error, which go-oidc fills with the
// provider's answer, is logged cut short.
func TestFailedDiscoveryIsRememberedAndLoggedShort(t *testing.T) {
	var asked int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked++
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(bytes.Repeat([]byte("provider says\n"), 10_000))
	}))
	defer srv.Close()
	clock := time.Unix(1_900_000_000, 0)
	f := &loginFlow{e: &endpoints{now: func() time.Time { return clock }}, client: srv.Client(), cfg: LoginConfig{AllowHTTP: true}}
	p := &loginProvider{cfg: ProviderConfig{Name: "p", Issuer: srv.URL}}
	ctx := context.Background()

	_, _, err := f.ready(ctx, p)
	if err == nil || asked != 1 {
		t.Fatalf("first discovery: err %v, asked %d", err, asked)
	}
	if s := shortError(err); len(s) > maxLoggedError+len("…") || strings.Contains(s, "\n") {
		t.Errorf("logged error: %d bytes, line breaks %v", len(s), strings.Contains(s, "\n"))
	}
	clock = clock.Add(discoveryRetry - time.Second)
	if _, _, err := f.ready(ctx, p); err == nil || asked != 1 {
		t.Errorf("within discoveryRetry: err %v, asked %d times, want the remembered failure", err, asked)
	}
	clock = clock.Add(2 * time.Second)
	if _, _, err := f.ready(ctx, p); err == nil || asked != 2 {
		t.Errorf("after discoveryRetry: err %v, asked %d times, want a second discovery", err, asked)
	}
}

// Forged callbacks from one address write one log line per window, and the
// next line counts the ones not logged.
func TestRefusedLoginsAreLoggedOncePerWindow(t *testing.T) {
	lt := newLoginTest(t, nil)
	var logs lockedBuffer
	lt.svc.login.e.log = slog.New(slog.NewJSONHandler(&logs, nil))
	b := lt.browser()
	forge := func() {
		resp := lt.get(b, lt.srv.URL+DefaultLoginPath+"/fake/callback?state=forged&code=x")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("forged callback: %d", resp.StatusCode)
		}
	}
	for range 5 {
		forge()
	}
	if n := strings.Count(logs.String(), `"event":"provider_login_failure"`); n != 1 {
		t.Fatalf("5 forged callbacks in one window: %d lines, want 1\n%s", n, logs.String())
	}
	lt.now.Add(int64(failureLogWindow + time.Second))
	forge()
	if n := strings.Count(logs.String(), `"event":"provider_login_failure"`); n != 2 || !strings.Contains(logs.String(), `"unlogged":4`) {
		t.Fatalf("after the window: %d lines, want 2, the second with unlogged 4\n%s", n, logs.String())
	}
}

// A "verified email" that is not an email address links nothing, even to a
// user of exactly that name.
func TestProviderLoginLinksOnlyEmailAddresses(t *testing.T) {
	lt := newLoginTest(t, func(c *LoginConfig) { c.Policy = PolicyVerifiedEmail })
	lt.user("admin", false, "pets:read")
	lt.idp.mu.Lock()
	lt.idp.user = map[string]any{"sub": "248289761001", "email": "admin", "email_verified": true}
	lt.idp.mu.Unlock()
	b := lt.browser()
	resp, body := lt.finish(b, lt.begin(b, ""))
	lt.refused(b, resp, body, http.StatusForbidden, "access_denied")
	for _, s := range []string{"jane@example.com", "a.b+c@sub.example.org"} {
		if !isEmailAddress(s) {
			t.Errorf("%q is an email address", s)
		}
	}
	for _, s := range []string{"admin", "Jane <jane@example.com>", "<jane@example.com>", "jane@example.com, bob@example.com", ""} {
		if isEmailAddress(s) {
			t.Errorf("%q is not one bare email address", s)
		}
	}
}
