package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/getkin/kin-openapi/openapi3"
	yaml "go.yaml.in/yaml/v4"
)

// Limits on what loading a spec reads and decodes. They bound the memory and
// time a broken or hostile spec can cost; real specs stay far below them (the
// largest real single-file specs are about 5 MB with about 330,000 values
// and a nesting depth under 40; the largest real multi-file spec reaches
// 2,849 files, 13 MB in all, by relative $ref).
const (
	// MaxFileBytes caps the size of one file: the root spec or a file
	// reached by $ref.
	MaxFileBytes = 32 << 20
	// MaxTotalBytes caps the size of the root spec and every file its $refs
	// reach, together.
	MaxTotalBytes = 128 << 20
	// MaxValues caps the values (mappings, sequences, scalars) of one file
	// once every YAML alias is replaced by the value of its anchor, which
	// is what decoding it builds in memory.
	MaxValues = 1_000_000
	// MaxDepth caps how deeply the values of one file nest, aliases
	// expanded.
	MaxDepth = 500
)

// ReadFile reads the file at path the way a spec is read: it must be a
// regular file (not a directory, device, named pipe or socket) of at most
// MaxFileBytes. A named pipe is refused without waiting for a writer.
func ReadFile(path string) ([]byte, error) {
	return readFile(path, MaxFileBytes)
}

func readFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &notRegularError{path: path, mode: fi.Mode()}
	}
	if fi.Size() > limit {
		return nil, &tooLargeError{path: path}
	}
	// The file may have been replaced since the Stat: open without blocking
	// (a named pipe would wait for a writer) and check the opened file.
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &notRegularError{path: path, mode: fi.Mode()}
	}
	// A file that grows while it is read stops at the limit.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &tooLargeError{path: path}
	}
	return data, nil
}

type notRegularError struct {
	path string
	mode fs.FileMode
}

func (e *notRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.path, fileKind(e.mode))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

type tooLargeError struct{ path string }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d MB, far beyond any real OpenAPI document", e.path, MaxFileBytes>>20)
}

// readRootError explains why the root spec cannot be read.
func readRootError(path string, err error) error {
	var nr *notRegularError
	var tl *tooLargeError
	switch {
	case errors.As(err, &nr):
		return &Error{Msg: fmt.Sprintf("cannot read spec %s: it is %s, not a regular file; give the path of a YAML or JSON file", path, fileKind(nr.mode))}
	case errors.As(err, &tl):
		return &Error{Msg: fmt.Sprintf("cannot read spec %s: it is larger than %d MB, far beyond any real OpenAPI document; give the path of an OpenAPI document", path, MaxFileBytes>>20)}
	}
	return &Error{Msg: fmt.Sprintf("cannot read spec %s: %v", path, unwrapPathError(err))}
}

// refReader reads the files a spec's $refs reach. It reads only regular
// files under the root spec's directory (symbolic links resolved), within
// MaxFileBytes each and MaxTotalBytes in all, and checks each file's syntax
// and decoding budget before the loader decodes it. It never fetches URLs.
type refReader struct {
	d       *Doc
	rootAbs string // the root spec's absolute path, as the loader sees it
	// dirs are where $ref targets may live, both as given and with
	// symbolic links resolved.
	dirs []string
	// maxFile and maxTotal are MaxFileBytes and MaxTotalBytes, lowered
	// by tests.
	maxFile, maxTotal int64
	total             int64
	files             map[string][]byte // by absolute path as the loader gives it
	order             []string          // absolute paths in the order they were read
}

func newRefReader(d *Doc) (*refReader, error) {
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("cannot resolve %s: %v", d.Path, err)}
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("cannot resolve the directory of %s: %v", d.Path, unwrapPathError(err))}
	}
	return &refReader{
		d:        d,
		rootAbs:  abs,
		dirs:     []string{filepath.Dir(abs), dir},
		maxFile:  MaxFileBytes,
		maxTotal: MaxTotalBytes,
		total:    int64(len(d.Raw)),
		files:    map[string][]byte{abs: d.Raw},
		order:    []string{abs},
	}, nil
}

