// Package docs serves the interactive API reference at /docs: Swagger UI,
// compiled into the binary (no CDN, works offline), showing this server's
// spec with "Try it out" and an Authorize dialog that logs in at the
// server's own token endpoint.
//
// The page has its own Content-Security-Policy, set on the /docs responses
// only: scripts, styles and requests from this origin alone, no inline
// script. Every other response keeps the API's policy, which allows nothing.
package docs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Path is where the page is served; its files are below Path + "/".
const Path = "/docs"

// CSP is the Content-Security-Policy of the page and its files. Swagger UI
// needs nothing from elsewhere and nothing inline: its icons are data: URLs
// in its stylesheet, it sets styles through the DOM (which style-src does
// not govern), and its requests (the spec, the token endpoint, "Try it
// out") go to this origin. The browser test checks that the page breaks
// none of it.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configure the page.
type Options struct {
	// Spec returns the OpenAPI document as JSON (api.GetSpecJSON).
	Spec func() ([]byte, error)
	// TokenURL is the path of this server's token endpoint. When it is set,
	// every scheme that carries an access token (http bearer, oauth2,
	// openIdConnect) is shown as an OAuth2 password flow at TokenURL, so
	// the Authorize dialog logs in with a username and password whatever
	// flow or URL the spec declares. When it is empty, those schemes take a
	// pasted token.
	TokenURL string
	// ClientCredentials adds the client_credentials flow at TokenURL, for
	// registered clients.
	ClientCredentials bool
	// TokenSource tells, when TokenURL is empty, where a token to paste
	// comes from (e.g. "`server tokens issue`").
	TokenSource string
}

// Mount registers the page on mux at Path and its files below it. It fails
// when the spec cannot be read or declares paths under Path itself, which
// the page would hide.
func Mount(mux *http.ServeMux, opts Options) error {
	if opts.Spec == nil {
		return errors.New("docs: Options.Spec is not set")
	}
	raw, err := opts.Spec()
	if err != nil {
		return fmt.Errorf("docs: read the spec: %w", err)
	}
	spec, err := docsSpec(raw, opts)
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	h, err := newHandler(spec)
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	mux.HandleFunc("GET "+Path, h.servePage)
	mux.Handle("GET "+Path+"/{$}", http.RedirectHandler(Path, http.StatusMovedPermanently))
	mux.HandleFunc("GET "+Path+"/{file}", h.file)
	return nil
}

// asset is a file of swagger-ui-dist (assets_gen.go): its SHA-256 as
// published, and its content gzip-compressed and base64-encoded (line
// breaks in the base64 are ignored).
type asset struct {
	name, contentType, sha256 string
	gzipBase64                string
}

// handler serves the page and its files, all prepared at start-up.
type handler struct {
	index []byte
	files map[string]file
}

// file is one file below Path. Large ones are kept gzip-compressed and sent
// so to every client that accepts it (every browser), uncompressed to the
// others.
type file struct {
	contentType string
	data        []byte // uncompressed, when not gzipped
	gzipped     []byte
	etag        string
}

func newHandler(spec *viewSpec) (*handler, error) {
	h := &handler{files: map[string]file{}}
	for _, a := range assets {
		gz, err := base64.StdEncoding.DecodeString(a.gzipBase64)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", a.name, err)
		}
		h.files[a.name] = newFile(a.contentType, nil, gz)
	}
	h.files["docs.js"] = newFile("text/javascript; charset=utf-8", []byte(initScript), nil)
	h.files["docs.css"] = newFile("text/css; charset=utf-8", []byte(pageStyle), nil)
	h.files["openapi.json"] = newFile("application/json", spec.json, nil)
	h.index = page(spec.Title)
	return h, nil
}

func newFile(contentType string, data, gzipped []byte) file {
	sum := sha256.Sum256(data)
	if gzipped != nil {
		sum = sha256.Sum256(gzipped)
	}
	return file{contentType: contentType, data: data, gzipped: gzipped, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(h.index)
}

func (h *handler) file(w http.ResponseWriter, r *http.Request) {
	f, ok := h.files[r.PathValue("file")]
	if !ok {
		hdr := w.Header()
		hdr.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not_found","error_description":"no such resource"}`+"\n")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("Content-Type", f.contentType)
	// The files change only with the binary: revalidate, and get a 304
	// from the ETag when nothing changed.
	hdr.Set("Cache-Control", "no-cache")
	if f.gzipped == nil {
		hdr.Set("ETag", f.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
		return
	}
	hdr.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		hdr.Set("ETag", f.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.gzipped))
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(f.gzipped))
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, zr)
	}
}

// acceptsGzip reports whether an Accept-Encoding header lists gzip (or *)
// without refusing it with q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(item, ";")
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip", "*":
			default:
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// page returns the page for a spec titled title. Its configuration reaches
// the script through data attributes, so no inline script is needed. (No
// html/template: it would keep every exported method of the program in the
// binary.)
func page(title string) []byte {
	return []byte(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + html.EscapeString(title) + ` · API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="` + Path + `/swagger-ui.css">
<link rel="stylesheet" href="` + Path + `/docs.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="` + Path + `/openapi.json"></div>
<script src="` + Path + `/swagger-ui-bundle.js"></script>
<script src="` + Path + `/docs.js"></script>
</body>
</html>
`)
}

// initScript starts Swagger UI. Authorizations stay in the page's memory
// (persistAuthorization is off: no token in localStorage), and the spec is
// not sent to the public validator.
//
// Swagger UI's password flow sends the client credentials in an
// Authorization header by default, even when there are none: "Basic " and
// the base64 of ":", which the token endpoint refuses as malformed client
// authentication. Without a client id the plugin sends them in the body
// instead, where empty values are left out.
const initScript = `"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  function noEmptyClientHeader() {
    return {
      statePlugins: {
        auth: {
          wrapActions: {
            authorizePassword: function (authorize) {
              return function (auth) {
                if (!auth.clientId) {
                  auth = Object.assign({}, auth, { passwordType: "request-body" });
                }
                return authorize(auth);
              };
            }
          }
        }
      }
    };
  }
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    displayRequestDuration: true,
    plugins: [noEmptyClientHeader]
  });
})();
`

const pageStyle = `html { box-sizing: border-box; overflow-y: scroll; }
*, *::before, *::after { box-sizing: inherit; }
body { margin: 0; background: #fafafa; }
`
