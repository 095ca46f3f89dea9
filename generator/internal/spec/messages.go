package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v4"
)

// checkText refuses input that is not UTF-8 text, at the first offending
// byte: NUL and other control characters (binary files), invalid UTF-8.
func checkText(file string, data []byte) error {
	for i := 0; i < len(data); {
		c := data[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			line, col := lineCol(data, i)
			what := fmt.Sprintf("the control character 0x%02X", c)
			if c == 0 {
				what = "a NUL byte"
			}
			return Errorf(Pos{File: file, Line: line, Col: col}, "the spec has %s here, so it is not a text document; give an OpenAPI document in YAML or JSON (UTF-8), or remove the character", what)
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			line, col := lineCol(data, i)
			return Errorf(Pos{File: file, Line: line, Col: col}, "the spec is not valid UTF-8 here (byte 0x%02X); save it as UTF-8", c)
		}
		i += size
	}
	return nil
}

// checkDuplicateKeys refuses a mapping with the same key twice. YAML and
// JSON forbid it, and loaders silently keep one of the values: a second
// "/accounts" or "security" would replace the first without a word.
func checkDuplicateKeys(file string, data []byte, root *yaml.Node) error {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return duplicateJSONKeys(file, data)
	}
	var err error
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if err != nil || n == nil || depth > maxNodeDepth {
			return
		}
		if n.Kind == yaml.MappingNode {
			seen := make(map[string]*yaml.Node, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode && k.Value != "<<" {
					if first, dup := seen[k.Value]; dup {
						err = Errorf(Pos{File: file, Line: k.Line, Col: k.Column}, "the key %q appears twice in this mapping (first at line %d); keys must be unique, and tools disagree on which one wins: merge the two", k.Value, first.Line)
						return
					}
					seen[k.Value] = k
				}
			}
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return err
}

// duplicateJSONKeys scans a JSON document's tokens for an object with a
// repeated key.
func duplicateJSONKeys(file string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object  bool
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // syntax errors are reported elsewhere
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					// start is before the separator preceding the key.
					off := int(start) + bytes.IndexByte(data[start:], '"')
					line, col := lineCol(data, off)
					return Errorf(Pos{File: file, Line: line, Col: col}, "the key %q appears twice in this object; keys must be unique, and tools disagree on which one wins: merge the two", k)
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			top.wantKey = true // a scalar value was read
		}
	}
}

var (
	aliasRE       = regexp.MustCompile(`excessive aliasing`)
	yamlMarkRE    = regexp.MustCompile(`at L(\d+)\.C(\d+)`)
	fieldTypeRE   = regexp.MustCompile(`cannot unmarshal !!(\w+) into (\w+) field "(\w+)"`)
	constructRE   = regexp.MustCompile("cannot construct !!(\\w+)(?: `([^`]*)`)? into (\\S+)")
	notObjectRE   = regexp.MustCompile(`invalid (\w+): value MUST be an object`)
	missingRefRE  = regexp.MustCompile(`failed to resolve "[^"]*" in fragment in URI: "([^"]+)"`)
	nodeKindNames = map[string]string{
		"map": "an object", "seq": "a list", "str": "a string", "bool": "a boolean",
		"int": "a number", "float": "a number", "null": "null", "binary": "binary data", "timestamp": "a date",
	}
)

