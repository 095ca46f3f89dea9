package spec

import (
	"regexp"

	yaml "go.yaml.in/yaml/v4"
)

// securityKeyRE finds a "security" key in a file, quoted (JSON) or not
// (YAML). Files without one are not parsed again.
var securityKeyRE = regexp.MustCompile(`(?m)(^|[\s{,])"?security"?\s*:`)

// NullSecurity returns the place of the first security list written as
// null (`security:` with nothing after it) on the document's root or on an
// operation, in any of the files the document was read from. The loader
// reads such a list as absent, so the operation would fall back to the root
// requirements, or to none: a half-edited list would quietly open the API.
func (d *Doc) NullSecurity() (Pos, bool) {
	if pos, ok := nullSecurity(d.locatorOf(), true); ok {
		return pos, true
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
		if pos, ok := nullSecurity(NewLocator(f, data), false); ok {
			return pos, true
		}
	}
	return Pos{}, false
}

// nullSecurity walks the file's nodes for a mapping that is an operation
// (it has responses or an operationId) or the document root, whose security
// key has a null value.
func nullSecurity(l *Locator, isRoot bool) (Pos, bool) {
	if l.root == nil || !securityKeyRE.Match(l.data) {
		return Pos{}, false
	}
	var found *yaml.Node
	var walk func(n *yaml.Node, top bool, depth int)
	walk = func(n *yaml.Node, top bool, depth int) {
		if found != nil || n == nil || depth > maxNodeDepth {
			return
		}
		if n.Kind == yaml.MappingNode {
			var sec *yaml.Node
			governs := top && isRoot
			for i := 0; i+1 < len(n.Content); i += 2 {
				switch n.Content[i].Value {
				case "security":
					if isNull(n.Content[i+1]) {
						sec = n.Content[i]
					}
				case "responses", "operationId":
					governs = true
				}
			}
			if sec != nil && governs {
				found = sec
				return
			}
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i], false, depth+1)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, false, depth+1)
		}
	}
	walk(l.root, true, 0)
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
