package generator

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// RevisionSpec is a spec copied from a git revision.
type RevisionSpec struct {
	Path string // the copy's path
	// Name is the spec as git names it: "REV:path/from/the/top.yaml".
	Name string
	root string // the temporary directory: the work tree's top at rev
	rev  string
}

// Rename rewrites paths into the copy, in a message, as git names them.
func (r *RevisionSpec) Rename(msg string) string {
	return strings.ReplaceAll(msg, r.root+string(filepath.Separator), r.rev+":")
}

// Remove removes the copy.
func (r *RevisionSpec) Remove() { os.RemoveAll(r.root) }

// SpecAtRevision copies the spec at specPath, as git revision rev holds it,
// into a temporary directory. The spec's whole directory at rev is copied (regular
// files only, within spec.MaxTotalBytes), so that relative $refs of a
// multi-file spec resolve to their versions at rev too. Only YAML and JSON
// files are copied: a $ref to a file of another extension is not found.
func SpecAtRevision(rev, specPath string) (*RevisionSpec, error) {
	if strings.HasPrefix(rev, "-") {
		return nil, fmt.Errorf("--base %q is not a git revision", rev)
	}
	abs, err := filepath.Abs(specPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(abs)
	top, err := git(dir, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("cannot read %s at %s: %s is not in a git work tree (%v)", specPath, rev, dir, err)
	}
	topDir, err := filepath.EvalSymlinks(strings.TrimSpace(string(top)))
	if err != nil {
		return nil, err
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	relDir, err := filepath.Rel(topDir, realDir)
	if err != nil || !filepath.IsLocal(relDir) && relDir != "." {
		return nil, fmt.Errorf("cannot read %s at %s: it is outside the git work tree %s", specPath, rev, topDir)
	}
	relSpec := filepath.ToSlash(filepath.Join(relDir, filepath.Base(abs)))
	if _, err := git(topDir, nil, "cat-file", "-e", rev+":"+relSpec); err != nil {
		return nil, fmt.Errorf("cannot read %s at %s: git has no %s at revision %s; check the revision (git log) and the path", specPath, rev, relSpec, rev)
	}
	archive, err := git(topDir, nil, "archive", "--format=tar", rev, "--", filepath.ToSlash(relDir))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s at %s: %v", specPath, rev, err)
	}
	tmp, err := os.MkdirTemp("", "gatehouse-base-")
	if err != nil {
		return nil, err
	}
	rs := &RevisionSpec{Path: filepath.Join(tmp, filepath.FromSlash(relSpec)), Name: rev + ":" + relSpec, root: tmp, rev: rev}
	if err := untar(tmp, archive); err != nil {
		rs.Remove()
		return nil, fmt.Errorf("cannot read %s at %s: %v", specPath, rev, err)
	}
	return rs, nil
}

func git(dir string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New("git: " + msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// specFile reports whether a file may be part of a spec: YAML or JSON.
func specFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// untar writes the regular files of a tar archive under dir; links and
// other entries are skipped, and no entry may leave dir.
func untar(dir string, data []byte) error {
	tr := tar.NewReader(bytes.NewReader(data))
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(filepath.FromSlash(h.Name)) || !specFile(h.Name) {
			continue
		}
		if total += h.Size; total > spec.MaxTotalBytes {
			return fmt.Errorf("the spec's directory holds more than %d bytes at that revision; move the spec into a directory of its own", spec.MaxTotalBytes)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
