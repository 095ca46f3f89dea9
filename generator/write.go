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
	"regexp"
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
	Output int `json:"output"`
	// Generator identifies the gatehouse that wrote the files (see
	// GeneratorDigest): another one may write other files from the same
	// spec, so a project it did not write is never up to date.
	Generator string            `json:"generator,omitempty"`
	Inputs    map[string]string `json:"inputs"` // path → SHA-256 of spec, config
	Files     map[string]string `json:"files"`  // generated path → SHA-256
	// Operations maps each operation's handler method to "METHOD /path",
	// so the next run can tell a removed operation from a renamed one.
	Operations map[string]string `json:"operations"`
	// Security maps each operation's "METHOD /path" to its effective
	// security as the last run rendered it ("oauth2[accounts:read] | apiKey"),
	// so the next run can report who may call what differently. It only
	// informs that report: like the rest of the manifest, it decides nothing.
	Security map[string]string `json:"security,omitempty"`
}

func (m *Manifest) hadOperation(name string) bool {
	_, ok := m.Operations[name]
	return ok
}

// OutputVersion numbers what gatehouse writes for a given spec and
// configuration. It goes up whenever a gatehouse release changes its output,
// so regenerating with a newer gatehouse rewrites the files even though the
// spec did not change, and says why.
const OutputVersion = 2

// UpgradeNotes says, for an output version, what a project written by an
// earlier one must change in its own files (which gatehouse never rewrites)
// to build with it. generate prints the notes of every version after the
// project's.
var UpgradeNotes = map[int]string{
	2: "storage moved from internal/auth to internal/store (a package per backend: memory, sqlite, postgres, redis), " +
		"so that a server links only the drivers it uses; cmd/server/main.go, which is yours, must now pass them: " +
		"in the full template, import MODULE/internal/store/open and call auth.New(ctx, cfg, open.Backends{}, …) and " +
		"auth.RunAdminFromEnvWith(…, open.Backends{}, routes.AuthOptions(nil, nil)); in the minimal template, import " +
		"MODULE/internal/store/redis and call auth.NewMinimal(ctx, cfg, redis.Opener{}, …); " +
		"`gatehouse new` of the same spec in an empty directory shows the whole file",
}

// Upgrades returns the upgrade notes of the output versions after from, in
// order, as "output version N: note".
func Upgrades(from int) []string {
	var notes []string
	for v := from + 1; v <= OutputVersion; v++ {
		if n, ok := UpgradeNotes[v]; ok {
			notes = append(notes, fmt.Sprintf("output version %d: %s", v, n))
		}
	}
	return notes
}

