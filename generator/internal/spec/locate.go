package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// Pos is a place in a spec file. Line and Col are 1-based; zero when unknown.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Locator maps paths of keys and indexes to positions in one YAML or JSON
// file.
type Locator struct {
	file string
	data []byte
	root *yaml.Node // nil when the file does not parse
}

// NewLocator parses data, which must be YAML or JSON. Parsing builds one
// node per value written and expands no alias, so its cost is bounded by the
// size of data (see MaxFileBytes); Find and find never expand an alias
// either, beyond the few on one path.
func NewLocator(file string, data []byte) *Locator {
	l := &Locator{file: file, data: data}
	var doc yaml.Node
	if err := unmarshalNodes(data, &doc); err == nil && len(doc.Content) > 0 {
		l.root = doc.Content[0]
	}
	return l
}

// Find returns the position of the value at path (mapping keys, or decimal
// indexes into sequences). When path does not exist completely, it returns
// the position of the deepest part that does. A mapping key is located at the
// key itself, so that "undeclared scheme" points at the name.
func (l *Locator) Find(path ...string) Pos {
	pos := Pos{File: l.file}
	n := l.root
	if n == nil {
		return pos
	}
	pos.Line, pos.Col = n.Line, n.Column
	for _, part := range path {
		n = deref(n)
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					pos.Line, pos.Col = n.Content[i].Line, n.Content[i].Column
					next = n.Content[i+1]
					break
				}
			}
			if next == nil {
				return pos
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.Content) {
				return pos
			}
			n = n.Content[i]
			pos.Line, pos.Col = n.Line, n.Column
		default:
			return pos
		}
	}
	return pos
}

// FindKey returns the first mapping key named key (in document order) whose
// value's kind does not match want ("sequence", "mapping" or "scalar").
func (l *Locator) FindKey(key, want string) (Pos, bool) {
	return l.find(func(k, v *yaml.Node) bool { return k.Value == key && kindName(v) != want })
}

// FindKeyFunc returns the position of the first mapping key (in document
// order) for which match is true.
func (l *Locator) FindKeyFunc(match func(key string) bool) (Pos, bool) {
	return l.find(func(k, _ *yaml.Node) bool { return match(k.Value) })
}

// find walks the document depth first and returns the position of the
// first mapping key for which match(key, value) is true.
func (l *Locator) find(match func(k, v *yaml.Node) bool) (Pos, bool) {
	var found *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if found != nil || n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if match(n.Content[i], n.Content[i+1]) {
					found = n.Content[i]
					return
				}
				walk(n.Content[i+1])
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(l.root)
	if found == nil {
		return Pos{}, false
	}
	return Pos{File: l.file, Line: found.Line, Col: found.Column}, true
}

