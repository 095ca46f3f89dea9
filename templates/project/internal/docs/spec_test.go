package docs

import (
	"net/http"
	"testing"
)

// The spec is served as written at /openapi.json, beside the page (which
// reads its own view at /docs/openapi.json); a 304 answers a current ETag.
func TestSpecServedAsWrittenAtOpenAPIJSON(t *testing.T) {
	mux := mounted(t, Options{Spec: specFunc(testSpec), TokenURL: "/auth/token"})
	w := get(mux, SpecPath)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != testSpec {
		t.Fatalf("GET %s: %d %s\n%.200s", SpecPath, w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if w2 := get(mux, SpecPath, "If-None-Match", w.Header().Get("ETag")); w2.Code != http.StatusNotModified {
		t.Errorf("GET %s with its ETag: %d, want 304", SpecPath, w2.Code)
	}
	if w := get(mux, Path+"/openapi.json"); w.Code != http.StatusOK {
		t.Errorf("the page's view: %d", w.Code)
	}
}

// A spec that declares /openapi.json keeps its operation there.
func TestSpecPathOfTheAPIWins(t *testing.T) {
	spec := `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/openapi.json": {"get": {"responses": {"200": {"description": "ok"}}}}}}`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	if err := Mount(mux, Options{Spec: specFunc(spec)}); err != nil {
		t.Fatal(err)
	}
	if w := get(mux, SpecPath); w.Code != http.StatusTeapot {
		t.Errorf("GET %s: %d, want the API's operation", SpecPath, w.Code)
	}
}
