package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestPath is where a project records what gatehouse last wrote.
const ManifestPath = ".gatehouse/manifest.json"

// Manifest records the digests of the inputs and of every generated file of
// the last run, so the next run can tell a stale project from one edited by
// hand, and skip all work when nothing changed.
type Manifest struct {
	Version int `json:"version"`
	// Output is the OutputVersion of the gatehouse that wrote the files.
	Output int               `json:"output"`
	Inputs map[string]string `json:"inputs"` // path → SHA-256 of spec, config
	Files  map[string]string `json:"files"`  // generated path → SHA-256
	// Operations maps each operation's handler method to "METHOD /path",
	// so the next run can tell a removed operation from a renamed one.
	Operations map[string]string `json:"operations"`
}

func (m *Manifest) hadOperation(name string) bool {
	_, ok := m.Operations[name]
	return ok
}

// OutputVersion numbers what gatehouse writes for a given spec and
// configuration. It goes up whenever a gatehouse release changes its output,
// so regenerating with a newer gatehouse rewrites the files even though the
// spec did not change, and says why.
const OutputVersion = 1

// NewManifest describes res, generated from the given input files.
func NewManifest(res *Result, inputs map[string][]byte) *Manifest {
	m := &Manifest{Version: 1, Output: OutputVersion, Inputs: map[string]string{}, Files: map[string]string{}, Operations: map[string]string{}}
	for _, op := range res.API.Operations {
		m.Operations[op.GoName] = op.Method + " " + op.Path
	}
	for p, data := range inputs {
		m.Inputs[p] = Digest(data)
	}
	for _, f := range res.Files {
		if f.Tier == Generated {
			m.Files[f.Path] = Digest(f.Data)
		}
	}
	return m
}

// Encode returns the manifest as stable, indented JSON.
func (m *Manifest) Encode() []byte {
	data, _ := json.MarshalIndent(m, "", "  ") // maps encode sorted
	return append(data, '\n')
}

// ReadManifest reads dir's manifest; a missing one is an empty manifest.
func ReadManifest(dir string) (*Manifest, error) {
	m := &Manifest{Version: 1, Inputs: map[string]string{}, Files: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(dir, ManifestPath))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%s: %v; delete it and run gatehouse generate --force", ManifestPath, err)
	}
	for p := range m.Files {
		if !generatedPath(p) {
			return nil, fmt.Errorf("%s lists %q, which is not a generated file of this project; delete the manifest and run gatehouse generate --force", ManifestPath, p)
		}
	}
	return m, nil
}

// WriteNew writes a new project into dir, which must not exist or be empty
// (unless force). The files are written to a temporary directory beside dir
// and moved into place, so a failure leaves nothing half-written.
func WriteNew(dir string, res *Result, manifest *Manifest, force bool) error {
	entries, err := os.ReadDir(dir)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0 && !force:
		return fmt.Errorf("directory %s is not empty; choose a new directory, or run `gatehouse generate` inside an existing project (--force writes into it anyway, keeping files that exist)", dir)
	}
	if len(entries) > 0 {
		return writeInto(dir, res, manifest)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".gatehouse-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range res.Files {
		if err := writeFile(tmp, f.Path, f.Data); err != nil {
			return err
		}
	}
	if err := writeFile(tmp, ManifestPath, manifest.Encode()); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if exists {
		if err := os.Remove(dir); err != nil { // empty: replace it
			return err
		}
	}
	return os.Rename(tmp, dir)
}

// writeInto writes a new project into a directory that already holds files
// (new --force). It refuses a directory that already is a gatehouse project,
// and never replaces a file that exists: only missing files are written, each
// through a rename, so what the user had is all still there.
func writeInto(dir string, res *Result, manifest *Manifest) error {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
		return fmt.Errorf("%s is already a gatehouse project (it has %s); run `gatehouse generate -C %s` to regenerate it", dir, ConfigFile, dir)
	}
	for _, f := range res.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := writeAtomic(p, f.Data); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, filepath.FromSlash(ManifestPath)), manifest.Encode())
}

func writeFile(root, rel string, data []byte) error {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// generatedPath reports whether p can name a generated file: a local,
// slash-separated path to a *_gen.go or *_gen_test.go file. The manifest is
// a file in the user's tree; nothing it lists outside that shape is touched.
func generatedPath(p string) bool {
	return filepath.IsLocal(p) && !strings.Contains(p, "\\") && p == path.Clean(p) &&
		(strings.HasSuffix(p, "_gen.go") || strings.HasSuffix(p, "_gen_test.go"))
}

// Change is what a regeneration does to one file.
type Change struct {
	Path string
	Old  []byte // nil when the file does not exist
	New  []byte // nil when the file is removed
}

// Plan compares res with the project in dir. It returns the generated files
// to write (new or changed content), and an error naming every generated
// file that was edited by hand since the last run (unless force).
func Plan(dir string, res *Result, manifest *Manifest, force bool) ([]Change, error) {
	var changes []Change
	var edited []string
	for _, f := range res.Files {
		old, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if f.Tier == Scaffolded {
			continue // the user's; new stubs are added by AddStubs
		}
		if exists && bytes.Equal(old, f.Data) {
			continue
		}
		if exists && !force {
			// A generated file that differs from what the last run wrote,
			// or that the last run did not write at all, may hold edits.
			if want, ok := manifest.Files[f.Path]; !ok || want != Digest(old) {
				edited = append(edited, f.Path)
				continue
			}
		}
		c := Change{Path: f.Path, New: f.Data}
		if exists {
			c.Old = old
		}
		changes = append(changes, c)
	}
	// Generated files that the spec no longer produces.
	produced := make(map[string]bool, len(res.Files))
	for _, f := range res.Files {
		produced[f.Path] = true
	}
	var gone []string
	for p := range manifest.Files {
		if !produced[p] {
			gone = append(gone, p)
		}
	}
	sort.Strings(gone)
	for _, p := range gone {
		old, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !force && Digest(old) != manifest.Files[p] {
			edited = append(edited, p)
			continue
		}
		changes = append(changes, Change{Path: p, Old: old})
	}
	if len(edited) > 0 {
		sort.Strings(edited)
		return nil, fmt.Errorf("generated files were edited by hand:\n\t%s\nmove those changes into your own code (internal/handlers, cmd/server) and rerun, or rerun with --force to overwrite them", strings.Join(edited, "\n\t"))
	}
	return changes, nil
}

// Apply writes the changes into dir and records the manifest.
func Apply(dir string, changes []Change, manifest *Manifest) error {
	for _, c := range changes {
		p := filepath.Join(dir, filepath.FromSlash(c.Path))
		if c.New == nil {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := writeAtomic(p, c.New); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, filepath.FromSlash(ManifestPath)), manifest.Encode())
}

// writeAtomic replaces p with data through a rename, so a crash never leaves
// a truncated file.
func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".gatehouse-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
