package spec

import (
	"encoding/json"
	"regexp"

	yaml "go.yaml.in/yaml/v4"
)

// securityKeyRE finds a "security" key in a file, quoted (JSON) or not
// (YAML). Files without one are not parsed again.
var securityKeyRE = regexp.MustCompile(`(?m)(^|[\s{,])"?security"?\s*:`)

// jsonNullRE finds a null value of a key in JSON.
var jsonNullRE = regexp.MustCompile(`:[ \t\r\n]*null`)

// NullSecurity returns the place of the first security list written as
// null (`security:` with nothing after it) in any of the files the document
// was read from. The loader reads such a list as absent, so the operation
// would fall back to the root requirements, or to none: a half-edited list
// would quietly open the API. Any mapping's security key counts (a mapping
// merged into an operation with <<, an operation reached through $ref, a
// path item in another file), except inside example values.
func (d *Doc) NullSecurity() (Pos, bool) {
	// A JSON root file has no locator yet (a YAML one has, from its syntax
	// check), and one without a null value anywhere needs none for this.
	if d.hasLocator() || jsonNullRE.Match(d.Raw) || !json.Valid(d.Raw) {
		if pos, ok := nullSecurity(d.locatorOf()); ok {
			return pos, true
		}
	}
	root := d.absPath()
	for _, f := range d.Files {
		if f == root {
			continue
		}
		data, err := ReadFile(f)
		if err != nil || !securityKeyRE.Match(data) {
			continue
		}
		if pos, ok := nullSecurity(NewLocator(f, data)); ok {
			return pos, true
		}
	}
	return Pos{}, false
}

// exampleKeys hold values, not OpenAPI objects: a security key in them is
// data.
var exampleKeys = map[string]bool{"example": true, "examples": true, "default": true, "enum": true, "const": true}

// nullSecurity returns the first security key with a null value outside
// example values.
func nullSecurity(l *Locator) (Pos, bool) {
	if l.root == nil || !securityKeyRE.Match(l.data) {
		return Pos{}, false
	}
	var found *yaml.Node
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if found != nil || n == nil || depth > maxNodeDepth {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				switch {
				case k.Value == "security" && isNull(v):
					found = k
					return
				case exampleKeys[k.Value]:
					continue
				}
				walk(v, depth+1)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(l.root, 0)
	if found == nil {
		return Pos{}, false
	}
	return Pos{File: l.file, Line: found.Line, Col: found.Column}, true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// maxNodeDepth bounds recursion over a document's nodes.
const maxNodeDepth = 1000

// GoImport is an x-go-type-import extension: a package the spec asks
// oapi-codegen to import into the generated code.
type GoImport struct {
	Pos  Pos
	Path string
	Name string
}

var goImportKeyRE = regexp.MustCompile(`x-go-type-import`)

// GoImports returns every x-go-type-import of the files the document was
// read from, in file order.
func (d *Doc) GoImports() []GoImport {
	var out []GoImport
	scan := func(l *Locator) {
		if l.root == nil || !goImportKeyRE.Match(l.data) {
			return
		}
		l.find(func(k, v *yaml.Node) bool {
			if k.Value != "x-go-type-import" {
				return false
			}
			imp := GoImport{Pos: Pos{File: l.file, Line: k.Line, Col: k.Column}}
			if v = deref(v); v.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(v.Content); i += 2 {
					switch v.Content[i].Value {
					case "path":
						imp.Path = v.Content[i+1].Value
					case "name":
						imp.Name = v.Content[i+1].Value
					}
				}
			}
			out = append(out, imp)
			return false // keep walking
		})
	}
	scan(d.locatorOf())
	root := d.absPath()
	for _, f := range d.Files {
		if f == root {
			continue
		}
		if data, err := ReadFile(f); err == nil && goImportKeyRE.Match(data) {
			scan(NewLocator(f, data))
		}
	}
	return out
}
