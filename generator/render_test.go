package generator

import (
	"bytes"
	"context"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-go/gatehouse/templates"
)

func TestHandlerFileName(t *testing.T) {
	for tag, want := range map[string]string{
		"pets":          "pets.go",
		"Pet Store":     "pet_store.go",
		"Admin Windows": "admin_windows_ops.go",
		"amd64":         "amd64_ops.go",
		"load test":     "load_test_ops.go",
		"handlers":      "tag_handlers.go",
		"Verifiers":     "tag_verifiers.go",
	} {
		if got := handlerFileName(tag); got != want {
			t.Errorf("handlerFileName(%q) = %q, want %q", tag, got, want)
		}
	}
}

// The runtime's packages import one another by gatehouse's module path in
// this repository; in a project, by the project's.
func TestRenderRewritesRuntimeImports(t *testing.T) {
	res, err := Generate(context.Background(), Options{SpecPath: "../specs/bank.yaml", Module: "example.com/bank"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range res.Files {
		if bytes.Contains(f.Data, []byte("gatehouse-go/gatehouse/templates")) {
			t.Errorf("%s imports from gatehouse's own module", f.Path)
		}
		if f.Path == "internal/auth/authtest/issuer_gen.go" {
			found = bytes.Contains(f.Data, []byte("\t\"example.com/bank/internal/auth\"\n"))
		}
	}
	if !found {
		t.Error("internal/auth/authtest/issuer_gen.go does not import example.com/bank/internal/auth")
	}
}

// TestBuiltinGoFilesFormatted checks that the Go files of the built-in
// templates that are not templates are in gofmt's form, as Generate
// assumes when it copies them without formatting.
func TestBuiltinGoFilesFormatted(t *testing.T) {
	n := 0
	err := fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		n++
		data, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		out, err := format.Source(data)
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		if !bytes.Equal(out, data) {
			t.Errorf("%s is not gofmt's form; run gofmt -w on it", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no Go file among the built-in templates")
	}
}

// TestOverrideGoFilesFormatted checks that a Go file of a template
// directory, which may be in any form, is formatted.
func TestOverrideGoFilesFormatted(t *testing.T) {
	overrides := fstest.MapFS{"internal/extra/extra.go": {Data: []byte("package extra\nfunc  F( ) {}\n")}}
	res, err := Generate(context.Background(), Options{SpecPath: filepath.Join("..", "specs", "petstore.yaml"), Module: "example.com/x", Overrides: overrides, TemplateDir: "tmpl"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if f.Path == "internal/extra/extra.go" {
			if want := "package extra\n\nfunc F() {}\n"; string(f.Data) != want {
				t.Errorf("got %q, want %q", f.Data, want)
			}
			return
		}
	}
	t.Error("the override's file is not among the project's")
}

// The example the handler tests and the README use: a protected operation
// a bearer token alone satisfies, one the typed client can call with
// literal arguments first; its call, its client and its curl command.
func TestExample(t *testing.T) {
	for _, tt := range []struct {
		name, paths                string
		goName, call, client, curl string
		unauthorized               bool // no client satisfies the example
	}{{
		name: "a bearer operation with a literal argument over a UUID one, an API key one and a public one",
		paths: `
  /public:
    get: {operationId: pub, security: [], responses: {"200": {description: ok}}}
  /keyed:
    get: {operationId: keyed, security: [{key: [things:read]}], responses: {"200": {description: ok}}}
  /things/{id}:
    get:
      operationId: getThing
      parameters: [{name: id, in: path, required: true, schema: {type: string, format: uuid}}]
      responses: {"200": {description: ok}}
  /items/{n}:
    get:
      operationId: getItem
      security: [{oauth: [items:read]}, {key: []}]
      parameters: [{name: n, in: path, required: true, schema: {type: integer, format: int32, minimum: 3}}]
      responses: {"204": {description: ok}}`,
		goName: "GetItem",
		call:   "GetItemWithResponse(t.Context(), 3)",
		client: `c.As("alice", "items:read")`,
		curl:   `curl -s -H "Authorization: Bearer $ACCESS_TOKEN" 'localhost:8080/items/3'`,
	}, {
		name: "an API key in the query and a JSON body, over an operation with a required query parameter",
		paths: `
  /search:
    get:
      operationId: search
      security: [{query: []}]
      parameters: [{name: q, in: query, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
  /notes:
    post:
      operationId: addNote
      security: [{query: [], key: [notes:write]}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [text], properties: {text: {type: string, example: "it's"}}}
      responses: {"201": {description: ok}}`,
		goName: "AddNote",
		call:   `AddNoteWithBodyWithResponse(t.Context(), "application/json", strings.NewReader("{\"text\":\"it's\"}"))`,
		client: `c.WithAPIKey(c.CreateAPIKey("alice", "notes:write"), "key").WithAPIKey(c.CreateAPIKey("alice"), "query")`,
		curl:   `curl -s -X POST -H "X-Key: $API_KEY" -H 'Content-Type: application/json' --data-raw '{"text":"it'\''s"}' 'localhost:8080/notes?api_key='"$API_KEY"`,
	}, {
		name: "a requirement no request can carry (a token and a key both in Authorization) is passed over",
		paths: `
  /both:
    get: {operationId: both, security: [{oauth: [], auth: []}], responses: {"200": {description: ok}}}
  /keyed:
    get: {operationId: keyed, security: [{auth: []}, {oauth: [], auth: []}], responses: {"200": {description: ok}}}`,
		goName: "Keyed",
		call:   "KeyedWithResponse(t.Context())",
		client: `c.WithAPIKey(c.CreateAPIKey("alice"), "auth")`,
		curl:   `curl -s -H "Authorization: $API_KEY" 'localhost:8080/keyed'`,
	}, {
		name: "when no operation can be satisfied, the example is called anonymously",
		paths: `
  /both:
    get: {operationId: both, security: [{oauth: [], auth: []}], responses: {"200": {description: ok}}}`,
		goName:       "Both",
		call:         "BothWithResponse(t.Context())",
		client:       "c",
		curl:         `curl -s 'localhost:8080/both'`,
		unauthorized: true,
	}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := `openapi: 3.0.3
info: {title: t, version: "1"}
security: [{oauth: [things:read]}]
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {password: {tokenUrl: /oauth/token, scopes: {}}}}
    key: {type: apiKey, in: header, name: X-Key}
    query: {type: apiKey, in: query, name: api_key}
    auth: {type: apiKey, in: header, name: Authorization}
paths:` + tt.paths + "\n"
			if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := Generate(context.Background(), Options{SpecPath: filepath.Join(dir, "spec.yaml"), Module: "example.com/x"})
			if err != nil {
				t.Fatal(err)
			}
			d := res.data
			if d.Example.GoName != tt.goName || d.ExampleCall != tt.call || d.ExampleClient != tt.client || d.ExampleCurl != tt.curl {
				t.Errorf("example %s\n call   %s\n client %s\n curl   %s\nwant %s\n call   %s\n client %s\n curl   %s",
					d.Example.GoName, d.ExampleCall, d.ExampleClient, d.ExampleCurl, tt.goName, tt.call, tt.client, tt.curl)
			}
			if d.ExampleAuthorized == tt.unauthorized {
				t.Errorf("ExampleAuthorized %v, want %v", d.ExampleAuthorized, !tt.unauthorized)
			}
		})
	}
}
