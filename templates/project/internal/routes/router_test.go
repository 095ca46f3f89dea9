package routes

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestRouterPrecedenceAndPathValues(t *testing.T) {
	rt := &router{}
	reply := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(name + " " + r.PathValue("x") + "|" + r.PathValue("y") + "|" + r.PathValue("sid")))
		}
	}
	rt.handle("GET", "/a/{x}/b", []pathParam{{"x", "x"}}, reply("axb"))
	rt.handle("GET", "/a/c/{y}", []pathParam{{"y", "y"}}, reply("acy"))
	rt.handle("GET", "/a/c/d", nil, reply("acd"))
	rt.handle("GET", "/files/{Sid}.json", []pathParam{{"Sid", "sid"}}, reply("json"))
	rt.handle("GET", "/files/{Sid}", []pathParam{{"Sid", "sid"}}, reply("bare"))
	rt.handle("POST", "/a/c/d", nil, reply("post"))

	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/a/c/d", 200, "acd ||"},              // literal beats parameter
		{"GET", "/a/c/b", 200, "acy |b|"},             // leftmost literal wins
		{"GET", "/a/z/b", 200, "axb z||"},             // backtracks to the parameter branch
		{"GET", "/files/AC1.json", 200, "json ||AC1"}, // affixed parameter beats bare
		{"GET", "/files/AC1", 200, "bare ||AC1"},
		{"GET", "/files/a%2Fb", 200, "bare ||a/b"}, // escaped slash stays in the segment
		{"HEAD", "/a/c/d", 200, ""},
		{"DELETE", "/a/c/d", 405, ""},
		{"GET", "/nope", 404, ""},
		{"GET", "/a/c", 404, ""},
		{"GET", "/files/.json", 200, "bare ||.json"}, // an empty value never matches
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.status)
			continue
		}
		if tt.body != "" && rec.Body.String() != tt.body {
			t.Errorf("%s %s: body %q, want %q", tt.method, tt.path, rec.Body.String(), tt.body)
		}
		if tt.status == 405 && rec.Header().Get("Allow") != "GET, POST" {
			t.Errorf("%s %s: Allow %q", tt.method, tt.path, rec.Header().Get("Allow"))
		}
	}
}

// The segments the router matches are the path's, unescaped one by one,
// so that an escaped slash stays inside its segment, whether or not the
// request's path needed escaping.
func TestPathSegments(t *testing.T) {
	tests := []struct {
		target string
		want   []string // nil: malformed
	}{
		{"/", []string{""}},
		{"/a/b", []string{"a", "b"}},
		{"/a/b/", []string{"a", "b", ""}},
		{"//a", []string{"", "a"}},
		{"/files/a%2Fb", []string{"files", "a/b"}},
		{"/files/a%252F", []string{"files", "a%2F"}},
		{"/files/%E2%82%AC", []string{"files", "€"}},
		{"/files/caf%C3%A9/x%2Fy", []string{"files", "café", "x/y"}},
		{"/a%20b/c", []string{"a b", "c"}},
		{"/" + strings.Repeat("s/", 20) + "end", append(slices.Repeat([]string{"s"}, 20), "end")},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		got, ok := pathSegments(r.URL, nil)
		if !ok || !slices.Equal(got, tt.want) {
			t.Errorf("%s: segments %q (%v), want %q", tt.target, got, ok, tt.want)
		}
	}
	// Not from a parsed request: a raw path with a bad escape.
	u := &url.URL{Path: "/a/b", RawPath: "/a%2/b"}
	if got, ok := pathSegments(u, nil); ok && slices.Equal(got, []string{"a%2", "b"}) {
		t.Errorf("a malformed raw path gave segments %q", got)
	}
}

// mount leaves every pattern mux has its precedence, and registers the
// literal paths of the spec that mux does not serve itself, so that
// ServeMux finds them without trying "/".
func TestMountRegistersLiteralPaths(t *testing.T) {
	rt := &router{}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("api")) })
	for _, p := range []string{"/branches", "/oauth/token", "/openapi.json", "/x", "/a/{id}", "/a%20b", "/dir/", "/sp ace", "/a/../b"} {
		var params []pathParam
		if strings.Contains(p, "{id}") {
			params = []pathParam{{"id", "id"}}
		}
		rt.handle("GET", p, params, ok)
		rt.handle("POST", p, params, ok) // a second method: the path is listed once
	}
	mux := http.NewServeMux()
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("other")) })
	mux.Handle("/oauth/token", other)
	mux.Handle("GET /openapi.json", other)
	mux.Handle("POST /x", other)
	rt.mount(mux)

	for _, tt := range []struct{ method, path, pattern, body string }{
		{"GET", "/branches", "/branches", "api"},
		{"DELETE", "/branches", "/branches", ""}, // the router answers 405
		{"GET", "/oauth/token", "/oauth/token", "other"},
		{"GET", "/openapi.json", "GET /openapi.json", "other"},
		{"POST", "/openapi.json", "/", "api"},
		{"GET", "/x", "/x", "api"},
		{"POST", "/x", "POST /x", "other"},
		{"GET", "/a/1", "/", "api"},
		{"GET", "/a%2520b", "/", "api"}, // the template's segment is the literal a%20b
		{"GET", "/dir/", "/", "api"},
		{"GET", "/nope", "/", ""},
	} {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if _, pattern := mux.Handler(r); pattern != tt.pattern {
			t.Errorf("%s %s: pattern %q, want %q", tt.method, tt.path, pattern, tt.pattern)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Body.String() != tt.body && tt.body != "" {
			t.Errorf("%s %s: answered %q, want %q", tt.method, tt.path, rec.Body.String(), tt.body)
		}
	}
	want := []string{"/branches", "/oauth/token", "/openapi.json", "/x", "/a%20b", "/dir/", "/sp ace", "/a/../b"}
	if !slices.Equal(rt.literals, want) {
		t.Errorf("literals %q, want each template without parameters once: %q", rt.literals, want)
	}
}

// The router's own cost on a request: matching a literal path and one
// with a parameter allocates nothing.
func TestRouterAllocations(t *testing.T) {
	rt := &router{}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	rt.handle("GET", "/branches", nil, ok)
	rt.handle("GET", "/accounts/{accountId}/transactions", []pathParam{{"accountId", "accountId"}}, ok)
	w := httptest.NewRecorder()
	for _, target := range []string{"/branches", "/accounts/acc-1/transactions"} {
		r := httptest.NewRequest("GET", target, nil)
		rt.ServeHTTP(w, r)
		if n := testing.AllocsPerRun(100, func() { rt.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("GET %s: %v allocations, want 0", target, n)
		}
	}
}

// BenchmarkMountedLiteralPath and BenchmarkMountedParameterPath are a
// request through ServeMux to the router (see mount): a literal path,
// registered on the mux, and a path with a parameter, which only "/"
// matches.
func BenchmarkMountedLiteralPath(b *testing.B)   { bmMounted(b, "/branches") }
func BenchmarkMountedParameterPath(b *testing.B) { bmMounted(b, "/accounts/acc-1") }

func bmMounted(b *testing.B, target string) {
	rt := &router{}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	rt.handle("GET", "/branches", nil, ok)
	rt.handle("GET", "/accounts/{accountId}", []pathParam{{"accountId", "accountId"}}, ok)
	mux := http.NewServeMux()
	mux.Handle("/oauth/token", ok)
	rt.mount(mux)
	r := httptest.NewRequest("GET", target, nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(w, r)
	}
}
