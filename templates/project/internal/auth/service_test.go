package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/open"
)

// svConfig is a production configuration with every file under dir.
func svConfig(t *testing.T, dir string, vars map[string]string) Config {
	t.Helper()
	all := map[string]string{
		"JWT_SECRET":   cfSecret,
		"DATABASE_URL": "sqlite:" + filepath.Join(dir, "db", "gatehouse.db"),
		"JWT_KEY_DIR":  filepath.Join(dir, "keys"),
	}
	for k, v := range vars {
		all[k] = v
	}
	cfg, err := LoadConfig(cfLookup(all))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestNewServesLoginOnSQLite(t *testing.T) {
	dir := t.TempDir()
	cfg := svConfig(t, dir, nil)
	ctx := context.Background()
	svc, err := New(ctx, cfg, open.Backends{}, Options{Schemes: []Scheme{{Name: "bearer", Kind: KindBearer}}, TokenPath: "/oauth/token"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if code := svc.Admin(ctx, []string{"users", "add", "--username", "alice", "--password-stdin"},
		strings.NewReader(epPassword), &bytes.Buffer{}, &bytes.Buffer{}); code != ExitOK {
		t.Fatalf("users add: exit %d", code)
	}
	mux := http.NewServeMux()
	svc.Mount(mux)
	h := svc.Handler(mux)

	r := httptest.NewRequest(http.MethodPost, "/oauth/token",
		strings.NewReader("grant_type=password&username=alice&password="+strings.ReplaceAll(epPassword, " ", "+")))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var tr tokenResponse
	json.Unmarshal(w.Body.Bytes(), &tr)
	// HS256 publishes no JWKS document.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, JWKSPath, nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("JWKS with HS256: %d, want 404", w.Code)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// The user survives a restart; the token too (same secret).
	svc2, err := New(ctx, cfg, open.Backends{}, Options{TokenPath: "/oauth/token"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc2.Close()
	if _, err := svc2.Accounts().Authenticate(ctx, "alice", epPassword, "127.0.0.1"); err != nil {
		t.Errorf("alice after restart: %v", err)
	}
	if _, err := svc2.Tokens().Verify(ctx, tr.AccessToken); err != nil {
		t.Errorf("access token after restart: %v", err)
	}
	// So does the session: the refresh token still rotates.
	mux2 := http.NewServeMux()
	svc2.Mount(mux2)
	r = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=refresh_token&refresh_token="+tr.RefreshToken))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	svc2.Handler(mux2).ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("refresh after restart: %d %s", w.Code, w.Body)
	}
}

func TestNewCreatesAsymmetricKeyAndServesJWKS(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			cfg := svConfig(t, dir, map[string]string{"JWT_ALGORITHM": alg, "DATABASE_URL": "memory:"})
			var logs bytes.Buffer
			svc, err := New(context.Background(), cfg, open.Backends{}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			if !strings.Contains(logs.String(), "created the first signing key") {
				t.Errorf("key creation not logged: %s", logs.String())
			}
			mux := http.NewServeMux()
			svc.Mount(mux)
			w := httptest.NewRecorder()
			svc.Handler(mux).ServeHTTP(w, httptest.NewRequest(http.MethodGet, JWKSPath, nil))
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != http.StatusOK || len(doc.Keys) != 1 {
				t.Fatalf("JWKS: %d %s", w.Code, w.Body)
			}
			if _, private := doc.Keys[0]["d"]; private {
				t.Error("the JWKS document publishes a private key")
			}
			token, _, err := svc.Tokens().Issue("alice", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			// A second start reuses the key: earlier tokens still verify.
			svc2, err := New(context.Background(), cfg, open.Backends{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer svc2.Close()
			if _, err := svc2.Tokens().Verify(context.Background(), token); err != nil {
				t.Errorf("token after restart: %v", err)
			}
		})
	}
}

func TestNewRefusesBadSetups(t *testing.T) {
	dir := t.TempDir()
	cfg := svConfig(t, dir, map[string]string{"DATABASE_URL": "memory:", "TOKEN_PATH": "/auth/revoke"})
	if _, err := New(context.Background(), cfg, open.Backends{}, Options{}); err == nil || !strings.Contains(err.Error(), "both configured at /auth/revoke") {
		t.Errorf("token and revoke at one path: %v", err)
	}
	cfg = svConfig(t, dir, map[string]string{"DATABASE_URL": "memory:"})
	_, err := New(context.Background(), cfg, open.Backends{}, Options{Schemes: []Scheme{{Name: "k", Kind: KindAPIKey, In: "body", Param: "x"}}})
	if err == nil {
		t.Error("a malformed scheme is accepted")
	}
}

func TestNewTestServiceFollowsItsClock(t *testing.T) {
	clock := &epClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	svc, err := NewTestService(Options{}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	token, claims, err := svc.Tokens().Issue("alice", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !claims.IssuedAt.Equal(clock.t) {
		t.Errorf("iat %v, want the test clock %v", claims.IssuedAt, clock.t)
	}
	ctx := context.Background()
	// Revocation works with a clock far from the real one.
	if err := svc.Store().Deny(ctx, store.DeniedToken{JTI: claims.ID, ExpiresAt: claims.ExpiresAt}); err != nil {
		t.Fatal(err)
	}
	if err := svc.rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Tokens().Verify(ctx, token); err == nil {
		t.Error("a denied token verifies under the test clock")
	}
	token, _, _ = svc.Tokens().Issue("alice", "", nil)
	clock.Advance(DefaultAccessTTL + time.Minute)
	if _, err := svc.Tokens().Verify(ctx, token); err == nil {
		t.Error("an expired token verifies")
	}
}

// svServeBriefly serves until the service logs that it listens (to logs),
// then stops it.
func svServeBriefly(t *testing.T, svc *Service, logs *epLog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, http.NewServeMux()) }()
	for !strings.Contains(logs.String(), "listening") {
		select {
		case err := <-done:
			t.Fatalf("Serve ended before listening: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// svNewLogged builds a service with New from the variables, logging in
// text to the returned log; the test closes it.
func svNewLogged(t *testing.T, vars map[string]string) (*Service, *epLog) {
	t.Helper()
	cfg, err := LoadConfig(cfLookup(vars))
	if err != nil {
		t.Fatal(err)
	}
	logs := &epLog{}
	svc, err := New(context.Background(), cfg, open.Backends{}, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, logs
}

func TestServiceServeLogsWarningsAndStops(t *testing.T) {
	svc, logs := svNewLogged(t, map[string]string{
		"GATEHOUSE_ENV": "development", "DATABASE_URL": "memory:", "LISTEN_ADDR": "127.0.0.1:0",
	})
	if strings.Contains(logs.String(), "WARNING") {
		t.Error("New logs the warnings; admin commands would print them")
	}
	svServeBriefly(t, svc, logs)
	for _, want := range []string{"WARNING: JWT_SECRET is not set", "WARNING: DATABASE_URL=memory", "listening"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// /health is the spec's own operation while the service is healthy, and
// the runtime's 503 while it is not; without such an operation the
// runtime answers 200.
func TestHealthDefersToTheSpecsOperationWhileHealthy(t *testing.T) {
	feed := &flakyFeed{Store: memory.New()}
	svc, err := newTestService(Options{}, nil, feed, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	svc.stop() // the test drives the feed
	svc.polling.Wait()
	stale, _ := rvStaleness(svc.rev)
	if err := svc.rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "spec")
		w.WriteHeader(http.StatusNoContent)
	})
	withOp, without := svc.Handler(mux), svc.Handler(http.NotFoundHandler())
	get := func(h http.Handler, method string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, HealthPath, nil))
		return w
	}
	if w := get(withOp, http.MethodGet); w.Code != http.StatusNoContent || w.Header().Get("X-Handler") != "spec" {
		t.Errorf("healthy, with the spec's operation: %d %v", w.Code, w.Header())
	}
	if w := get(without, http.MethodGet); w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthy, without an operation: %d %s", w.Code, w.Body)
	}
	if w := get(without, http.MethodPost); w.Code != http.StatusNotFound {
		t.Errorf("POST /health: %d, want the handler's 404", w.Code)
	}

	feed.fail.Store(true)
	stale.Add(time.Hour)
	if err := svc.rev.Sync(context.Background()); err == nil {
		t.Fatal("the sync did not fail")
	}
	for _, h := range []http.Handler{withOp, without} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := get(h, method)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("X-Handler") != "" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s while stale: %d %v", method, w.Code, w.Header())
			}
		}
	}
}
