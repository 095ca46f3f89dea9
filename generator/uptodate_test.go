package generator

import (
	"os"
	"path/filepath"
	"testing"
)

// A project is up to date only for the gatehouse that wrote it: another
// build may generate other files from the same spec (an upgrade that fixes
// the runtime, say), so generate must not stop at "up to date".
func TestUpToDateNeedsThisGenerator(t *testing.T) {
	dir := t.TempDir()
	m := &Manifest{Version: 1, Output: OutputVersion, Generator: GeneratorDigest(), Inputs: map[string]string{}, Files: map[string]string{}}
	for p, data := range map[string]string{
		ConfigFile:                   "version: 1\nspec: api/openapi.yaml\n",
		"api/openapi.yaml":           "openapi: 3.0.3\n",
		"internal/auth/guard_gen.go": "package auth\n",
	} {
		path := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(p) == ".go" {
			m.Files[p] = Digest([]byte(data))
		} else {
			m.Inputs[p] = Digest([]byte(data))
		}
	}
	required := []string{"api/openapi.yaml", ConfigFile}
	if !UpToDate(dir, m, required) {
		t.Fatal("a project this gatehouse wrote, unchanged, is not up to date")
	}
	for _, other := range []string{"another gatehouse", ""} { // "": written before manifests named it
		m.Generator = other
		if UpToDate(dir, m, required) {
			t.Errorf("generator %q: up to date for this gatehouse", other)
		}
	}
	if d := GeneratorDigest(); len(d) != 32 || d != GeneratorDigest() {
		t.Errorf("GeneratorDigest() = %q, want 32 hex digits, the same each time", d)
	}
}