// read is an openapi3.ReadFromURIFunc.
func (r *refReader) read(_ *openapi3.Loader, location *url.URL) ([]byte, error) {
	if (location.Scheme != "" && location.Scheme != "file") || location.Host != "" {
		return nil, &remoteRefError{url: location.String()}
	}
	p, err := filepath.Abs(filepath.FromSlash(location.Path))
	if err != nil {
		return nil, &refError{target: location.Path, reason: refUnreadable, err: err}
	}
	if data, ok := r.files[p]; ok {
		return data, nil
	}
	// A path outside, as written, is refused without touching the file
	// system; one inside is judged again once its links are resolved.
	if !r.allowed(p) {
		return nil, &refError{target: p, reason: refOutside}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, &refError{target: p, reason: refUnreadable, err: unwrapPathError(err)}
	}
	if !r.allowed(real) {
		return nil, &refError{target: p, reason: refOutside, viaLink: true}
	}
	data, err := readFile(real, r.maxFile)
	if err != nil {
		var nr *notRegularError
		var tl *tooLargeError
		switch {
		case errors.As(err, &nr):
			return nil, &refError{target: p, reason: refNotRegular, mode: nr.mode}
		case errors.As(err, &tl):
			return nil, &refError{target: p, reason: refTooLarge}
		}
		return nil, &refError{target: p, reason: refUnreadable, err: unwrapPathError(err)}
	}
	if r.total += int64(len(data)); r.total > r.maxTotal {
		return nil, &refError{target: p, reason: refTotal}
	}
	// Check the syntax and the decoding budget here, where the file is
	// known, so that an error points into it and never quotes it through
	// a decoder's message.
	if err := checkSyntax(r.display(p), data); err != nil {
		return nil, err
	}
	r.files[p] = data
	r.order = append(r.order, p)
	return data, nil
}

// allowed reports whether the absolute path p lies under one of the
// directories $refs may reach.
func (r *refReader) allowed(p string) bool {
	for _, dir := range r.dirs {
		if rel, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(rel) {
			return true
		}
	}
	return false
}

// display names the file at the absolute path p for messages: relative to
// the root spec as the user named it when it is under the spec's directory.
func (r *refReader) display(p string) string {
	if rel, err := filepath.Rel(filepath.Dir(r.rootAbs), p); err == nil && filepath.IsLocal(rel) {
		return filepath.Join(filepath.Dir(r.d.Path), rel)
	}
	return p
}

type refReason int

const (
	refUnreadable refReason = iota
	refOutside
	refNotRegular
	refTooLarge
	refTotal
)

// refError is a $ref whose target gatehouse does not read.
type refError struct {
	target string // absolute path as resolved from the $ref
	reason refReason
	mode   fs.FileMode // for refNotRegular
	// viaLink is true for refOutside when the path itself is inside and a
	// symbolic link leads out.
	viaLink bool
	err     error // for refUnreadable
}

func (e *refError) Error() string {
	return fmt.Sprintf("$ref to %s: reason %d", e.target, e.reason)
}

// refErr turns a refused $ref into an error located at the $ref that
// reaches the target. It names the target but never quotes its content.
func (r *refReader) refErr(e *refError) error {
	pos, ref := r.findRef(e.target)
	what := "a $ref"
	if ref != "" {
		what = fmt.Sprintf("$ref %q", ref)
	}
	var msg string
	switch {
	case e.reason == refOutside && e.viaLink:
		msg = fmt.Sprintf("%s leads through a symbolic link outside %s, the directory of the spec; gatehouse reads $ref files only from there: copy the file into it in place of the link", what, r.dirLabel())
	case e.reason == refOutside:
		msg = fmt.Sprintf("%s points outside %s, the directory of the spec; gatehouse reads $ref files only from there: copy the file into it and reference it by relative path", what, r.dirLabel())
	case e.reason == refNotRegular:
		msg = fmt.Sprintf("%s points to %s, which is %s, not a regular file; reference a YAML or JSON file", what, r.display(e.target), fileKind(e.mode))
	case e.reason == refTooLarge:
		msg = fmt.Sprintf("%s points to %s, which is larger than %d MB, far beyond any real OpenAPI document; reference a smaller file", what, r.display(e.target), r.maxFile>>20)
	case e.reason == refTotal:
		msg = fmt.Sprintf("%s brings the files the spec reads to more than %d MB in all, far beyond any real OpenAPI document; reference fewer or smaller files", what, r.maxTotal>>20)
	default:
		msg = fmt.Sprintf("%s points to %s, which cannot be read (%v); fix the reference or add the file", what, r.display(e.target), e.err)
	}
	return Errorf(pos, "%s", msg)
}

func (r *refReader) dirLabel() string {
	return filepath.Dir(r.d.Path) + string(filepath.Separator)
}

// findRef returns the position and value of the first $ref, in the files
// read so far, that resolves to target; else the root's position.
func (r *refReader) findRef(target string) (Pos, string) {
	for _, file := range r.order {
		base := filepath.Dir(file)
		l := NewLocator(r.display(file), r.files[file])
		var val *yaml.Node
		l.find(func(k, v *yaml.Node) bool {
			if k.Value == "$ref" && v.Kind == yaml.ScalarNode && resolveRef(base, v.Value) == target {
				val = v
				return true
			}
			return false
		})
		if val != nil {
			// Point at the value: the reference itself.
			return Pos{File: l.file, Line: val.Line, Col: val.Column}, val.Value
		}
	}
	return r.d.Locate(), ""
}