// explainLoad turns a kin-openapi load error into one located sentence for
// the cases its own message misplaces or words in Go terms. ok is false when
// it has nothing better to say.
func (d *Doc) explainLoad(msg string) (error, bool) {
	switch {
	case aliasRE.MatchString(msg):
		pos := d.Locate()
		if m := yamlMarkRE.FindStringSubmatch(msg); m != nil {
			pos.Line, _ = strconv.Atoi(m[1])
			pos.Col, _ = strconv.Atoi(m[2])
		}
		return Errorf(pos, "the document expands too much through YAML anchors and aliases (*name) to be read safely; write the repeated parts out, or use $ref"), true
	}
	if m := fieldTypeRE.FindStringSubmatch(msg); m != nil && m[3] == "openapi" {
		return Errorf(d.Locate("openapi"), "the openapi version must be a string with three numbers, e.g. openapi: \"3.0.3\" (quoted: unquoted 3.0 is a number)"), true
	}
	if m := notObjectRE.FindStringSubmatch(msg); m != nil {
		if pos, ok := d.findNullObject(); ok {
			return Errorf(pos, "this %s is empty (null); write it out as an object, or remove the entry", m[1]), true
		}
	}
	if m := missingRefRE.FindStringSubmatch(msg); m != nil {
		if pos, ok := d.findRef(m[1]); ok {
			return Errorf(pos, "$ref %q points to nothing in the document; fix the reference or add what it names", m[1]), true
		}
	}
	if m := constructRE.FindStringSubmatch(msg); m != nil {
		pos, ok := d.locateTypeMismatch(msg)
		if p := yamlPathRE.FindStringSubmatch(msg); p != nil {
			pos, ok = d.Locate(splitPointer(p[2])...), true
		}
		if ok {
			got := nodeKindNames[m[1]]
			if got == "" {
				got = "a " + m[1]
			}
			if m[2] != "" {
				got += " (" + m[2] + ")"
			}
			return Errorf(pos, "%s is not allowed here: %s; fix the value", got, expected(m[3])), true
		}
	}
	return nil, false
}

// expected words what a Go type in a decoding error stands for.
func expected(goType string) string {
	switch {
	case goType == "openapi3.SecurityRequirements":
		return "security is a list of requirement objects, e.g. - bearerAuth: []"
	case goType == "openapi3.SecurityRequirement":
		return "a security requirement is an object of scheme names to scope lists, e.g. bearerAuth: []"
	case goType == "[]string":
		return "this place takes a list of strings"
	case strings.HasPrefix(goType, "[]"), strings.HasSuffix(goType, "Parameters"), strings.HasSuffix(goType, "Requirements"), strings.HasSuffix(goType, "Tags"):
		return "this place takes a list"
	case goType == "string":
		return "this place takes a string"
	case goType == "bool":
		return "this place takes true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "this place takes a number"
	}
	return "this place takes an object"
}

// objectKeys are keys whose value, or whose entries' values, must be
// objects in an OpenAPI document.
var objectKeys = map[string]bool{
	"parameters": true, "properties": true, "schema": true, "items": true, "requestBody": true,
	"responses": true, "schemas": true, "requestBodies": true, "headers": true, "allOf": true,
	"oneOf": true, "anyOf": true, "not": true, "securitySchemes": true, "examples": true, "links": true,
	"callbacks": true, "content": true, "encoding": true, "pathItems": true,
}

// findNullObject returns the first null value in the root file that sits
// where OpenAPI wants an object: an entry of a map or list named by
// objectKeys, or the value of such a key.
func (d *Doc) findNullObject() (Pos, bool) {
	l := d.locatorOf()
	var found *yaml.Node
	var walk func(n *yaml.Node, parentKey string, depth int)
	walk = func(n *yaml.Node, parentKey string, depth int) {
		if found != nil || n == nil || depth > maxNodeDepth {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if isNull(v) && (objectKeys[k.Value] && k.Value != "examples" || objectKeys[parentKey]) {
					found = k
					return
				}
				walk(v, k.Value, depth+1)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if isNull(c) && objectKeys[parentKey] {
					found = c
					return
				}
				walk(c, "", depth+1)
			}
		}
	}
	walk(l.root, "", 0)
	if found == nil {
		return Pos{}, false
	}
	return Pos{File: l.file, Line: found.Line, Col: found.Column}, true
}

// findRef returns the place of the first $ref whose value is ref.
func (d *Doc) findRef(ref string) (Pos, bool) {
	l := d.locatorOf()
	return l.find(func(k, v *yaml.Node) bool { return k.Value == "$ref" && v.Value == ref })
}
