package spec

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// origin is where a bundled part of the document was written: a file the
// root's $refs reach, and the JSON pointer of the part in it.
type origin struct {
	file    string   // absolute path, a key of files
	pointer []string // decoded JSON pointer tokens
}

// origins remembers, for the parts of a document spread over several files,
// where each was written, so that messages about them point into the file
// the user edits rather than at the root's components.
type origins struct {
	at       map[string]origin // "schemas/Name", "paths//pets", ...
	files    map[string][]byte // every file read, by absolute path
	display  func(abs string) string
	locators map[string]*Locator
}

func newOrigins(refs *refReader) *origins {
	return &origins{at: map[string]origin{}, files: refs.files, display: refs.display, locators: map[string]*Locator{}}
}

// resolver wraps kin-openapi's naming of internalized components to record
// where each one came from.
func (o *origins) resolver(doc *openapi3.T, ref openapi3.ComponentRef) string {
	name := openapi3.DefaultRefNameResolver(doc, ref)
	if u := ref.RefPath(); u != nil && u.Path != "" {
		if abs, err := filepath.Abs(filepath.FromSlash(u.Path)); err == nil {
			if _, read := o.files[abs]; read {
				o.record(ref.CollectionName()+"/"+name, abs, u.Fragment)
			}
		}
	}
	return name
}

// recordPaths records the path items written as a $ref to another file.
// kin-openapi keeps such an item's $ref as written, relative to the root.
func (o *origins) recordPaths(doc *openapi3.T, rootAbs string) {
	if doc.Paths == nil {
		return
	}
	for p, item := range doc.Paths.Map() {
		if item == nil || item.Ref == "" {
			continue
		}
		u, err := url.Parse(item.Ref)
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
			continue
		}
		abs := filepath.Join(filepath.Dir(rootAbs), filepath.FromSlash(u.Path))
		if _, read := o.files[abs]; read {
			o.record("paths/"+p, abs, u.Fragment)
		}
	}
}

func (o *origins) record(key, abs, fragment string) {
	if _, ok := o.at[key]; ok || abs == "" {
		return
	}
	var pointer []string
	for _, tok := range strings.Split(strings.TrimPrefix(fragment, "/"), "/") {
		if tok != "" {
			pointer = append(pointer, strings.NewReplacer("~1", "/", "~0", "~").Replace(tok))
		}
	}
	o.at[key] = origin{file: abs, pointer: pointer}
}

// find locates path (as for Doc.Locate) in the file its part was written
// in, when that is not the root.
func (o *origins) find(path []string) (Pos, bool) {
	if o == nil || len(path) < 2 {
		return Pos{}, false
	}
	var key string
	var rest []string
	switch {
	case path[0] == "components" && len(path) >= 3:
		key, rest = path[1]+"/"+path[2], path[3:]
	case path[0] == "paths":
		key, rest = "paths/"+path[1], path[2:]
	default:
		return Pos{}, false
	}
	at, ok := o.at[key]
	if !ok {
		return Pos{}, false
	}
	l := o.locators[at.file]
	if l == nil {
		l = NewLocator(o.display(at.file), o.files[at.file])
		o.locators[at.file] = l
	}
	return l.Find(append(append([]string(nil), at.pointer...), rest...)...), true
}
