package docs

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// testSpec declares one scheme of each kind and requires some of them with
// scopes the schemes do not list, and servers the page must not call.
const testSpec = `{
  "openapi": "3.0.3",
  "info": {"title": "Shop <API>", "version": "1"},
  "servers": [{"url": "https://api.example.com/v1"}],
  "security": [{"oauth": ["orders:read"]}],
  "paths": {
    "/orders": {
      "servers": [{"url": "https://orders.example.com"}],
      "get": {"responses": {"200": {"description": "ok"}}},
      "post": {
        "servers": [{"url": "https://write.example.com"}],
        "security": [{"bearer": ["orders:write"]}, {"key": [], "basic": []}],
        "responses": {"201": {"description": "created"}}
      }
    }
  },
  "components": {
    "securitySchemes": {
      "oauth": {"type": "oauth2", "description": "Company login.", "flows": {
        "authorizationCode": {"authorizationUrl": "https://login.example.com/authorize", "tokenUrl": "https://login.example.com/token",
          "scopes": {"orders:read": "Read orders"}}}},
      "bearer": {"type": "http", "scheme": "Bearer", "bearerFormat": "JWT"},
      "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://login.example.com/.well-known/openid-configuration"},
      "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
      "basic": {"type": "http", "scheme": "basic"}
    },
    "schemas": {"Order": {"type": "object"}}
  }
}`

func specFunc(s string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(s), nil }
}

func mounted(t *testing.T, opts Options) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	if err := Mount(mux, opts); err != nil {
		t.Fatal(err)
	}
	return mux
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// viewOf returns the spec as the page shows it.
func viewOf(t *testing.T, mux *http.ServeMux) map[string]any {
	t.Helper()
	w := get(mux, Path+"/openapi.json")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s/openapi.json: %d %s", Path, w.Code, w.Header().Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func scheme(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	s, ok := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)[name].(map[string]any)
	if !ok {
		t.Fatalf("no security scheme %q in %v", name, doc["components"])
	}
	return s
}

// The page loads its scripts and styles from this server only, runs no
// inline script, and carries a Content-Security-Policy of its own that
// replaces whatever the API set before.
func TestPageIsSelfContainedUnderItsOwnCSP(t *testing.T) {
	mux := mounted(t, Options{Spec: specFunc(testSpec), TokenURL: "/auth/token"})
	apiCSP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		mux.ServeHTTP(w, r)
	})
	w := get(apiCSP, Path)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", Path, w.Code, w.Header().Get("Content-Type"))
	}
	if got := w.Header().Values("Content-Security-Policy"); len(got) != 1 || got[0] != CSP {
		t.Errorf("page CSP %q, want only %q", got, CSP)
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, directive+";") && !strings.HasSuffix(CSP, directive) {
			t.Errorf("CSP lacks %s", directive)
		}
	}
	page := w.Body.String()
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("the page loads something from elsewhere:\n%s", page)
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(page) {
		t.Errorf("the page has an inline script:\n%s", page)
	}
	if !strings.Contains(page, "<title>Shop &lt;API&gt; · API reference</title>") {
		t.Errorf("the page's title is not the spec's, escaped:\n%s", page)
	}
	for _, src := range regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if f := get(apiCSP, src[1], "Accept-Encoding", "gzip"); f.Code != http.StatusOK || f.Header().Get("Content-Security-Policy") != CSP {
			t.Errorf("GET %s: %d, CSP %q", src[1], f.Code, f.Header().Get("Content-Security-Policy"))
		}
	}
	if w := get(mux, Path+"/"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != Path {
		t.Errorf("GET %s/: %d to %q, want a redirect to %s", Path, w.Code, w.Header().Get("Location"), Path)
	}
	if w := get(mux, Path+"/index.html"); w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET %s/index.html: %d %s, want a JSON 404", Path, w.Code, w.Header().Get("Content-Type"))
	}
}

// Swagger UI's files are served gzip-compressed to clients that accept it
// and plain to the others, are exactly the published files, and are
// revalidated by ETag.
func TestSwaggerUIFilesAreThePublishedOnes(t *testing.T) {
	mux := mounted(t, Options{Spec: specFunc(testSpec)})
	if len(assets) == 0 {
		t.Fatal("no Swagger UI files are embedded")
	}
	for _, a := range assets {
		path := Path + "/" + a.name
		gz := get(mux, path, "Accept-Encoding", "br, gzip")
		if gz.Code != http.StatusOK || gz.Header().Get("Content-Encoding") != "gzip" || gz.Header().Get("Content-Type") != a.contentType {
			t.Fatalf("GET %s accepting gzip: %d, encoding %q, type %q", path, gz.Code, gz.Header().Get("Content-Encoding"), gz.Header().Get("Content-Type"))
		}
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		plain := get(mux, path)
		if plain.Code != http.StatusOK || plain.Header().Get("Content-Encoding") != "" {
			t.Fatalf("GET %s without gzip: %d, encoding %q", path, plain.Code, plain.Header().Get("Content-Encoding"))
		}
		for what, content := range map[string][]byte{"gzipped": unzipped, "plain": plain.Body.Bytes()} {
			if sum := sha256.Sum256(content); hex.EncodeToString(sum[:]) != a.sha256 {
				t.Errorf("%s %s: SHA-256 %x, want the published file's %s (swagger-ui-dist %s)", what, a.name, sum, a.sha256, SwaggerUIVersion)
			}
		}
		etag := gz.Header().Get("ETag")
		if w := get(mux, path, "Accept-Encoding", "gzip", "If-None-Match", etag); etag == "" || w.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: %d, want 304", path, etag, w.Code)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                    false,
		"gzip":                true,
		"GZIP":                true,
		"deflate, gzip;q=1.0": true,
		"br;q=1, gzip; q=0.5": true,
		"x-gzip":              true,
		"*":                   true,
		"identity":            false,
		"br, gzip;q=0":        false,
		"gzip;q=0.000":        false,
		"*;q=0":               false,
	} {
		if got := acceptsGzip([]string{header}); got != want {
			t.Errorf("Accept-Encoding %q: acceptsGzip %v, want %v", header, got, want)
		}
	}
}