// NewManifest describes res, generated from the given input files.
func NewManifest(res *Result, inputs map[string][]byte) *Manifest {
	m := &Manifest{Version: 1, Output: OutputVersion, Generator: GeneratorDigest(), Inputs: map[string]string{}, Files: map[string]string{}, Operations: map[string]string{}, Security: map[string]string{}}
	for _, op := range res.API.Operations {
		m.Operations[op.GoName] = op.Method + " " + op.Path
		m.Security[op.Method+" "+op.Path] = op.Security.String()
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
	data, err := ReadProjectFile(dir, ManifestPath)
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
// (unless force). The files are written to a temporary directory, beside
// dir or, when dir exists, inside it, and moved into place, so a failure
// or an interruption leaves nothing half-written. Temporaries an earlier
// run left there are removed first.
func (w *Writer) WriteNew(dir string, res *Result, manifest *Manifest, force bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return w.writeFresh(dir, abs, res, manifest)
	case err != nil:
		return err
	case !info.IsDir():
		return fmt.Errorf("%s is a file, not a directory; choose a new directory for the project", dir)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := w.sweepTempDirs(abs, tempRE); err != nil {
		return err
	}
	if err := w.sweep(root, []string{"."}); err != nil {
		return err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		if !force {
			return fmt.Errorf("directory %s is not empty; choose a new directory, or run `gatehouse generate` inside an existing project (--force writes into it anyway, keeping files that exist)", dir)
		}
		return w.writeInto(root, dir, res, manifest)
	}
	return w.writeEmpty(root, abs, res, manifest)
}

// writeFresh writes a project into dir, which does not exist, through a
// temporary directory beside it that is renamed into place.
func (w *Writer) writeFresh(dir, abs string, res *Result, manifest *Manifest) error {
	parent, base := filepath.Dir(abs), filepath.Base(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if err := w.sweepTempDirs(parent, regexp.MustCompile(`^\.`+regexp.QuoteMeta(base)+`\.gatehouse-[0-9]+$`)); err != nil {
		return err
	}
	var tmp string
	err := w.step(func() error {
		var err error
		tmp, err = os.MkdirTemp(parent, "."+base+tempPrefix)
		if err == nil {
			w.track(tmp, func() { os.RemoveAll(tmp) })
		}
		return err
	})
	if err != nil {
		return err
	}
	defer w.removeTemp(tmp)
	if err := w.writeTemp(tmp, res, manifest); err != nil {
		return err
	}
	return w.step(func() error {
		if err := os.Chmod(tmp, 0o755); err != nil {
			return err
		}
		if _, err := os.Lstat(abs); err == nil {
			return fmt.Errorf("%s appeared while the project was being written; it was left alone, choose another directory", dir)
		}
		return os.Rename(tmp, abs)
	})
}

// writeEmpty writes a project into the empty directory root (it may be the
// current directory, or a mount point, which cannot be replaced): through a
// temporary directory inside it whose entries are moved up at the end.
func (w *Writer) writeEmpty(root *os.Root, abs string, res *Result, manifest *Manifest) error {
	var tmp string
	err := w.step(func() error {
		for range 100 {
			name := tempName()
			err := root.Mkdir(name, 0o755)
			if err == nil {
				tmp = filepath.Join(abs, name)
				w.track(tmp, func() { os.RemoveAll(tmp) })
				return nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		return fmt.Errorf("cannot create a temporary directory in %s", abs)
	})
	if err != nil {
		return err
	}
	defer w.removeTemp(tmp)
	if err := w.writeTemp(tmp, res, manifest); err != nil {
		return err
	}
	name := filepath.Base(tmp)
	return w.step(func() error {
		entries, err := os.ReadDir(tmp)
		if err != nil {
			return err
		}
		for i, e := range entries {
			if err := root.Rename(path.Join(name, e.Name()), e.Name()); err != nil {
				for _, done := range entries[:i] { // put back what was moved
					root.Rename(done.Name(), path.Join(name, done.Name()))
				}
				return err
			}
		}
		return nil
	})
}

// writeTemp writes the project's files into the fresh directory tmp.
func (w *Writer) writeTemp(tmp string, res *Result, manifest *Manifest) error {
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	defer root.Close()
	write := func(rel string, data []byte) error {
		return w.step(func() error {
			if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
				return err
			}
			return root.WriteFile(rel, data, 0o644)
		})
	}
	for _, f := range res.Files {
		if err := write(f.Path, f.Data); err != nil {
			return err
		}
	}
	return write(ManifestPath, manifest.Encode())
}

// removeTemp removes the temporary directory tmp unless Abort did.
func (w *Writer) removeTemp(tmp string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if remove, ok := w.temps[tmp]; ok {
		remove()
		delete(w.temps, tmp)
	}
}

// sweepTempDirs removes the temporary directories matching name that an
// interrupted or killed run left in dir.
func (w *Writer) sweepTempDirs(dir string, name *regexp.Regexp) error {
	return w.step(func() error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil // an unreadable directory is reported by what follows
		}
		for _, e := range entries {
			if name.MatchString(e.Name()) && e.IsDir() { // IsDir: never through a symbolic link
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// writeInto writes a new project into a directory that already holds files
// (new --force). It refuses a directory that already is a gatehouse project,
// and never replaces a file that exists: only missing files are written, each
// through a rename, so what the user had is all still there. The whole tree
// is checked before anything is written.
func (w *Writer) writeInto(root *os.Root, dir string, res *Result, manifest *Manifest) error {
	if _, err := root.Lstat(ConfigFile); err == nil {
		return fmt.Errorf("%s is already a gatehouse project (it has %s); run `gatehouse generate -C %s` to regenerate it", dir, ConfigFile, dir)
	}
	paths := []string{ManifestPath}
	for _, f := range res.Files {
		paths = append(paths, f.Path)
	}
	var missing []File
	for _, f := range res.Files {
		if _, err := root.Lstat(f.Path); err != nil {
			missing = append(missing, f)
		}
	}
	// Files that exist are kept, whatever they are; only the places
	// written to must be sound.
	check := []string{ManifestPath}
	for _, f := range missing {
		check = append(check, f.Path)
	}
	if err := checkTree(root, dir, check); err != nil {
		return err
	}
	if err := w.sweep(root, parentDirs(paths...)); err != nil {
		return err
	}
	for _, f := range missing {
		if err := w.writeAtomic(root, f.Path, f.Data); err != nil {
			return pathError(root, dir, f.Path, err)
		}
	}
	return w.writeAtomic(root, ManifestPath, manifest.Encode())
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
//
// It also checks, before anything is written, that every place the run
// writes to is inside the project and can hold a file.
func Plan(dir string, res *Result, manifest *Manifest, force bool) ([]Change, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	paths := []string{ManifestPath}
	for _, f := range res.Files {
		paths = append(paths, f.Path)
	}
	if err := checkTree(root, dir, paths); err != nil {
		return nil, err
	}
	var changes []Change
	var edited []string
	for _, f := range res.Files {
		if f.Tier == Scaffolded {
			continue // the user's; new stubs are added by AddStubs
		}
		old, err := readRegular(root, dir, f.Path)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
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
		old, err := readRegular(root, dir, p)
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

// Apply writes the changes into dir and records the manifest. Temporaries
// an earlier run left in the directories of generated files are removed.
func (w *Writer) Apply(dir string, changes []Change, manifest *Manifest) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	paths := []string{ManifestPath}
	for p := range manifest.Files {
		paths = append(paths, p)
	}
	for _, c := range changes {
		paths = append(paths, c.Path)
	}
	if err := w.sweep(root, parentDirs(paths...)); err != nil {
		return err
	}
	for _, c := range changes {
		if c.New == nil {
			err := w.step(func() error { return root.Remove(c.Path) })
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return pathError(root, dir, c.Path, err)
			}
			continue
		}
		if err := w.writeAtomic(root, c.Path, c.New); err != nil {
			return pathError(root, dir, c.Path, err)
		}
	}
	return w.writeAtomic(root, ManifestPath, manifest.Encode())
}
