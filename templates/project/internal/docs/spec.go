package docs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// SpecPath is where the spec is served as written (JSON), for tools: client
// generators, Postman, another Swagger UI. It is served with the page, under
// the same rule (DOCS_ENABLED). The page itself reads Path + "/openapi.json",
// the same spec with its security schemes shown as the Authorize dialog
// needs them (an OAuth2 password flow at this server's token endpoint):
// that view is for the page, not for tools.
const SpecPath = "/openapi.json"

// mountSpec serves raw, the spec as written, at SpecPath, unless the spec
// declares that path itself (the API's operation wins; the spec is still at
// Path/openapi.json).
func mountSpec(mux *http.ServeMux, raw []byte) {
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if json.Unmarshal(raw, &doc) == nil {
		if _, ok := doc.Paths[SpecPath]; ok {
			return
		}
	}
	sum := sha256.Sum256(raw)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	mux.HandleFunc("GET "+SpecPath, func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(raw))
	})
}