// resolveRef resolves a $ref value found in a file in the directory base
// to an absolute path the way the loader does, or "" when it names no file.
func resolveRef(base, ref string) string {
	u, err := url.Parse(ref)
	if err != nil || u.Path == "" || u.Host != "" || (u.Scheme != "" && u.Scheme != "file") {
		return ""
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p)
}

// checkNodes refuses a parsed document whose values, with YAML aliases
// expanded, exceed MaxValues or nest deeper than MaxDepth: decoding it would
// exhaust memory or time.
func checkNodes(file string, root *yaml.Node) error {
	c := nodeChecker{memo: map[*yaml.Node]shape{}}
	depth := 0
	if root.Kind == yaml.DocumentNode {
		depth = -1 // the document's top value is at depth 0
	}
	c.walk(root, depth)
	switch {
	case c.deep != nil:
		return Errorf(Pos{File: file, Line: c.deep.Line, Col: c.deep.Column}, "the document nests deeper than %d levels here; no real OpenAPI document does: flatten it with components and $ref", MaxDepth)
	case c.big && c.firstAlias != nil:
		n := c.firstAlias
		return Errorf(Pos{File: file, Line: n.Line, Col: n.Column}, "the document expands too much through YAML anchors and aliases (more than %d values once every alias, from the first one here, is replaced by its anchor's value); write the values out or use fewer aliases", MaxValues)
	case c.big:
		return Errorf(Pos{File: file, Line: 1, Col: 1}, "the document has more than %d values, far beyond any real OpenAPI document; split it or give a smaller one", MaxValues)
	}
	return nil
}

// shape is the size and depth of a value with its aliases expanded.
type shape struct {
	size  int64
	depth int
}

type nodeChecker struct {
	memo       map[*yaml.Node]shape // anchored values already measured
	firstAlias *yaml.Node
	deep       *yaml.Node // the first value nested too deeply
	big        bool
}

// walk measures n, found at depth, and stops early once a limit is passed.
// An anchor always precedes its aliases in the document, so every alias
// finds its value measured already unless it lies inside that value (an
// alias to an enclosing value, which the YAML decoder refuses anyway).
func (c *nodeChecker) walk(n *yaml.Node, depth int) shape {
	if c.deep != nil || c.big {
		return shape{}
	}
	if n.Kind == yaml.AliasNode {
		if c.firstAlias == nil {
			c.firstAlias = n
		}
		s, ok := c.memo[n.Alias]
		if !ok {
			return shape{size: 1, depth: 1}
		}
		if depth+s.depth > MaxDepth {
			c.deep = n
		}
		return s
	}
	if depth >= MaxDepth {
		c.deep = n
		return shape{}
	}
	s := shape{size: 1}
	for _, child := range n.Content {
		cs := c.walk(child, depth+1)
		s.size += cs.size
		s.depth = max(s.depth, cs.depth)
		if s.size > MaxValues {
			c.big = true
		}
		if c.deep != nil || c.big {
			return s
		}
	}
	s.depth++
	if n.Anchor != "" {
		c.memo[n] = s
	}
	return s
}

// jsonDepthError refuses JSON that nests deeper than MaxDepth, found by
// counting brackets outside strings, without decoding it.
func jsonDepthError(file string, data []byte) error {
	depth, inString, escaped := 0, false, false
	values := 1 // one more than the separators and openings seen
	for i, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			if depth++; depth > MaxDepth {
				line, col := lineCol(data, i)
				return Errorf(Pos{File: file, Line: line, Col: col}, "the document nests deeper than %d levels here; no real OpenAPI document does: flatten it with components and $ref", MaxDepth)
			}
			values++
		case b == '}' || b == ']':
			depth--
		case b == ',':
			if values++; values > MaxValues {
				line, col := lineCol(data, i)
				return Errorf(Pos{File: file, Line: line, Col: col}, "the document has more than %d values by here, more than gatehouse reads (the largest real specs have a few hundred thousand); split it, or remove what code generation does not need, such as large examples", MaxValues)
			}
		}
	}
	return nil
}

// isSpecError reports whether err is already a located, user-facing error
// that a caller should pass on as it is.
func isSpecError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// refused returns the error to report when err comes from refusing to read
// a file, or from a file's own syntax or budget check.
func (r *refReader) refused(err error) (error, bool) {
	var re *refError
	if errors.As(err, &re) {
		return r.refErr(re), true
	}
	if e, ok := isSpecError(err); ok {
		return e, true
	}
	return nil, false
}

// loadError explains an error of the loader reading through r.
func (r *refReader) loadError(err error) error {
	if e, ok := r.refused(err); ok {
		return e
	}
	return r.d.loadError(err)
}
