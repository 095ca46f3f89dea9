package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hdOK answers 200 with a small JSON body.
var hdOK = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}` + "\n"))
})

func hdRequest(method, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func hdServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	f := epSetup(t)
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"401", hdRequest(http.MethodGet, "/me")},
		{"404", hdRequest(http.MethodGet, "/nowhere")},
		{"token error", hdRequest(http.MethodGet, "/auth/token")},
		{"panic", hdRequest(http.MethodGet, "/panic")},
		{"preflight", hdRequest(http.MethodOptions, "/me", "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")},
	} {
		w := hdServe(f.h, tc.r)
		for name, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Cache-Control":           "no-store",
		} {
			if got := w.Header().Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", tc.name, name, got, want)
			}
		}
		if got := w.Header().Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s: HSTS %q sent over plain HTTP", tc.name, got)
		}
	}
	r := hdRequest(http.MethodGet, "/nowhere")
	r.TLS = &tls.ConnectionState{}
	if got := hdServe(f.h, r).Header().Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("HSTS under TLS: %q", got)
	}
}

func TestPanicGivesGeneric500AndServerKeepsServing(t *testing.T) {
	logs := &epLog{}
	h := Harden(Config{}, HardenOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				w.Header().Set("Set-Cookie", "session=leak")
				panic("secret internal detail")
			}
			hdOK(w, r)
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	var body ErrorBody
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || body.Error != "server_error" {
		t.Errorf("panic answered %d %+v", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("panic answer headers %v", resp.Header)
	}
	if strings.Contains(body.ErrorDescription, "secret") {
		t.Error("the answer contains the panic value")
	}
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("the panic is not logged:\n%s", logs)
	}
	for range 3 {
		resp, err := http.Get(srv.URL + "/fine")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("after a panic: %v %v", resp, err)
		}
		resp.Body.Close()
	}
}

func TestRequestID(t *testing.T) {
	h := Harden(Config{}, HardenOptions{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get(RequestIDHeader))
	}))
	for _, tc := range []struct {
		sent string
		kept bool
	}{
		{"", false},
		{"abc-123_x.y:z", true},
		{"has space", false},
		{"new\nline", false},
		{strings.Repeat("a", 65), false},
		{"<script>", false},
	} {
		r := hdRequest(http.MethodGet, "/")
		if tc.sent != "" {
			r.Header["X-Request-Id"] = []string{tc.sent}
		}
		w := hdServe(h, r)
		got := w.Header().Get(RequestIDHeader)
		if got == "" || got != w.Body.String() {
			t.Errorf("sent %q: response id %q, handler saw %q", tc.sent, got, w.Body)
		}
		if (got == tc.sent) != tc.kept {
			t.Errorf("sent %q: got %q, kept = %v, want %v", tc.sent, got, got == tc.sent, tc.kept)
		}
	}
}

func TestCORS(t *testing.T) {
	f := epSetup(t)
	f.svc.cfg.CORSAllowedOrigins = []string{"https://app.example.com"}
	mux := http.NewServeMux()
	f.svc.Mount(mux)
	mux.Handle("/me", f.svc.Guard().Protect(Policy{{{Scheme: "bearerAuth"}}}, hdOK))
	h := f.svc.Handler(mux)

	t.Run("preflight is answered before authentication", func(t *testing.T) {
		w := hdServe(h, hdRequest(http.MethodOptions, "/me",
			"Origin", "https://app.example.com",
			"Access-Control-Request-Method", "DELETE",
			"Access-Control-Request-Headers", "authorization,content-type"))
		if w.Code != http.StatusNoContent {
			t.Fatalf("preflight: %d %s", w.Code, w.Body)
		}
		if w.Header().Get("WWW-Authenticate") != "" {
			t.Error("preflight went through authentication")
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
			t.Errorf("Access-Control-Allow-Origin %q", got)
		}
		if got := strings.ToLower(w.Header().Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
			t.Errorf("Access-Control-Allow-Headers %q", got)
		}
		if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
			t.Errorf("Vary %q", w.Header().Values("Vary"))
		}
	})
	t.Run("other origins get no permission", func(t *testing.T) {
		for _, origin := range []string{"https://evil.example", "null", "https://app.example.com.evil.example", "http://app.example.com"} {
			w := hdServe(h, hdRequest(http.MethodOptions, "/me", "Origin", origin, "Access-Control-Request-Method", "GET"))
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("origin %q allowed: %q", origin, got)
			}
			w = hdServe(h, hdRequest(http.MethodGet, "/me", "Origin", origin))
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("origin %q allowed on a simple request: %q", origin, got)
			}
		}
	})
	t.Run("actual requests expose the auth headers", func(t *testing.T) {
		w := hdServe(h, hdRequest(http.MethodGet, "/me", "Origin", "https://app.example.com"))
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", w.Code)
		}
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
			t.Errorf("Access-Control-Allow-Origin %q", got)
		}
		if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("credentials allowed without configuration: %q", got)
		}
		exposed := strings.ToLower(w.Header().Get("Access-Control-Expose-Headers"))
		for _, name := range []string{"www-authenticate", "retry-after"} {
			if !strings.Contains(exposed, name) {
				t.Errorf("%s not exposed: %q", name, exposed)
			}
		}
		if w := hdServe(h, hdRequest(http.MethodGet, "/me")); !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
			t.Error("no Vary: Origin on a same-origin response")
		}
	})
	t.Run("no origins configured allows none", func(t *testing.T) {
		h := Harden(Config{}, HardenOptions{}, hdOK)
		w := hdServe(h, hdRequest(http.MethodOptions, "/x", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET"))
		if w.Header().Get("Access-Control-Allow-Origin") != "" || w.Code != http.StatusNoContent {
			t.Errorf("preflight with no origins configured: %d %v", w.Code, w.Header())
		}
	})
	t.Run("wildcard never echoes null nor allows credentials", func(t *testing.T) {
		h := Harden(Config{CORSAllowedOrigins: []string{"*"}, CORSAllowCredentials: true}, HardenOptions{}, hdOK)
		w := hdServe(h, hdRequest(http.MethodGet, "/x", "Origin", "https://any.example"))
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Error("* with credentials allowed an origin")
		}
		h = Harden(Config{CORSAllowedOrigins: []string{"*"}}, HardenOptions{}, hdOK)
		if w := hdServe(h, hdRequest(http.MethodGet, "/x", "Origin", "https://any.example")); w.Header().Get("Access-Control-Allow-Origin") == "" {
			t.Error("* did not allow an origin")
		}
		if w := hdServe(h, hdRequest(http.MethodGet, "/x", "Origin", "null")); w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Error("* allowed the null origin")
		}
	})
}

func TestRequestLimits(t *testing.T) {
	h := Harden(Config{MaxBodyBytes: 1024}, HardenOptions{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r.Body); err != nil {
			WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request", "too large")
			return
		}
		hdOK(w, r)
	}))
	r := hdRequest(http.MethodGet, "/")
	for i := range maxHeaderFields + 1 {
		r.Header.Add(fmt.Sprintf("X-H%d", i), "v")
	}
	if w := hdServe(h, r); w.Code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d header fields: %d, want 431", maxHeaderFields+1, w.Code)
	}
	r = hdRequest(http.MethodGet, "/?q="+strings.Repeat("a", maxRequestURI))
	if w := hdServe(h, r); w.Code != http.StatusRequestURITooLong {
		t.Errorf("long target: %d, want 414", w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", 2048)))
	if w := hdServe(h, r); w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "invalid_request") {
		t.Errorf("declared oversized body: %d %s", w.Code, w.Body)
	}
	r = httptest.NewRequest(http.MethodPost, "/", struct{ *strings.Reader }{strings.NewReader(strings.Repeat("a", 2048))})
	r.ContentLength = -1
	if w := hdServe(h, r); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("undeclared oversized body: %d", w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("a", 1024)))
	if w := hdServe(h, r); w.Code != http.StatusOK {
		t.Errorf("body at the limit: %d", w.Code)
	}
}

func TestAccessLogHasNoCredentials(t *testing.T) {
	f := epSetup(t)
	f.addUser("alice")
	tr := f.login("alice", "")
	ctx := context.Background()
	_, key, err := f.svc.Accounts().CreateAPIKey(ctx, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.serve(http.MethodGet, "/me?api_token="+key+"&page=2", "", "")
	f.serve(http.MethodGet, "/me?API_TOKEN="+key, "", "")
	f.serve(http.MethodGet, "/me?access_token="+tr.AccessToken, "", "")
	f.serve(http.MethodGet, "/me", "", "", "Authorization", "Bearer "+tr.AccessToken, "Cookie", "session=cookievalue")
	f.serve(http.MethodGet, "/me", "", "", "Authorization", basicAuth("alice", epPassword))
	logs := f.log.String()
	for _, secret := range []string{key, tr.AccessToken, "cookievalue", epPassword, strings.TrimPrefix(basicAuth("alice", epPassword), "Basic ")} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %.16q…", secret)
		}
	}
	if !strings.Contains(logs, `"query":"api_token=REDACTED&page=2"`) {
		t.Errorf("the redacted query is not logged as expected:\n%s", logs)
	}
}

// An API key of a header or cookie scheme sent in the query string by
// mistake is a key all the same: the access log redacts the parameter of
// every apiKey scheme, and the usual credential names, wherever they are
// in the query.
func TestAccessLogRedactsEveryCredentialParameter(t *testing.T) {
	f := epSetup(t, func(o *Options) {
		o.Schemes = append(o.Schemes,
			Scheme{Name: "headerKey", Kind: KindAPIKey, In: "header", Param: "X-Partner-Key"},
			Scheme{Name: "cookieKey", Kind: KindAPIKey, In: "cookie", Param: "partner_session"})
	})
	secrets := map[string]string{
		"x-partner-key":   "hdr-secret-1",
		"X-Partner-Key":   "hdr-secret-2",
		"partner_session": "cookie-secret-3",
		"client_secret":   "form-secret-4",
		"refresh_token":   "ghr_refresh-secret-5",
		"password":        "pw-secret-6",
		"code_verifier":   "pkce-secret-7",
	}
	for name, secret := range secrets {
		f.serve(http.MethodGet, "/me?page=2&"+url.QueryEscape(name)+"="+secret, "", "")
		// Some clients separate parameters with ';'.
		f.serve(http.MethodGet, "/me?page=2;"+url.QueryEscape(name)+"="+secret+"x", "", "")
	}
	logs := f.log.String()
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the access log contains the value of %s", name)
		}
	}
	if !strings.Contains(logs, `"query":"page=2&X-Partner-Key=REDACTED"`) || !strings.Contains(logs, `"query":"page=2;partner_session=REDACTED"`) {
		t.Errorf("the redacted queries are not logged as expected:\n%s", logs)
	}
}

func TestRedactQuery(t *testing.T) {
	redact := map[string]bool{"key": true}
	for raw, want := range map[string]string{
		"key=s3cret":      "key=REDACTED",
		"a=1&KEY=s3cret":  "a=1&KEY=REDACTED",
		"%6Bey=s3cret":    "%6Bey=REDACTED",
		"a=%zz&key=x":     "a=%zz&key=REDACTED",
		"%zz=secret":      "REDACTED",
		"key":             "key",
		"keys=not-secret": "keys=not-secret",
		"a=1;key=s3cret":  "a=1;key=REDACTED",
		"a=1&&key=s;b=2":  "a=1&&key=REDACTED;b=2",
		"":                "",
	} {
		if got := redactQuery(raw, redact); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestClientAddrTrustsForwardedForOnlyFromProxies(t *testing.T) {
	c := Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.9:5000", nil, "203.0.113.9"},
		{"203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9"},    // not from a proxy: ignored
		{"10.0.0.2:5000", []string{"1.2.3.4"}, "1.2.3.4"},           // from a proxy
		{"10.0.0.2:5000", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},  // the client's own entry is not believed
		{"10.0.0.2:5000", []string{"1.2.3.4, 10.0.0.7"}, "1.2.3.4"}, // chained proxies
		{"10.0.0.2:5000", []string{"6.6.6.6", "1.2.3.4"}, "1.2.3.4"},
		{"10.0.0.2:5000", []string{"garbage"}, "10.0.0.2"},
		{"10.0.0.2:5000", []string{"10.0.0.3"}, "10.0.0.3"}, // all trusted: the farthest
		{"10.0.0.2:5000", nil, "10.0.0.2"},
		{"[::1]:5000", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"[::ffff:203.0.113.9]:80", nil, "203.0.113.9"},
	} {
		r := hdRequest(http.MethodGet, "/")
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := c.ClientAddr(r); got != tc.want {
			t.Errorf("remote %s, X-Forwarded-For %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestNewHTTPServerHasLimits(t *testing.T) {
	srv := NewHTTPServer(Config{ListenAddr: ":1234"}, hdOK)
	if srv.Addr != ":1234" || srv.MaxHeaderBytes != 32<<10 || srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 ||
		srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("server %+v", srv)
	}
}

func TestServeShutsDownGracefullyOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{ListenAddr: "127.0.0.1:0"}
	srv := NewHTTPServer(cfg, hdOK)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, cfg, nil) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}

	bad := Config{ListenAddr: "127.0.0.1:0", TLSCertFile: "/nonexistent/cert.pem", TLSKeyFile: "/nonexistent/key.pem"}
	if err := Serve(context.Background(), NewHTTPServer(bad, hdOK), bad, nil); err == nil || !strings.Contains(err.Error(), "TLS_CERT_FILE") {
		t.Errorf("missing certificate: %v", err)
	}
}

// The access log's duration is in milliseconds, a number in JSON.
func TestAccessLogDurationInMilliseconds(t *testing.T) {
	f := epSetup(t)
	f.serve(http.MethodGet, "/me", "", "")
	logs := f.log.String()
	i := strings.Index(logs, `"duration_ms":`)
	if i < 0 || strings.Contains(logs, `"duration":`) {
		t.Fatalf("no duration_ms in the access log:\n%s", logs)
	}
	rest := logs[i+len(`"duration_ms":`):]
	if rest == "" || rest[0] < '0' || rest[0] > '9' {
		t.Errorf("duration_ms is not a number: %.40s", rest)
	}
}
