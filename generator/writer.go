package generator

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// A Writer performs the writes of one run. Every write into a project goes
// through an os.Root, so no path, symbolic links included, leads outside
// the project directory. Each write step holds the Writer's lock, and
// Abort takes it too: an interrupted run removes its temporaries and
// nothing is created after that. The zero Writer is ready to use.
type Writer struct {
	mu      sync.Mutex
	aborted bool
	temps   map[string]func() // temporary directory → its removal
}

// ErrInterrupted is returned by every write after Abort.
var ErrInterrupted = errors.New("interrupted")

// Abort removes the temporaries of writes in progress and makes every later
// write fail with ErrInterrupted. It waits for the write step in progress,
// so once it returns nothing is written any more.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.aborted = true
	for _, remove := range w.temps {
		remove()
	}
	w.temps = nil
}

// step runs one write step, exclusive with Abort.
func (w *Writer) step(f func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.aborted {
		return ErrInterrupted
	}
	return f()
}

// track records a temporary directory for Abort; call it inside a step.
func (w *Writer) track(p string, remove func()) {
	if w.temps == nil {
		w.temps = map[string]func(){}
	}
	w.temps[p] = remove
}

// tempPrefix starts the name of every temporary gatehouse creates, so the
// next run can tell its own leftovers from the user's files.
const tempPrefix = ".gatehouse-"

// tempRE matches the temporaries a run leaves in a directory it writes in.
var tempRE = regexp.MustCompile(`^\.gatehouse-[0-9]+$`)

func tempName() string {
	return tempPrefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
}

