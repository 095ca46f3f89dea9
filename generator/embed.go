package generator

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"go/format"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// embeddedSpecFile renders internal/api/spec_gen.go: the document the server
// routes, secures and validates requests with. It is the spec as loaded
// (with the load-time repairs the warnings list), never the copy the Go
// types were generated from: that copy may have schemas replaced by raw
// JSON for the types' sake, and validating against it would drop their
// constraints.
func embeddedSpecFile(doc *spec.Doc) ([]byte, error) {
	data, err := doc.JSON()
	if err != nil {
		return nil, fmt.Errorf("embed spec: %w", err)
	}
	// A media type written without a value means nothing declared about
	// it; the request validator, like oapi-codegen, wants an object. Only
	// then is a copy loaded and changed (on a large spec, loading costs
	// seconds).
	if hasNilMediaType(doc.T) {
		t, err := loadCopy(data)
		if err != nil {
			return nil, err
		}
		forEachContent(t, func(c openapi3.Content) {
			for name, mt := range c {
				if mt == nil {
					c[name] = &openapi3.MediaType{}
				}
			}
		})
		if data, err = t.MarshalJSON(); err != nil {
			return nil, fmt.Errorf("embed spec: %w", err)
		}
	}
	var compressed bytes.Buffer
	zw, err := flate.NewWriter(&compressed, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	encoded := base64.StdEncoding.EncodeToString(compressed.Bytes())

	var b bytes.Buffer
	b.WriteString(GeneratedHeader + `

package api

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// specChunks is the OpenAPI document this server routes, secures and
// validates requests with, flate-compressed and base64-encoded: the spec as
// written (with the load-time repairs gatehouse listed), not the copy the
// Go types were generated from.
var specChunks = []string{
`)
	for len(encoded) > 0 {
		n := min(len(encoded), 96)
		fmt.Fprintf(&b, "\t%q,\n", encoded[:n])
		encoded = encoded[n:]
	}
	b.WriteString(`}

// GetSpecJSON returns the embedded OpenAPI document as JSON.
func GetSpecJSON() ([]byte, error) {
	compressed, err := base64.StdEncoding.DecodeString(strings.Join(specChunks, ""))
	if err != nil {
		return nil, fmt.Errorf("decode embedded spec: %w", err)
	}
	var buf bytes.Buffer
	zr := flate.NewReader(bytes.NewReader(compressed))
	if _, err := buf.ReadFrom(zr); err != nil {
		return nil, fmt.Errorf("decompress embedded spec: %w", err)
	}
	return buf.Bytes(), zr.Close()
}

// GetSpec returns the embedded OpenAPI document, loaded.
func GetSpec() (*openapi3.T, error) {
	data, err := GetSpecJSON()
	if err != nil {
		return nil, err
	}
	return openapi3.NewLoader().LoadFromData(data)
}
`)
	return format.Source(b.Bytes())
}

// hasNilMediaType reports whether a content map of t declares a media type
// without a value.
func hasNilMediaType(t *openapi3.T) bool {
	found := false
	forEachContent(t, func(c openapi3.Content) {
		for _, mt := range c {
			if mt == nil {
				found = true
			}
		}
	})
	return found
}
