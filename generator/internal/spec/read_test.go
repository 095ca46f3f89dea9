package spec

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// aliasBomb returns a YAML document of a few hundred bytes whose aliases
// expand to 9^levels strings.
func aliasBomb(head string, levels int) string {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("x-a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("x-a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(p+", ", 8) + p + "]\n")
	}
	return b.String()
}

func TestToJSONRefusesAliasBombQuickly(t *testing.T) {
	src := aliasBomb("swagger: \"2.0\"\ninfo: {title: t, version: \"1\"}\npaths: {}\n", 8)
	start := time.Now()
	_, err := toJSON("spec.yaml", []byte(src))
	var e *Error
	if !errors.As(err, &e) || e.Pos.String() != "spec.yaml:5:12" || !strings.Contains(e.Msg, "expands too much through YAML anchors and aliases") {
		t.Fatalf("toJSON(alias bomb) = %v, want a located refusal at the first alias", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %v", d)
	}
}

func TestCheckSyntaxAllowsModestAliases(t *testing.T) {
	src := "openapi: 3.0.3\ncommon: &c {type: string, maxLength: 10}\na: *c\nb: *c\n"
	if err := checkSyntax("spec.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSyntaxRefusesDeepNesting(t *testing.T) {
	deep := MaxDepth + 1
	for _, tt := range []struct{ name, src, want string }{
		{"yaml", "a: " + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "\n", "spec.yaml:1:"},
		{"json", `{"a": ` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + "}", "spec.yaml:1:"},
		// Aliases nest their anchor's value where they stand.
		{"alias", "a: &a " + strings.Repeat("[", MaxDepth-5) + strings.Repeat("]", MaxDepth-5) + "\nb: [[[[[[[[[[*a]]]]]]]]]]\n", "spec.yaml:2:14"},
	} {
		err := checkSyntax("spec.yaml", []byte(tt.src))
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(e.Pos.String(), tt.want) || !strings.Contains(e.Msg, "nests deeper than") {
			t.Errorf("%s: checkSyntax = %v, want a refusal at %s", tt.name, err, tt.want)
		}
	}
	ok := "a: " + strings.Repeat("[", MaxDepth-2) + strings.Repeat("]", MaxDepth-2) + "\n"
	if err := checkSyntax("spec.yaml", []byte(ok)); err != nil {
		t.Errorf("nesting within the limit: %v", err)
	}
}

func TestReadFileRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	paths := map[string]string{"a directory": dir}
	if _, err := os.Stat(os.DevNull); err == nil {
		paths["a device"] = os.DevNull
	}
	for kind, p := range paths {
		_, err := ReadFile(p)
		var nr *notRegularError
		if !errors.As(err, &nr) || fileKind(nr.mode) != kind {
			t.Errorf("ReadFile(%s) = %v, want refused as %s", p, err, kind)
		}
	}
}

func TestReadFileRefusesLargeFilesWithoutReading(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file: refused by its size before any byte is read.
	if err := f.Truncate(MaxFileBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var tl *tooLargeError
	if _, err := ReadFile(p); !errors.As(err, &tl) {
		t.Errorf("ReadFile(%d bytes) = %v, want refused as too large", MaxFileBytes+1, err)
	}
}

// newTestReader returns a refReader for a root spec api/spec.yaml under a
// temporary directory holding files.
func newTestReader(t *testing.T, files map[string]string) (*refReader, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	raw := []byte(files["api/spec.yaml"])
	r, err := newRefReader(&Doc{Path: "api/spec.yaml", Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func TestRefReaderRefusesFilesOutsideTheSpecDirectory(t *testing.T) {
	r, dir := newTestReader(t, map[string]string{
		"api/spec.yaml": "openapi: 3.0.3\npaths: {}\nx:\n  $ref: ../secret.yaml\n",
		"secret.yaml":   "token: SECRET\n",
	})
	_, err := r.read(nil, &url.URL{Path: filepath.ToSlash(filepath.Join(dir, "secret.yaml"))})
	var re *refError
	if !errors.As(err, &re) || re.reason != refOutside {
		t.Fatalf("read(../secret.yaml) = %v, want refused as outside", err)
	}
	msg := r.refErr(re).Error()
	if want := `api/spec.yaml:4:9: $ref "../secret.yaml" points outside api` + string(filepath.Separator); !strings.HasPrefix(msg, want) {
		t.Errorf("message = %q, want it to start with %q", msg, want)
	}
	if strings.Contains(msg, "SECRET") {
		t.Errorf("message quotes the file: %q", msg)
	}
}

func TestRefReaderLimitsSizes(t *testing.T) {
	r, dir := newTestReader(t, map[string]string{
		"api/spec.yaml": "openapi: 3.0.3\n",
		"api/a.yaml":    "a: 1234567890\n",
		"api/b.yaml":    "b: 1234567890\n",
	})
	loc := func(name string) *url.URL { return &url.URL{Path: filepath.ToSlash(filepath.Join(dir, "api", name))} }
	r.maxFile = 10
	var re *refError
	if _, err := r.read(nil, loc("a.yaml")); !errors.As(err, &re) || re.reason != refTooLarge {
		t.Errorf("read(file over maxFile) = %v, want refused as too large", err)
	}
	r.maxFile, r.maxTotal = 100, int64(len("openapi: 3.0.3\n")+len("a: 1234567890\n")+5)
	if _, err := r.read(nil, loc("a.yaml")); err != nil {
		t.Fatalf("read(a.yaml) within limits: %v", err)
	}
	if _, err := r.read(nil, loc("b.yaml")); !errors.As(err, &re) || re.reason != refTotal {
		t.Errorf("read(file over maxTotal) = %v, want refused as over the total", err)
	}
}

func TestLoadRefusesAliasBombInReferencedFile(t *testing.T) {
	dir := t.TempDir()
	spec := "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths: {}\ncomponents:\n  schemas:\n    T: {$ref: \"bomb.yaml#/x-a8\"}\n"
	os.WriteFile(filepath.Join(dir, "spec.yaml"), []byte(spec), 0o644)
	os.WriteFile(filepath.Join(dir, "bomb.yaml"), []byte(aliasBomb("", 8)), 0o644)
	t.Chdir(dir)
	_, err := Load(context.Background(), "spec.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "bomb.yaml:2:12: the document expands too much") {
		t.Errorf("Load = %v, want a refusal at the first alias of bomb.yaml", err)
	}
}
