package routes

import (
	"net/http"
	"net/http/httptest"
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
