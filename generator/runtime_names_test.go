package generator

import (
	"bytes"
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates"
)

func TestGeneratedName(t *testing.T) {
	for in, want := range map[string]string{
		"internal/auth/guard.go":                      "internal/auth/guard_gen.go",
		"internal/auth/guard_test.go":                 "internal/auth/guard_gen_test.go",
		"internal/auth/authtest/issuer.go":            "internal/auth/authtest/issuer_gen.go",
		"internal/routes/app.go.tmpl":                 "internal/routes/app_gen.go.tmpl",
		"internal/routes/harness_test.go.tmpl":        "internal/routes/harness_gen_test.go.tmpl",
		"internal/store/sqlite.go":                    "internal/store/sqlite_gen.go",
		"internal/auth/envexample_repo_test.go":       "", // gatehouse's own
		"internal/handlers/handlers.go.tmpl":          "", // the user's
		"cmd/server/main.go.tmpl":                     "",
		"internal/docs/swagger-ui/LICENSE":            "",
		"internal/routes/_partial.go.tmpl":            "",
		"internal/authority/x.go":                     "", // not a runtime directory
		"internal/testclient/testclient_test.go.tmpl": "internal/testclient/testclient_gen_test.go.tmpl",
	} {
		got, gen := generatedName(in)
		if want == "" {
			if gen || got != in {
				t.Errorf("generatedName(%q) = %q, %v; want it unchanged, not generated", in, got, gen)
			}
			continue
		}
		if !gen || got != want {
			t.Errorf("generatedName(%q) = %q, %v; want %q, true", in, got, gen, want)
		}
	}
}

// The runtime's source in this repository carries neither the generated
// header nor the _gen suffix; every such file reaches a project as a
// generated file, with both, and the repository's own tests do not.
func TestRuntimeFilesBecomeGenerated(t *testing.T) {
	var sources []string
	err := fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, templates.Root+"/"), templates.Overlays+"/")
		if strings.HasPrefix(p, templates.Overlays+"/") {
			_, rel, _ = strings.Cut(rel, "/")
		}
		if strings.HasSuffix(rel, "_gen.go") || strings.HasSuffix(rel, "_gen_test.go") || strings.Contains(rel, "_gen.go.tmpl") || strings.Contains(rel, "_gen_test.go.tmpl") {
			t.Errorf("%s: the runtime's source is named without _gen; the copy into a project adds it", p)
		}
		data, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(GeneratedHeader)) {
			t.Errorf("%s carries the generated header; the copy into a project adds it", p)
		}
		if _, gen := generatedName(rel); gen && strings.HasPrefix(p, templates.Root+"/") && !strings.HasSuffix(p, ".tmpl") {
			sources = append(sources, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Generate(context.Background(), Options{SpecPath: "../specs/bank.yaml", Module: "example.com/bank"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]File{}
	for _, f := range res.Files {
		files[f.Path] = f
		if strings.HasSuffix(f.Path, repoTestSuffix) {
			t.Errorf("%s, a test of gatehouse's own, was copied into the project", f.Path)
		}
	}
	if len(sources) < 50 {
		t.Fatalf("found %d runtime source files; the walk is wrong", len(sources))
	}
	for _, src := range sources {
		name, _ := generatedName(src)
		f, ok := files[name]
		if !ok {
			t.Errorf("%s is not written as %s", src, name)
			continue
		}
		if f.Tier != Generated || !bytes.HasPrefix(f.Data, []byte(GeneratedHeader+"\n\npackage ")) && !bytes.HasPrefix(f.Data, []byte(GeneratedHeader+"\n\n// Package ")) {
			t.Errorf("%s: tier %v, starts %q; want generated, with the header first", name, f.Tier, f.Data[:min(len(f.Data), 60)])
		}
	}
}
