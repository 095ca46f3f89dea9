// Package spec loads an OpenAPI document from local files and locates its
// constructs by line and column for error messages.
package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// Doc is a loaded OpenAPI 3 document with what is needed to point at its
// parts in error messages.
type Doc struct {
	*openapi3.T
	Path string // the root file as given
	// Files are the absolute paths of every file the document was read
	// from: the root and the files its $refs reach, sorted.
	Files   []string
	Raw     []byte // the root file's bytes
	Version string // "3.0.x", "3.1.x", or "2.0" for converted Swagger
	// Notices are non-fatal remarks about the input (conversion, validation).
	Notices []string
	// Repairs are the spec mistakes fixed on the prepared copy, each
	// "file:line:col: what was wrong; what gatehouse did; what to change";
	// --strict refuses them.
	Repairs []string

	// locator is made when first needed, by whichever goroutine (code
	// generation, or a validation beside it) needs it first.
	locatorMu sync.Mutex
	locator   *Locator
	origins   *origins // where parts bundled from other files were written
	json      struct {
		once sync.Once
		data []byte
		err  error
	}
}

// JSON returns the document as JSON, marshalled once: the copy code is
// generated from, the embedded spec and the bundled one are all made from
// it, and on a large spec each marshalling costs a noticeable part of a
// generation. The document must not change once it has been called.
func (d *Doc) JSON() ([]byte, error) {
	d.json.once.Do(func() { d.json.data, d.json.err = d.T.MarshalJSON() })
	return d.json.data, d.json.err
}

// Error is a problem in the input, with its place when known.
type Error struct {
	Pos Pos
	Msg string // what is wrong and what to do
}

func (e *Error) Error() string {
	if e.Pos.File == "" {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Errorf returns an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Locate returns the position of the node at the JSON pointer-like path in the
// root file, or of its nearest ancestor that exists. A component or path
// item bundled from another file is located in that file. It parses the file
// lazily: a successful run never pays for it.
func (d *Doc) Locate(path ...string) Pos {
	if pos, ok := d.origins.find(path); ok {
		return pos
	}
	return d.locatorOf().Find(path...)
}

// locatorOf returns the root file's locator, parsing the file on first use.
func (d *Doc) locatorOf() *Locator {
	d.locatorMu.Lock()
	defer d.locatorMu.Unlock()
	if d.locator == nil {
		d.locator = NewLocator(d.Path, d.Raw)
	}
	return d.locator
}

// hasLocator reports whether the root file's locator has been made.
func (d *Doc) hasLocator() bool {
	d.locatorMu.Lock()
	defer d.locatorMu.Unlock()
	return d.locator != nil
}

// absPath returns the root file's absolute path, as Files lists it.
func (d *Doc) absPath() string {
	abs, err := filepath.Abs(d.Path)
	if err != nil {
		return d.Path
	}
	return abs
}

// swagger2AnywhereRE finds the version key of a Swagger 2.0 document that
// does not come first (minified JSON puts keys in any order).
var swagger2AnywhereRE = regexp.MustCompile(`"swagger"\s*:\s*"2\.0"|(?m)^swagger\s*:\s*["']?2\.0`)

// FindKey returns the position of the first key in the root file for which
// match is true.
func (d *Doc) FindKey(match func(key string) bool) (Pos, bool) {
	return d.locatorOf().FindKeyFunc(match)
}

var swagger2RE = regexp.MustCompile(`(?m)^\s*"?swagger"?\s*:\s*["']?2\.0`)

// Load reads the document at path. External $refs to local files are
// followed and then bundled into the one document; URLs are never fetched.
// Swagger 2.0 input is converted to OpenAPI 3.0 with a notice.
func Load(ctx context.Context, path string) (*Doc, error) {
	raw, err := ReadFile(path)
	if err != nil {
		return nil, readRootError(path, err)
	}
	d := &Doc{Path: path, Raw: raw}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, Errorf(Pos{File: path, Line: 1, Col: 1}, "the spec is empty; give an OpenAPI 3.x document in YAML or JSON")
	}
	root, err := syntaxRoot(path, raw)
	if err != nil {
		return nil, err
	}
	if root != nil {
		d.locator = &Locator{file: path, data: raw, root: root}
	}
	head := raw
	if len(head) > 4096 {
		head = head[:4096]
	}
	if swagger2RE.Match(head) {
		return loadSwagger2(ctx, d)
	}

	refs, err := newRefReader(d)
	if err != nil {
		return nil, err
	}
	defer func() {
		read := map[string]bool{}
		for _, f := range d.Files {
			read[f] = true
		}
		for _, f := range refs.order {
			read[f] = true
		}
		d.Files = d.Files[:0]
		for f := range read {
			d.Files = append(d.Files, f)
		}
		sort.Strings(d.Files)
	}()
	// A spec that loads is read as it is; one that does not is read again
	// with its well-known mistakes repaired, which costs a second parse, and
	// keeps the first error if repairs do not help.
	doc, err := loadFile(ctx, refs, nil)
	_, _, _, opRef := operationRef(doc)
	if (err != nil && repairable(err)) || (err == nil && opRef) {
		rep := newRepairer(refs.rootAbs, path, false)
		if fixed, rerr := loadFile(ctx, refs, rep); rerr == nil && len(rep.repairs) > 0 {
			doc, err = fixed, nil
			d.Repairs = rep.messages()
		}
	}
	if err != nil {
		return nil, refs.loadError(err)
	}
	if p, m, ref, ok := operationRef(doc); ok {
		return nil, Errorf(d.Locate("paths", p, strings.ToLower(m)), "%s %s is a $ref to %s, which OpenAPI does not allow for an operation, and gatehouse cannot use what it points to (it cannot be read, or a security list is written beside the $ref, where it would be ignored or override its target's); write the operation in place or $ref the whole path item", m, p, ref)
	}
	d.T = doc
	if doc.OpenAPI == "" && swagger2AnywhereRE.Match(raw) {
		return loadSwagger2(ctx, d)
	}
	if doc.OpenAPI == "" {
		return nil, Errorf(d.Locate(), "the document has no \"openapi\" version field; gatehouse reads OpenAPI 3.0 and 3.1 (and converts Swagger 2.0)")
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, Errorf(d.Locate("openapi"), "OpenAPI version %q is not supported; gatehouse reads 3.0.x and 3.1.x", doc.OpenAPI)
	}
	d.Version = doc.OpenAPI
	// Bundle: move every component reached through another file into this
	// document's components, so code generation sees one document.
	d.origins = newOrigins(refs)
	d.origins.recordPaths(doc, refs.rootAbs)
	doc.InternalizeRefs(ctx, d.origins.resolver)
	d.Repairs = append(d.Repairs, d.dropUnfitDefaults()...)
	d.Repairs = append(d.Repairs, d.typeParams()...)
	return d, nil
}

// loadFile loads the root document through refs, with the files repaired
// by rep when rep is not nil.
func loadFile(ctx context.Context, refs *refReader, rep *repairer) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = rep.wrap(refs.read)
	return loader.LoadFromFile(refs.rootAbs)
}

