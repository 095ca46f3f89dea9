package generator

import (
	"bytes"
	"context"
	"testing"
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
