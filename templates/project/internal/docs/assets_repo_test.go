package docs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// swaggerUIFiles are the files of swagger-ui-dist the page serves, and their
// content types: the bundle (Swagger UI with its dependencies, minified)
// and its stylesheet. The page needs nothing else of the package.
var swaggerUIFiles = []struct{ name, contentType string }{
	{"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	{"swagger-ui.css", "text/css; charset=utf-8"},
}

// swaggerUILicenses are copied from the package into swagger-ui/, to ship
// with every project: Swagger UI's license and notice, and the licenses of
// the libraries bundled into swagger-ui-bundle.js.
var swaggerUILicenses = map[string]string{
	"LICENSE":                          "LICENSE",
	"NOTICE":                           "NOTICE",
	"swagger-ui-bundle.js.LICENSE.txt": "THIRD-PARTY-LICENSES.txt",
}

// TestUpdateSwaggerUI rewrites assets.go and swagger-ui/ from an
// unpacked swagger-ui-dist package. It runs only with GATEHOUSE_UPDATE set
// and SWAGGER_UI_DIST naming the package directory:
//
//	npm pack swagger-ui-dist@VERSION && tar xzf swagger-ui-dist-VERSION.tgz
//	GATEHOUSE_UPDATE=1 SWAGGER_UI_DIST=$PWD/package go test ./templates/project/internal/docs -run TestUpdateSwaggerUI
//
// The result is reviewed in the diff like any golden; TestAssetDigests
// checks that the embedded files decode to the recorded digests.
func TestUpdateSwaggerUI(t *testing.T) {
	dist := os.Getenv("SWAGGER_UI_DIST")
	if os.Getenv("GATEHOUSE_UPDATE") == "" || dist == "" {
		t.Skip("set GATEHOUSE_UPDATE=1 and SWAGGER_UI_DIST=DIR (an unpacked swagger-ui-dist package) to rewrite the embedded Swagger UI")
	}
	var pkg struct{ Name, Version string }
	data, err := os.ReadFile(filepath.Join(dist, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pkg); err != nil || pkg.Name != "swagger-ui-dist" || pkg.Version == "" {
		t.Fatalf("%s/package.json is not swagger-ui-dist's (%v)", dist, err)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `package docs

// SwaggerUIVersion is the version of the npm package swagger-ui-dist whose
// files the page serves (Apache-2.0: swagger-ui/LICENSE and NOTICE; the
// libraries bundled into swagger-ui-bundle.js are listed with their
// licenses in swagger-ui/THIRD-PARTY-LICENSES.txt).
const SwaggerUIVersion = %q

// assets are the package's files the page uses.
var assets = []asset{
`, pkg.Version)
	for _, f := range swaggerUIFiles {
		content, err := os.ReadFile(filepath.Join(dist, f.name))
		if err != nil {
			t.Fatal(err)
		}
		var gz bytes.Buffer
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(content); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		fmt.Fprintf(&b, "\t{\n\t\tname:        %q,\n\t\tcontentType: %q,\n\t\tsha256:      %q,\n\t\tgzipBase64: `\n",
			f.name, f.contentType, hex.EncodeToString(sum[:]))
		encoded := base64.StdEncoding.EncodeToString(gz.Bytes())
		for len(encoded) > 0 {
			n := min(len(encoded), 76)
			b.WriteString(encoded[:n] + "\n")
			encoded = encoded[n:]
		}
		b.WriteString("`,\n\t},\n")
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("assets.go", src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("swagger-ui", 0o755); err != nil {
		t.Fatal(err)
	}
	for from, to := range swaggerUILicenses {
		data, err := os.ReadFile(filepath.Join(dist, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("swagger-ui", to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("swagger-ui-dist %s: %s", pkg.Version, strings.Join([]string{swaggerUIFiles[0].name, swaggerUIFiles[1].name}, ", "))
}
