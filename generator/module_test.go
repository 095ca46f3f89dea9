package generator_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/generator"
)

// TestUpdateProjectModule rewrites templates/project/go.mod.tmpl and go.sum,
// the module files every generated project starts with, from `go mod tidy` in
// a project generated from specs/bank.yaml, starting from the versions
// gatehouse itself builds with. It runs only with GATEHOUSE_UPDATE set, and
// needs the module proxy; the result is reviewed in the diff like any golden.
// The testscript runs prove the files complete: they build generated projects
// with -mod=readonly.
// requireLine matches a requirement of a go.mod file, in a require block
// or on a require line: the module path and version.
var requireLine = regexp.MustCompile(`(?m)^(?:require )?\t?([a-z0-9][^\s()]*\.[^\s()]+) (v[^\s]+)`)

func TestUpdateProjectModule(t *testing.T) {
	if os.Getenv("GATEHOUSE_UPDATE") == "" {
		t.Skip("set GATEHOUSE_UPDATE=1 to rewrite the generated projects' go.mod and go.sum")
	}
	res, err := generator.Generate(context.Background(), generator.Options{SpecPath: "../specs/bank.yaml", Module: "example.com/bank"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range res.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	own, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	current, err := os.ReadFile("../templates/project/go.mod.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	// Start from gatehouse's own requirements so shared modules keep the
	// versions gatehouse is tested with, then from the current template's
	// for the modules only projects use, so that adding a dependency does
	// not move them to their newest version; tidy adds what is missing and
	// drops the rest.
	var req strings.Builder
	seen := map[string]bool{}
	for _, src := range [][]byte{own, current} {
		for _, m := range requireLine.FindAllStringSubmatch(string(src), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				fmt.Fprintf(&req, "\t%s %s\n", m[1], m[2])
			}
		}
	}
	mod := "module example.com/bank\n\ngo 1.26\n\nrequire (\n" + req.String() + ")\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "go.sum"))
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	tidy, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := strings.Replace(string(tidy), "module example.com/bank", "module {{.Module}}", 1)
	if err := os.WriteFile("../templates/project/go.mod.tmpl", []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("../templates/project/go.sum", sum, 0o644); err != nil {
		t.Fatal(err)
	}
}