func kindName(n *yaml.Node) string {
	switch deref(n).Kind {
	case yaml.SequenceNode:
		return "sequence"
	case yaml.MappingNode:
		return "mapping"
	}
	return "scalar"
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// typeMismatchRE matches encoding/json's complaint about a value of the
// wrong type, as kin-openapi passes it on.
var typeMismatchRE = regexp.MustCompile(`cannot unmarshal (\w+) into (?:Go struct )?field \w+\.([\w.]+) of type (\S+)`)

// locateTypeMismatch finds the first key named by a JSON type error whose
// value has the wrong shape.
func (d *Doc) locateTypeMismatch(msg string) (Pos, bool) {
	m := typeMismatchRE.FindStringSubmatch(msg)
	if m == nil {
		return Pos{}, false
	}
	field := m[2]
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	want := "scalar"
	switch {
	case strings.HasPrefix(m[3], "[]"):
		want = "sequence"
	case strings.HasPrefix(m[3], "map[") || strings.Contains(m[3], "."):
		want = "mapping"
	}
	return d.locatorOf().FindKey(field, want)
}

// checkSyntax reports a YAML or JSON syntax error with its line.
func checkSyntax(file string, data []byte) error {
	_, err := syntaxRoot(file, data)
	return err
}

// syntaxRoot is checkSyntax that also returns the top value of a YAML
// document as NewLocator parses it, so that the locator of a file read
// once need not parse it again (nil for JSON, which is checked without
// building nodes).
func syntaxRoot(file string, data []byte) (*yaml.Node, error) {
	if err := checkText(file, data); err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, Errorf(Pos{File: file, Line: 1, Col: 1}, "the file is empty; give a YAML or JSON object")
	}
	if trimmed[0] == '{' {
		if json.Valid(trimmed) {
			if err := jsonDepthError(file, data); err != nil {
				return nil, err
			}
			return nil, checkDuplicateKeys(file, data, nil)
		}
		var v any
		err := json.Unmarshal(trimmed, &v)
		if se, ok := err.(*json.SyntaxError); ok {
			line, col := lineCol(data, int(se.Offset))
			return nil, Errorf(Pos{File: file, Line: line, Col: col}, "invalid JSON: %v; fix the syntax", se)
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, yamlError(file, err)
	}
	if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
		return nil, Errorf(Pos{File: file, Line: 1, Col: 1}, "the spec is not a YAML or JSON object; give an OpenAPI 3.x document")
	}
	if err := checkNodes(file, &n); err != nil {
		return nil, err
	}
	return n.Content[0], checkDuplicateKeys(file, data, n.Content[0])
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlError(file string, err error) error {
	msg := firstLine(err.Error())
	var le *yaml.LoadError
	if errors.As(err, &le) && le.Mark.Line > 0 {
		return Errorf(Pos{File: file, Line: le.Mark.Line, Col: le.Mark.Column}, "invalid YAML: %s; fix the syntax", le.Message)
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Errorf(Pos{File: file, Line: line}, "invalid YAML: %s; fix the syntax", m[2])
	}
	return Errorf(Pos{File: file}, "invalid YAML: %s; fix the syntax", strings.TrimPrefix(msg, "yaml: "))
}

func lineCol(data []byte, offset int) (int, int) {
	if offset > len(data) {
		offset = len(data)
	}
	before := data[:offset]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := offset - bytes.LastIndexByte(before, '\n')
	return line, col
}

// toJSON converts a YAML or JSON document to JSON, with every mapping key
// as a string (YAML allows `200:` as an integer key; JSON does not). It
// refuses, as an *Error in file, a document that expands or nests beyond the
// limits of checkNodes, before expanding any alias.
func toJSON(file string, data []byte) ([]byte, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return t, jsonDepthError(file, data)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	if err := checkNodes(file, &n); err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return []byte("{}"), nil
	}
	v, err := nodeValue(n.Content[0])
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// nodeValue converts n to the plain values encoding/json marshals, with
// merge keys applied and aliases expanded, within MaxValues values.
func nodeValue(n *yaml.Node) (any, error) {
	d := valueDecoder{left: MaxValues}
	return d.value(n, 0)
}

// valueDecoder counts the values nodeValue may still build.
type valueDecoder struct{ left int }

func (d *valueDecoder) value(n *yaml.Node, depth int) (any, error) {
	if depth > 1000 {
		return nil, fmt.Errorf("line %d: nesting too deep", n.Line)
	}
	if d.left--; d.left < 0 {
		return nil, fmt.Errorf("line %d: the document expands to more than %d values through YAML aliases and merges", n.Line, MaxValues)
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, n.Content[i+1])
				continue
			}
			v, err := d.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		// A merge key (<<: *base) brings in the keys of the mappings it
		// names that the mapping does not set itself, the first named
		// winning, as YAML loaders do: dropping it would drop whatever it
		// carries, a security list included.
		for _, src := range merges {
			src = deref(src)
			sources := []*yaml.Node{src}
			if src.Kind == yaml.SequenceNode {
				sources = src.Content
			}
			for _, s := range sources {
				v, err := d.value(s, depth+1)
				if err != nil {
					return nil, err
				}
				sm, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("line %d: a merge key (<<) must name a mapping", s.Line)
				}
				for k, v := range sm {
					if _, set := m[k]; !set {
						m[k] = v
					}
				}
			}
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := d.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}