// With a token endpoint, every scheme that carries an access token is
// offered as a password flow at that endpoint, with every scope the spec
// names for it; API keys and Basic stay as they are; requests go to this
// server, not to the spec's servers.
func TestViewLogsInAtTheTokenEndpoint(t *testing.T) {
	doc := viewOf(t, mounted(t, Options{Spec: specFunc(testSpec), TokenURL: "/auth/token", ClientCredentials: true}))

	for name, scopes := range map[string]map[string]any{
		"oauth":  {"orders:read": "Read orders"},
		"bearer": {"orders:write": ""},
		"oidc":   {},
	} {
		s := scheme(t, doc, name)
		if s["type"] != "oauth2" {
			t.Errorf("%s: type %v, want oauth2", name, s["type"])
		}
		flows, _ := s["flows"].(map[string]any)
		for _, flow := range []string{"password", "clientCredentials"} {
			f, _ := flows[flow].(map[string]any)
			if f["tokenUrl"] != "/auth/token" {
				t.Errorf("%s: %s flow %v, want one with tokenUrl /auth/token", name, flow, flows[flow])
			}
			if got, _ := json.Marshal(f["scopes"]); string(got) != mustJSON(t, scopes) {
				t.Errorf("%s: %s scopes %s, want %s", name, flow, got, mustJSON(t, scopes))
			}
		}
		if len(flows) != 2 {
			t.Errorf("%s: flows %v, want password and clientCredentials only", name, flows)
		}
		if desc, _ := s["description"].(string); !strings.Contains(desc, "POST /auth/token") {
			t.Errorf("%s: description %q does not say where the page logs in", name, desc)
		}
	}
	if desc, _ := scheme(t, doc, "oauth")["description"].(string); !strings.HasPrefix(desc, "Company login.\n\n") {
		t.Errorf("oauth: description %q lost the spec's", desc)
	}
	if got := mustJSON(t, scheme(t, doc, "key")); got != `{"in":"header","name":"X-Key","type":"apiKey"}` {
		t.Errorf("apiKey scheme changed: %s", got)
	}
	if got := mustJSON(t, scheme(t, doc, "basic")); got != `{"scheme":"basic","type":"http"}` {
		t.Errorf("basic scheme changed: %s", got)
	}

	if got := mustJSON(t, doc["servers"]); got != `[{"description":"this server","url":"/"}]` {
		t.Errorf("servers %s, want this server only", got)
	}
	orders := doc["paths"].(map[string]any)["/orders"].(map[string]any)
	if _, ok := orders["servers"]; ok {
		t.Error("the path keeps its servers")
	}
	if _, ok := orders["post"].(map[string]any)["servers"]; ok {
		t.Error("the operation keeps its servers")
	}
	if _, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)["Order"]; !ok {
		t.Error("the schemas were lost")
	}
}

// Without a token endpoint (tokens come from elsewhere), token schemes take
// a pasted token, and say where one comes from.
func TestViewTakesPastedTokensWithoutTokenEndpoint(t *testing.T) {
	doc := viewOf(t, mounted(t, Options{Spec: specFunc(testSpec), TokenSource: "`server tokens issue`"}))
	for _, name := range []string{"oauth", "bearer", "oidc"} {
		s := scheme(t, doc, name)
		if s["type"] != "http" || s["scheme"] != "bearer" || s["flows"] != nil {
			t.Errorf("%s: %v, want an http bearer scheme", name, s)
		}
		if desc, _ := s["description"].(string); !strings.Contains(desc, "Paste an access token from `server tokens issue`.") {
			t.Errorf("%s: description %q does not say where tokens come from", name, desc)
		}
	}
}

// A spec with its own paths under /docs keeps them: the page is not served.
func TestMountRefusesToHideTheSpecsPaths(t *testing.T) {
	spec := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/docs/{id}":{},"/orders":{}}}`
	mux := http.NewServeMux()
	err := Mount(mux, Options{Spec: specFunc(spec)})
	if err == nil || !strings.Contains(err.Error(), "the spec declares /docs/{id}") || !strings.Contains(err.Error(), "DOCS_ENABLED=false") {
		t.Fatalf("Mount: %v, want an error naming /docs/{id} and the way out", err)
	}
	if w := get(mux, Path); w.Code != http.StatusNotFound {
		t.Errorf("GET %s after the refusal: %d, want nothing mounted", Path, w.Code)
	}
	for _, spec := range []string{`[]`, `{"paths": []}`, `{"components": {"securitySchemes": {"a": 1}}}`} {
		if err := Mount(http.NewServeMux(), Options{Spec: specFunc(spec)}); err == nil {
			t.Errorf("Mount with spec %s: no error", spec)
		}
	}
	if err := Mount(http.NewServeMux(), Options{}); err == nil {
		t.Error("Mount without a spec: no error")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