// writeAtomic replaces rel (slash-separated, below root) with data through
// a rename, so a crash never leaves a truncated file.
func (w *Writer) writeAtomic(root *os.Root, rel string, data []byte) error {
	return w.step(func() error {
		dir := path.Dir(rel)
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var tmp string
		var f *os.File
		for range 100 {
			var err error
			tmp = path.Join(dir, tempName())
			f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		if f == nil {
			return fmt.Errorf("cannot create a temporary file in %s", dir)
		}
		defer root.Remove(tmp) // after a successful rename, there is nothing to remove
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := root.Chmod(tmp, 0o644); err != nil {
			return err
		}
		return root.Rename(tmp, rel)
	})
}

// sweep removes the temporary files an interrupted or killed run left in
// the directories dirs (below root). Only names of gatehouse's own making
// are touched, and only regular files.
func (w *Writer) sweep(root *os.Root, dirs []string) error {
	return w.step(func() error {
		for _, dir := range dirs {
			f, err := root.Open(dir)
			if err != nil {
				continue // a directory that does not exist holds no leftovers
			}
			entries, err := f.ReadDir(-1)
			f.Close()
			if err != nil {
				continue
			}
			for _, e := range entries {
				if tempRE.MatchString(e.Name()) && e.Type().IsRegular() {
					if err := root.Remove(path.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return err
					}
				}
			}
		}
		return nil
	})
}

// parentDirs returns the distinct directories of the slash-separated paths,
// sorted.
func parentDirs(paths ...string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, p := range paths {
		if d := path.Dir(p); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// checkTree verifies, before anything is written, that each of paths
// (slash-separated, relative to root, which is the directory dir) can be
// written: every existing parent is a directory inside the project, and
// an existing file there is a regular file inside it.
func checkTree(root *os.Root, dir string, paths []string) error {
	checked := map[string]bool{}
	for _, p := range paths {
		elems := strings.Split(p, "/")
		for i := 1; i <= len(elems); i++ {
			sub := strings.Join(elems[:i], "/")
			if checked[sub] {
				continue
			}
			checked[sub] = true
			info, err := root.Stat(sub)
			if errors.Is(err, fs.ErrNotExist) {
				break // nothing below it exists either
			}
			if err != nil {
				return pathError(root, dir, sub, err)
			}
			last := i == len(elems)
			switch {
			case !last && !info.IsDir():
				return fmt.Errorf("%s is a file, but gatehouse needs a directory there (for %s); move it away and run the command again", filepath.Join(dir, sub), p)
			case last && !info.Mode().IsRegular():
				return fmt.Errorf("%s is not a regular file; gatehouse writes a file there: move it away and run the command again", filepath.Join(dir, p))
			}
		}
	}
	return nil
}

// pathError explains an error from an os.Root operation on rel: a path
// that leads outside the project through a symbolic link is named with its
// link.
func pathError(root *os.Root, dir, rel string, err error) error {
	if !escapes(err) {
		return err
	}
	if link, target, ok := escapingLink(root, rel); ok {
		return fmt.Errorf("%s is a symbolic link to %s, outside the project directory; gatehouse reads and writes only inside the project: replace the link with a directory or file of the project", filepath.Join(dir, link), target)
	}
	return fmt.Errorf("%s leads outside the project directory; gatehouse reads and writes only inside the project", filepath.Join(dir, rel))
}

// escapes reports whether err is os.Root's refusal of a path that leads
// outside it (the error has no exported sentinel).
func escapes(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// escapingLink finds the symbolic link on the way to rel that leads out of
// root.
func escapingLink(root *os.Root, rel string) (link, target string, ok bool) {
	elems := strings.Split(rel, "/")
	for i := 1; i <= len(elems); i++ {
		sub := strings.Join(elems[:i], "/")
		info, err := root.Lstat(sub)
		if err != nil {
			return "", "", false
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := root.Stat(sub); escapes(err) {
			target, _ := root.Readlink(sub)
			return sub, target, true
		}
	}
	return "", "", false
}

// readRegular reads rel below root, refusing what is not a regular file
// (a device or a FIFO would block or never end) and, through the root,
// what leads outside it.
func readRegular(root *os.Root, dir, rel string) ([]byte, error) {
	info, err := root.Stat(rel)
	if err != nil {
		return nil, pathError(root, dir, rel, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file; gatehouse reads only regular files", filepath.Join(dir, rel))
	}
	if info.Size() > spec.MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than gatehouse reads (%d MiB)", filepath.Join(dir, rel), spec.MaxFileBytes>>20)
	}
	data, err := root.ReadFile(rel)
	if err != nil {
		return nil, pathError(root, dir, rel, err)
	}
	return data, nil
}

// ReadProjectFile reads the project file rel (slash-separated) of the
// project directory dir: a regular file that, symbolic links included, is
// inside the project.
func ReadProjectFile(dir, rel string) ([]byte, error) {
	if err := localPath(rel); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return readRegular(root, dir, rel)
}

// localPath checks that rel names a place inside a directory.
func localPath(rel string) error {
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return fmt.Errorf("%s is outside the project directory; gatehouse reads and writes only inside the project", rel)
	}
	return nil
}

// ReadTemplateDir reads every file of a template override directory: rel
// below the project directory dir (rel "." for dir itself). Files are keyed
// by slash-separated path below it. Symbolic links may lead anywhere
// inside it, not out of it; what is not a regular file is refused.
func ReadTemplateDir(dir, rel string) (map[string][]byte, error) {
	if err := localPath(rel); err != nil {
		return nil, err
	}
	top, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer top.Close()
	root, err := top.OpenRoot(filepath.FromSlash(rel))
	if err != nil {
		return nil, pathError(top, dir, rel, err)
	}
	defer root.Close()
	where := filepath.Join(dir, rel)
	files := map[string][]byte{}
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return pathError(root, where, p, err)
		}
		if d.IsDir() {
			return nil
		}
		info, err := root.Stat(p)
		if err != nil {
			return pathError(root, where, p, err)
		}
		if info.IsDir() {
			return fmt.Errorf("%s is a symbolic link to a directory; template directories may not contain them", filepath.Join(where, p))
		}
		data, err := readRegular(root, where, p)
		if err != nil {
			return err
		}
		files[p] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}
