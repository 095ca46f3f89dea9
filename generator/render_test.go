package generator

import (
	"bytes"
	"context"
	"fmt"
	"go/format"
	"io/fs"
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
