package generator_test

import (
	"context"
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
	// Start from gatehouse's own requirements so shared modules keep the
	// versions gatehouse is tested with, then from the projects' current
	// ones, so an update moves only what it must; tidy drops the rest.
	current, err := os.ReadFile("../templates/project/go.mod.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	mod := "module example.com/bank\n\ngo 1.26\n\nrequire (\n"
	seen := map[string]bool{}
	for _, file := range [][]byte{own, current} {
		for _, m := range regexp.MustCompile(`(?m)^\t(\S+) (v\S+)`).FindAllStringSubmatch(string(file), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				mod += "\t" + m[1] + " " + m[2] + "\n"
			}
		}
	}
	mod += ")\n"
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