func loadSwagger2(ctx context.Context, d *Doc) (*Doc, error) {
	if abs, err := filepath.Abs(d.Path); err == nil && len(d.Files) == 0 {
		d.Files = []string{abs}
	}
	doc, err := convertSwagger2(ctx, d, d.Raw)
	if err != nil {
		// openapi2conv decodes into fixed types: a well-known mistake
		// (a type list) stops it. Convert a repaired copy instead.
		fixed, repairs, _, rerr := RepairFile(d.Raw, RepairOptions{File: d.Path, Roots: map[string]Kind{"": KindDocument}, Swagger2: true})
		if rerr == nil && len(repairs) > 0 {
			if doc3, cerr := convertSwagger2(ctx, d, fixed); cerr == nil {
				doc, err = doc3, nil
				for _, r := range repairs {
					d.Repairs = append(d.Repairs, r.String())
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	d.T = doc
	d.Version = "2.0"
	d.Repairs = append(d.Repairs, d.dropUnfitDefaults()...)
	d.Repairs = append(d.Repairs, d.typeParams()...)
	d.Notices = append(d.Notices, fmt.Sprintf("%s: Swagger 2.0 document converted to OpenAPI 3.0; positions in later messages refer to the original file where possible", d.Path))
	return d, nil
}

// convertSwagger2 converts the Swagger 2.0 document raw, d's root file or
// a repaired copy of it, to OpenAPI 3.0.
func convertSwagger2(ctx context.Context, d *Doc, raw []byte) (*openapi3.T, error) {
	var doc2 openapi2.T
	js, err := toJSON(d.Path, raw)
	if e, ok := isSpecError(err); ok {
		return nil, e
	}
	if err == nil {
		err = json.Unmarshal(js, &doc2)
	}
	if err != nil {
		return nil, d.decodeError("Swagger 2.0 document", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, Errorf(d.Locate(), "cannot convert this Swagger 2.0 document to OpenAPI 3.0: %v; convert it with a dedicated tool and pass the 3.0 result", err)
	}
	// Round-trip through the 3.0 loader so references are resolved exactly as
	// for a native 3.0 document.
	data, err := json.Marshal(doc3)
	if err != nil {
		return nil, Errorf(d.Locate(), "cannot convert this Swagger 2.0 document: %v", err)
	}
	refs, err := newRefReader(d)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.ReadFromURIFunc = refs.read
	// The converted document stands where the original does, so that
	// relative $refs resolve against the spec's directory.
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: filepath.ToSlash(refs.rootAbs)})
	if e, ok := refs.refused(err); ok {
		return nil, e
	}
	if err != nil {
		return nil, Errorf(d.Locate(), "the OpenAPI 3.0 conversion of this Swagger 2.0 document does not load: %v; convert it with a dedicated tool and fix the result", err)
	}
	return doc, nil
}

// Validate runs kin-openapi's validation with the checks that real-world
// specs routinely fail and that do not affect code generation (examples,
// defaults, patterns, formats) turned off, and returns what remains as a
// notice, not an error: code generation decides what it cannot handle. It
// only reads the document, so it may run while a copy is being generated.
// Valid tells, much faster, whether it would return "".
func (d *Doc) Validate(ctx context.Context) string {
	err := d.T.Validate(ctx, d.validationOptions()...)
	if err != nil {
		return fmt.Sprintf("%s: the spec does not fully validate (%s); generating anyway", d.Path, firstLine(err.Error()))
	}
	return ""
}

type remoteRefError struct{ url string }

func (e *remoteRefError) Error() string {
	return fmt.Sprintf("the spec references %s; gatehouse never fetches over the network: download that document, save it next to the spec and reference it by relative path", e.url)
}

// yamlPathRE matches the YAML decoder's "line N: problem in /json/pointer".
var yamlPathRE = regexp.MustCompile(`line \d+: (.*) in (/\S*)$`)

var pointerRE = regexp.MustCompile(`#(/[^\s"':,)]*)`)

// loadError turns a kin-openapi load error into a located, actionable error.
func (d *Doc) loadError(err error) error {
	var remote *remoteRefError
	if errors.As(err, &remote) {
		pos := d.Locate()
		if i := bytes.Index(d.Raw, []byte(remote.url)); i >= 0 {
			pos.Line, pos.Col = lineCol(d.Raw, i)
		}
		return Errorf(pos, "%s", remote.Error())
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return Errorf(d.Locate(), "a $ref points to %s, which cannot be read (%v); fix the reference or add the file", pathErr.Path, pathErr.Err)
	}
	msg := err.Error()
	if located, ok := d.explainLoad(msg); ok {
		return located
	}
	if m := yamlPathRE.FindStringSubmatch(msg); m != nil {
		return Errorf(d.Locate(splitPointer(m[2])...), "the spec does not load: %s; fix the value at this place", m[1])
	}
	if m := pointerRE.FindStringSubmatch(msg); m != nil {
		return Errorf(d.Locate(splitPointer(m[1])...), "the spec does not load: %s; fix the construct at this place", cleanLoadMessage(msg))
	}
	if pos, ok := d.locateTypeMismatch(msg); ok {
		return Errorf(pos, "the spec does not load: %s; fix the value at this place", cleanLoadMessage(msg))
	}
	return Errorf(d.Locate(), "the spec does not load: %s", cleanLoadMessage(msg))
}

func (d *Doc) decodeError(what string, err error) error {
	return Errorf(d.Locate(), "cannot decode the %s: %s", what, cleanLoadMessage(err.Error()))
}

// cleanLoadMessage drops the noise kin-openapi adds when both the JSON and
// the YAML decoders failed, keeping the YAML decoder's explanation.
func cleanLoadMessage(msg string) string {
	if i := strings.Index(msg, "yaml error: "); i >= 0 {
		msg = msg[i+len("yaml error: "):]
	}
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: ")
	msg = strings.TrimPrefix(msg, "while decoding JSON: ")
	return firstLine(msg)
}

func splitPointer(p string) []string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		s = strings.ReplaceAll(s, "~1", "/")
		parts[i] = strings.ReplaceAll(s, "~0", "~")
	}
	return parts
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
