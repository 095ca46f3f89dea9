package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	yaml "go.yaml.in/yaml/v4"
)

// Repairs of well-known spec mistakes that make kin-openapi refuse a
// document, or openapi2conv fail to decode one, although their meaning is
// plain. They work on a prepared copy of one file's YAML tree, never on the
// user's file, and each yields a warning at the original place:
//
//   - `required: true` (a boolean) inside a schema: moved to the enclosing
//     object's `required` list when the schema is a property, else dropped;
//   - a `$ref` where text is expected (`description: {$ref: file#/key}`):
//     replaced by the text it points to, or dropped when unreadable;
//   - a `$ref` to the wrong components section (a response that points into
//     requestBodies, or the reverse): the target is copied into the right
//     section and the reference pointed at the copy;
//   - `items` given as a list (draft-4 tuple syntax, written to mean "one of
//     these"): the one schema it lists, or any of them;
//   - Swagger 2.0 `type` given as a list: the one non-null type plus
//     `x-nullable`, or no type when several remain.
//
// The walk follows the OpenAPI structure, so a property named "required" or
// "description" is never mistaken for the keyword.

// Kind is the kind of OpenAPI object a part of a file must be.
type Kind uint8

// The kinds the repair walk tells apart.
const (
	KindUnknown Kind = iota
	KindDocument
	KindPathItem
	KindOperation
	KindParameter
	KindRequestBody
	KindResponse
	KindHeader
	KindSchema
	KindCallback
)

// Repair is one fix made on the prepared copy of a spec file.
type Repair struct {
	Pos Pos
	Msg string // what was wrong; what gatehouse did; what to change
}

func (r Repair) String() string { return r.Pos.String() + ": " + r.Msg }

// sortRepairs puts repairs in the order of their places.
func sortRepairs(rs []Repair) {
	slices.SortStableFunc(rs, func(a, b Repair) int {
		if a.Pos.File != b.Pos.File {
			return strings.Compare(a.Pos.File, b.Pos.File)
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
}

// ExternalRef is a $ref to another file and the kind of object it must be.
type ExternalRef struct {
	Ref  string // as written: "models/pet.yml#/Pet"
	Kind Kind
}

// RepairOptions say how to read one file.
type RepairOptions struct {
	// File names the file in positions.
	File string
	// Roots maps JSON pointers into the file ("" for the whole file) to the
	// kind of object found there: KindDocument for the root document, and
	// for other files what the $refs that reach them expect.
	Roots map[string]Kind
	// Swagger2 is set for a Swagger 2.0 document.
	Swagger2 bool
	// Text returns the text a `$ref` used in place of a description points
	// to (ref as written, relative to this file); ok is false when it cannot
	// be read.
	Text func(ref string) (text string, ok bool)
	// Inline returns what a `$ref` used in place of an operation (which
	// OpenAPI does not allow to be referenced) points to: the node, the name
	// of its file for positions, and how to rewrite the $refs inside it to
	// be relative to this file; ok is false when it cannot be read.
	Inline func(ref string) (n *yaml.Node, file string, rebase func(ref string) string, ok bool)
}

// RepairFile applies the repairs to one YAML or JSON file. It returns the
// repaired document as JSON, or data itself when nothing needed repair, with
// the repairs made and the $refs to other files it found (with the kind of
// object each must be, for reading those files in turn).
func RepairFile(data []byte, opts RepairOptions) ([]byte, []Repair, []ExternalRef, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return data, nil, nil, err
	}
	root := doc.Content[0]
	repairs, refs := RepairNodes(root, opts)
	if len(repairs) == 0 {
		return data, nil, refs, nil
	}
	v, err := nodeValue(root)
	if err != nil {
		return data, nil, refs, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return data, nil, refs, err
	}
	return out, repairs, refs, nil
}

// RepairNodes applies the repairs to the parsed tree of one file in place.
func RepairNodes(root *yaml.Node, opts RepairOptions) ([]Repair, []ExternalRef) {
	w := &repairWalker{opts: opts, root: root, seen: map[*yaml.Node]bool{}}
	ptrs := make([]string, 0, len(opts.Roots))
	for p := range opts.Roots {
		ptrs = append(ptrs, p)
	}
	slices.Sort(ptrs)
	for _, p := range ptrs {
		if n := resolvePointer(root, p); n != nil {
			w.visit(n, opts.Roots[p], nil)
		}
	}
	// Parts reached only through references inside this file.
	for len(w.queue) > 0 {
		q := w.queue[0]
		w.queue = w.queue[1:]
		if n := resolvePointer(root, q.ptr); n != nil {
			w.visit(n, q.kind, nil)
		}
	}
	sortRepairs(w.repairs)
	return w.repairs, w.refs
}

type repairWalker struct {
	opts    RepairOptions
	root    *yaml.Node
	seen    map[*yaml.Node]bool
	repairs []Repair
	refs    []ExternalRef
	copies  map[string]string     // pointer of a misplaced object → name of its copy
	written map[*yaml.Node]string // $refs rebased by copyNode → as written
	queue   []struct {
		ptr  string
		kind Kind
	}
}

func (w *repairWalker) report(at *yaml.Node, format string, args ...any) {
	w.repairs = append(w.repairs, Repair{Pos: Pos{File: w.opts.File, Line: at.Line, Col: at.Column}, Msg: fmt.Sprintf(format, args...)})
}

// property is the enclosing object schema and name of a property schema.
type property struct {
	parent *yaml.Node
	name   string
}

// visit walks n as an object of kind k.
func (w *repairWalker) visit(n *yaml.Node, k Kind, prop *property) {
	if n == nil {
		return
	}
	if k == KindHeader && w.opts.Swagger2 {
		k = KindSchema // a Swagger 2.0 header is a restricted schema
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode || w.seen[n] {
		return
	}
	w.seen[n] = true
	if ref := mapValue(n, "$ref"); ref != nil && ref.Kind == yaml.ScalarNode {
		if k != KindOperation || !w.inline(n, ref) {
			w.ref(n, ref, k)
		}
		return
	}
	if k != KindSchema && k != KindUnknown {
		w.text(n, "description", "summary")
	}
	switch k {
	case KindDocument:
		w.document(n)
	case KindPathItem:
		eachList(mapValue(n, "parameters"), func(c *yaml.Node) { w.visit(c, KindParameter, nil) })
		for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
			w.visit(mapValue(n, m), KindOperation, nil)
		}
	case KindOperation:
		w.visitOperation(n)
	case KindCallback:
		eachMap(n, func(_ string, c *yaml.Node) { w.visit(c, KindPathItem, nil) })
	case KindParameter:
		w.visit(mapValue(n, "schema"), KindSchema, nil)
		w.content(n)
		if w.opts.Swagger2 {
			w.visit(mapValue(n, "items"), KindSchema, nil)
		}
	case KindRequestBody:
		w.content(n)
	case KindResponse:
		w.content(n)
		eachMap(mapValue(n, "headers"), func(_ string, c *yaml.Node) { w.visit(c, KindHeader, nil) })
		if w.opts.Swagger2 {
			w.visit(mapValue(n, "schema"), KindSchema, nil)
		}
	case KindHeader:
		w.visit(mapValue(n, "schema"), KindSchema, nil)
		w.content(n)
	case KindSchema:
		w.schema(n, prop)
	}
}

func (w *repairWalker) visitOperation(n *yaml.Node) {
	w.text(n, "description", "summary")
	eachList(mapValue(n, "parameters"), func(c *yaml.Node) { w.visit(c, KindParameter, nil) })
	w.visit(mapValue(n, "requestBody"), KindRequestBody, nil)
	eachMap(mapValue(n, "responses"), func(_ string, c *yaml.Node) { w.visit(c, KindResponse, nil) })
	eachMap(mapValue(n, "callbacks"), func(_ string, c *yaml.Node) { w.visit(c, KindCallback, nil) })
	w.externalDocs(n)
}

func (w *repairWalker) document(n *yaml.Node) {
	if info := deref0(mapValue(n, "info")); info != nil {
		w.text(info, "title", "description", "summary")
	}
	eachList(mapValue(n, "tags"), func(t *yaml.Node) {
		if t = deref(t); t.Kind == yaml.MappingNode {
			w.text(t, "description")
			w.externalDocs(t)
		}
	})
	w.externalDocs(n)
	eachMap(mapValue(n, "paths"), func(_ string, c *yaml.Node) { w.visit(c, KindPathItem, nil) })
	eachMap(mapValue(n, "webhooks"), func(_ string, c *yaml.Node) { w.visit(c, KindPathItem, nil) })
	sections := mapValue(n, "components")
	if w.opts.Swagger2 {
		sections = n
		eachMap(mapValue(n, "definitions"), func(_ string, c *yaml.Node) { w.visit(c, KindSchema, nil) })
	}
	eachMap(mapValue(sections, "schemas"), func(_ string, c *yaml.Node) { w.visit(c, KindSchema, nil) })
	eachMap(mapValue(sections, "parameters"), func(_ string, c *yaml.Node) { w.visit(c, KindParameter, nil) })
	eachMap(mapValue(sections, "requestBodies"), func(_ string, c *yaml.Node) { w.visit(c, KindRequestBody, nil) })
	eachMap(mapValue(sections, "responses"), func(_ string, c *yaml.Node) { w.visit(c, KindResponse, nil) })
	eachMap(mapValue(sections, "headers"), func(_ string, c *yaml.Node) { w.visit(c, KindHeader, nil) })
	eachMap(mapValue(sections, "callbacks"), func(_ string, c *yaml.Node) { w.visit(c, KindCallback, nil) })
	eachMap(mapValue(sections, "pathItems"), func(_ string, c *yaml.Node) { w.visit(c, KindPathItem, nil) })
}

func (w *repairWalker) externalDocs(n *yaml.Node) {
	if d := deref0(mapValue(n, "externalDocs")); d != nil && d.Kind == yaml.MappingNode {
		w.text(d, "description")
	}
}

// content walks the media types of n's content.
func (w *repairWalker) content(n *yaml.Node) {
	eachMap(mapValue(n, "content"), func(_ string, mt *yaml.Node) {
		mt = deref(mt)
		if mt.Kind != yaml.MappingNode {
			return
		}
		w.visit(mapValue(mt, "schema"), KindSchema, nil)
		eachMap(mapValue(mt, "encoding"), func(_ string, e *yaml.Node) {
			eachMap(mapValue(e, "headers"), func(_ string, h *yaml.Node) { w.visit(h, KindHeader, nil) })
		})
	})
}

// schemaMaps and schemaLists are the keywords whose values are maps and
// lists of schemas; schemaKeys those whose value is one schema.
var (
	schemaMaps  = []string{"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"}
	schemaLists = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaKeys  = []string{"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems"}
)

func (w *repairWalker) schema(n *yaml.Node, prop *property) {
	w.text(n, "title", "description")
	w.requiredBool(n, prop)
	if w.opts.Swagger2 {
		w.typeList(n)
	}
	w.itemsList(n)
	for _, key := range schemaMaps {
		w.schemaMapRef(n, key)
		eachMap(mapValue(n, key), func(name string, c *yaml.Node) {
			var p *property
			if key == "properties" {
				p = &property{parent: n, name: name}
			}
			w.visit(c, KindSchema, p)
		})
	}
	for _, key := range schemaLists {
		eachList(mapValue(n, key), func(c *yaml.Node) { w.visit(c, KindSchema, nil) })
	}
	for _, key := range schemaKeys {
		w.visit(mapValue(n, key), KindSchema, nil)
	}
}

// requiredBool repairs `required: true` written on a schema, which OpenAPI
// spells as a list of property names on the enclosing object.
func (w *repairWalker) requiredBool(n *yaml.Node, prop *property) {
	i := keyIndex(n, "required")
	if i < 0 {
		return
	}
	key, val := n.Content[i], deref(n.Content[i+1])
	if val.Kind != yaml.ScalarNode || (val.Tag != "!!bool" && val.ShortTag() != "!!bool") {
		return
	}
	removeKey(n, i)
	if val.Value != "true" || prop == nil {
		w.report(key, "`required: %s` is not valid inside a schema (it is a list of property names); gatehouse ignored it; remove it from the schema, and mark a required parameter or request body with `required` on that object instead", val.Value)
		return
	}
	parent := deref(prop.parent)
	list := deref0(mapValue(parent, "required"))
	if list == nil {
		parent.Content = append(parent.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "required"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"})
		list = parent.Content[len(parent.Content)-1]
	}
	if list.Kind == yaml.SequenceNode && !slices.ContainsFunc(list.Content, func(c *yaml.Node) bool { return c.Value == prop.name }) {
		list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: prop.name})
	}
	w.report(key, "`required: true` is not valid on property %q (OpenAPI lists required properties on the enclosing object); gatehouse treated %q as required; move it to the object's `required: [%s]`", prop.name, prop.name, prop.name)
}

// typeList repairs a Swagger 2.0 `type` given as a list, which 2.0 does not
// allow: one type plus "null" becomes that type with x-nullable.
func (w *repairWalker) typeList(n *yaml.Node) {
	i := keyIndex(n, "type")
	if i < 0 || deref(n.Content[i+1]).Kind != yaml.SequenceNode {
		return
	}
	key, list := n.Content[i], deref(n.Content[i+1])
	var types []string
	null := false
	for _, c := range list.Content {
		switch c = deref(c); {
		case c.Value == "null":
			null = true
		case !slices.Contains(types, c.Value):
			types = append(types, c.Value)
		}
	}
	written := "[" + strings.Join(scalarValues(list), ", ") + "]"
	if null {
		setKey(n, "x-nullable", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if len(types) == 1 {
		n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: types[0]}
		w.report(key, "`type: %s` is a list, which Swagger 2.0 does not allow; gatehouse read it as `type: %s`%s; write `type: %s`%s", written, types[0], nullNote(null), types[0], nullNote(null))
		return
	}
	removeKey(n, i)
	w.report(key, "`type: %s` is a list, which Swagger 2.0 does not allow; gatehouse accepts any JSON type here%s; declare one type, or move to OpenAPI 3 and use anyOf", written, nullNote(null))
}

func nullNote(null bool) string {
	if null {
		return " with `x-nullable: true`"
	}
	return ""
}

// itemsList repairs `items` given as a list of schemas: draft-4 tuple
// syntax that OpenAPI does not allow, used in practice to mean "each item is
// one of these" (often a schema and {type: null}).
func (w *repairWalker) itemsList(n *yaml.Node) {
	i := keyIndex(n, "items")
	if i < 0 || deref(n.Content[i+1]).Kind != yaml.SequenceNode {
		return
	}
	key, list := n.Content[i], deref(n.Content[i+1])
	var schemas []*yaml.Node
	var seen []string
	null := false
	for _, c := range list.Content {
		c = deref(c)
		if c.Kind != yaml.MappingNode {
			continue
		}
		if len(c.Content) == 2 && c.Content[0].Value == "type" && c.Content[1].Value == "null" {
			null = true
			continue
		}
		v, err := nodeValue(c)
		if err != nil {
			continue
		}
		b, _ := json.Marshal(v)
		if !slices.Contains(seen, string(b)) {
			seen = append(seen, string(b))
			schemas = append(schemas, c)
		}
	}
	nullKey := "nullable"
	if w.opts.Swagger2 {
		nullKey = "x-nullable"
	}
	var item *yaml.Node
	var did string
	switch {
	case len(schemas) == 1 && !null:
		item, did = schemas[0], "read it as the one schema it lists"
	case len(schemas) == 1 && mapValue(schemas[0], "$ref") == nil:
		item, did = schemas[0], "read it as the one schema it lists, nullable"
		setKey(item, nullKey, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	case len(schemas) == 1:
		item, did = mapping("allOf", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: schemas}), "read it as the one schema it lists, nullable"
		setKey(item, nullKey, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	case len(schemas) > 1 && !w.opts.Swagger2:
		item, did = mapping("anyOf", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: schemas}), "read it as anyOf the schemas it lists"
		if null {
			setKey(item, nullKey, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		}
	default:
		// Swagger 2.0 has no anyOf: accept any item rather than reject
		// what the API allows.
		item, did = mapping(), "accepts any JSON value as an item (Swagger 2.0 cannot say \"one of these\")"
	}
	n.Content[i+1] = item
	w.report(key, "`items` is a list of %d schemas, which OpenAPI does not allow (items takes one schema); gatehouse %s; give items one schema (with anyOf for alternatives)", len(list.Content), did)
}

// text repairs a `$ref` given where text is expected under each of keys
// (`description: {$ref: other.yml#/intro}`, a documentation tool's
// extension): the text it points to replaces it, or the key is dropped.
func (w *repairWalker) text(n *yaml.Node, keys ...string) {
	for _, key := range keys {
		i := keyIndex(n, key)
		if i < 0 {
			continue
		}
		k, v := n.Content[i], deref(n.Content[i+1])
		ref := mapValue(v, "$ref")
		if v.Kind != yaml.MappingNode || ref == nil || ref.Kind != yaml.ScalarNode {
			continue
		}
		if w.opts.Text != nil {
			if s, ok := w.opts.Text(ref.Value); ok {
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
				w.report(k, "%s is a $ref to %s, but OpenAPI requires text here; gatehouse used the text it points to; write the text in place", key, w.asWritten(ref))
				continue
			}
		}
		removeKey(n, i)
		w.report(k, "%s is a $ref to %s, but OpenAPI requires text here and that text cannot be read; gatehouse left the %s out; write the text in place", key, w.asWritten(ref), key)
	}
}

// inline replaces an operation given as a $ref (a documentation tool's
// extension; OpenAPI only lets whole path items be referenced) by a copy of
// what it points to, with that copy's relative $refs rewritten for this
// file, and reports whether it could.
func (w *repairWalker) inline(n, ref *yaml.Node) bool {
	// A security list beside the $ref would be lost, or would silently win
	// over the one the target declares: which was meant cannot be told, so
	// such an operation is refused.
	if keyIndex(n, "security") >= 0 {
		return false
	}
	copied, file, ok := w.target(ref.Value)
	if !ok {
		return false
	}
	w.report(ref, "the operation is a $ref to %s, but OpenAPI does not allow $ref for an operation; gatehouse used the operation it points to; write the operation in place or $ref the whole path item", w.asWritten(ref))
	// Other keys beside the $ref (a summary, say) are kept over the
	// target's.
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if k == "$ref" {
			continue
		}
		if j := keyIndex(copied, k); j >= 0 {
			copied.Content[j+1] = n.Content[i+1]
		} else {
			copied.Content = append(copied.Content, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = copied.Content
	// Positions inside the copy are in the file it came from.
	own := w.opts.File
	w.opts.File = file
	w.seen[n] = true
	w.visitOperation(n)
	w.opts.File = own
	return true
}

// target returns a copy of the mapping a $ref points to, with the $refs in
// it made relative to this file, and the name of the file it is in.
func (w *repairWalker) target(ref string) (*yaml.Node, string, bool) {
	file, frag, _ := strings.Cut(ref, "#")
	var n *yaml.Node
	name, rebase := w.opts.File, func(s string) string { return s }
	if file == "" {
		n = resolvePointer(w.root, frag)
	} else if w.opts.Inline != nil {
		var ok bool
		if n, name, rebase, ok = w.opts.Inline(ref); !ok {
			return nil, "", false
		}
	}
	if n == nil || deref(n).Kind != yaml.MappingNode {
		return nil, "", false
	}
	if w.written == nil {
		w.written = map[*yaml.Node]string{}
	}
	return copyNode(n, func(ref *yaml.Node) {
		if s := rebase(ref.Value); s != ref.Value {
			w.written[ref] = ref.Value
			ref.Value = s
		}
	}), name, true
}

// asWritten returns a $ref's value as its file spells it.
func (w *repairWalker) asWritten(ref *yaml.Node) string {
	if s, ok := w.written[ref]; ok {
		return s
	}
	return ref.Value
}

// schemaMapRef repairs a `$ref` given in place of a map of schemas
// (`properties: {$ref: attributes.yml#/ids}`): the map it points to is
// used.
func (w *repairWalker) schemaMapRef(n *yaml.Node, key string) {
	i := keyIndex(n, key)
	if i < 0 {
		return
	}
	v := deref(n.Content[i+1])
	if v.Kind != yaml.MappingNode || len(v.Content) != 2 || v.Content[0].Value != "$ref" || v.Content[1].Kind != yaml.ScalarNode {
		return
	}
	ref := v.Content[1]
	copied, file, ok := w.target(ref.Value)
	if !ok {
		return
	}
	w.report(ref, "%s is a $ref to %s, but OpenAPI requires a map of schemas here; gatehouse used the map it points to; write the %s in place", key, w.asWritten(ref), key)
	n.Content[i+1] = copied
	own := w.opts.File
	w.opts.File = file
	eachMap(copied, func(name string, c *yaml.Node) {
		var p *property
		if key == "properties" {
			p = &property{parent: n, name: name}
		}
		w.visit(c, KindSchema, p)
	})
	w.opts.File = own
}

// copyNode returns a deep copy of n with each $ref value passed through
// rebase, and so is each reference in a discriminator's mapping.
func copyNode(n *yaml.Node, rebase func(ref *yaml.Node)) *yaml.Node {
	n = deref(n)
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = copyNode(child, rebase)
		if n.Kind != yaml.MappingNode || i%2 == 0 {
			continue
		}
		switch v := c.Content[i]; n.Content[i-1].Value {
		case "$ref":
			if v.Kind == yaml.ScalarNode {
				rebase(v)
			}
		case "discriminator":
			eachMap(mapValue(v, "mapping"), func(_ string, m *yaml.Node) {
				// A value is a schema name or, with a / or #, a reference.
				if m.Kind == yaml.ScalarNode && strings.ContainsAny(m.Value, "/#") {
					rebase(m)
				}
			})
		}
	}
	return &c
}

// sectionOf names the components section each kind of object lives in.
var sectionOf = map[Kind]string{
	KindResponse:    "responses",
	KindRequestBody: "requestBodies",
}

// ref records a $ref that must resolve to an object of kind k, and repairs
// one that points into the wrong components section when the two kinds of
// object have the same shape (a response and a request body both carry a
// description and content).
func (w *repairWalker) ref(n, ref *yaml.Node, k Kind) {
	target := ref.Value
	file, frag, _ := strings.Cut(target, "#")
	if file != "" {
		if k != KindUnknown {
			w.refs = append(w.refs, ExternalRef{Ref: target, Kind: k})
		}
		return
	}
	want, ok := sectionOf[k]
	parts := splitPointer(frag)
	if !ok || len(parts) != 3 || parts[0] != "components" || parts[1] == want {
		w.queue = append(w.queue, struct {
			ptr  string
			kind Kind
		}{frag, k})
		return
	}
	var from Kind
	for kind, sec := range sectionOf {
		if sec == parts[1] {
			from = kind
		}
	}
	src := resolvePointer(w.root, frag)
	comps := deref0(mapValue(w.root, "components"))
	if from == KindUnknown || src == nil || src.Kind != yaml.MappingNode || comps == nil {
		return
	}
	sec := deref0(mapValue(comps, want))
	if sec == nil {
		setKey(comps, want, mapping())
		sec = mapValue(comps, want)
	}
	name := parts[2]
	for i := 2; ; i++ {
		existing := mapValue(sec, name)
		if existing == nil {
			copied := mapping()
			for j := 0; j+1 < len(src.Content); j += 2 {
				if key := src.Content[j].Value; key == "description" || key == "content" || strings.HasPrefix(key, "x-") {
					copied.Content = append(copied.Content, src.Content[j], src.Content[j+1])
				}
			}
			setKey(sec, name, copied)
			break
		}
		if w.copies[frag] == name {
			break
		}
		name = fmt.Sprintf("%s%d", parts[2], i)
	}
	if w.copies == nil {
		w.copies = map[string]string{}
	}
	w.copies[frag] = name
	newRef := "#/components/" + want + "/" + escapePointer(name)
	w.report(ref, "$ref %s points to a %s where a %s is required; gatehouse used a copy of it as %s; move the object to components/%s and point the $ref there", target, objectName(from), objectName(k), newRef, want)
	*ref = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: newRef, Line: ref.Line, Column: ref.Column}
	w.visit(mapValue(sec, name), k, nil)
}

func objectName(k Kind) string {
	switch k {
	case KindResponse:
		return "response"
	case KindRequestBody:
		return "request body"
	}
	return "object"
}

// resolvePointer returns the node at the JSON pointer p ("" or "/a/b").
func resolvePointer(root *yaml.Node, p string) *yaml.Node {
	n := root
	if p == "" || p == "/" {
		return n
	}
	for _, part := range splitPointer(p) {
		n = deref(n)
		switch n.Kind {
		case yaml.MappingNode:
			n = mapValue(n, part)
		case yaml.SequenceNode:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	return deref(n)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func keyIndex(n *yaml.Node, key string) int {
	if n == nil || n.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	n = deref0(n)
	if i := keyIndex(n, key); i >= 0 {
		return n.Content[i+1]
	}
	return nil
}

func removeKey(n *yaml.Node, i int) {
	n.Content = slices.Delete(n.Content, i, i+2)
}

func setKey(n *yaml.Node, key string, v *yaml.Node) {
	if i := keyIndex(n, key); i >= 0 {
		n.Content[i+1] = v
		return
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// mapping returns a mapping node with the given key and value nodes.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[i].(string)}, kv[i+1].(*yaml.Node))
	}
	return m
}

func deref0(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	return deref(n)
}

func eachMap(n *yaml.Node, f func(key string, v *yaml.Node)) {
	n = deref0(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f(n.Content[i].Value, n.Content[i+1])
	}
}

func eachList(n *yaml.Node, f func(v *yaml.Node)) {
	n = deref0(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return
	}
	for _, c := range n.Content {
		f(c)
	}
}

func scalarValues(list *yaml.Node) []string {
	var s []string
	for _, c := range list.Content {
		s = append(s, deref(c).Value)
	}
	return s
}

// repairer applies RepairFile to every file a loader reads: the root as a
// document, each $ref'd file as what the $refs that reach it expect.
type repairer struct {
	root, rootName string
	swagger2       bool
	roots          map[string]map[string]Kind // absolute file → pointer → kind
	texts          map[string]*yaml.Node      // parsed files that text $refs point into
	done           map[string]repaired        // absolute file → its repaired bytes
	repairs        []Repair
}

type repaired struct {
	roots int // how many places in the file were walked
	out   []byte
}

func newRepairer(abs, name string, swagger2 bool) *repairer {
	return &repairer{
		root: abs, rootName: name, swagger2: swagger2,
		roots: map[string]map[string]Kind{abs: {"": KindDocument}},
		texts: map[string]*yaml.Node{},
		done:  map[string]repaired{},
	}
}

// wrap returns read with each file it returns repaired; read itself when r
// is nil.
func (r *repairer) wrap(read openapi3.ReadFromURIFunc) openapi3.ReadFromURIFunc {
	if r == nil {
		return read
	}
	return func(l *openapi3.Loader, location *url.URL) ([]byte, error) {
		data, err := read(l, location)
		if err != nil || (location.Scheme != "" && location.Scheme != "file") {
			return data, err
		}
		file := filepath.Clean(filepath.FromSlash(location.Path))
		roots := r.roots[file]
		if len(roots) == 0 {
			return data, nil
		}
		// The loader reads a file again for each $ref into it: repair it
		// again only when $refs have reached new places in it since.
		if c, ok := r.done[file]; ok && c.roots == len(roots) {
			return c.out, nil
		}
		out, repairs, refs, rerr := RepairFile(data, RepairOptions{
			File:     r.name(file),
			Roots:    roots,
			Swagger2: r.swagger2,
			Text:     func(ref string) (string, bool) { return r.text(l, read, file, ref) },
			Inline: func(ref string) (*yaml.Node, string, func(string) string, bool) {
				return r.inline(l, read, file, ref)
			},
		})
		if rerr != nil {
			return data, nil // the loader reports what is wrong with it
		}
		r.done[file] = repaired{roots: len(roots), out: out}
		for _, rep := range repairs {
			if !slices.Contains(r.repairs, rep) {
				r.repairs = append(r.repairs, rep)
			}
		}
		for _, ref := range refs {
			target, frag := r.resolve(file, ref.Ref)
			if r.roots[target] == nil {
				r.roots[target] = map[string]Kind{}
			}
			if _, ok := r.roots[target][frag]; !ok {
				r.roots[target][frag] = ref.Kind
			}
		}
		return out, nil
	}
}

// resolve returns the absolute file and the pointer a $ref in file names.
func (r *repairer) resolve(file, ref string) (string, string) {
	target, frag, _ := strings.Cut(ref, "#")
	if u, err := url.PathUnescape(target); err == nil {
		target = u
	}
	return filepath.Join(filepath.Dir(file), filepath.FromSlash(target)), frag
}

// name is how positions in file are written: the root as given, other
// files relative to the current directory when they are under it, else
// absolute.
func (r *repairer) name(file string) string {
	if file == r.root {
		return r.rootName
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && filepath.IsLocal(rel) {
			return rel
		}
	}
	return file
}

// text returns the text a $ref in file points to, read as the loader
// reads files (local files only).
func (r *repairer) text(l *openapi3.Loader, read openapi3.ReadFromURIFunc, file, ref string) (string, bool) {
	target, frag := r.resolve(file, ref)
	root := r.parsed(l, read, target)
	if root == nil {
		return "", false
	}
	n := resolvePointer(root, frag)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// inline returns the node a $ref in file points to, the name of its file,
// and how to make the $refs inside it relative to file.
func (r *repairer) inline(l *openapi3.Loader, read openapi3.ReadFromURIFunc, file, ref string) (*yaml.Node, string, func(string) string, bool) {
	target, frag := r.resolve(file, ref)
	root := r.parsed(l, read, target)
	if root == nil {
		return nil, "", nil, false
	}
	n := resolvePointer(root, frag)
	if n == nil {
		return nil, "", nil, false
	}
	rebase := func(inner string) string {
		innerFile, innerFrag, hasFrag := strings.Cut(inner, "#")
		if strings.Contains(innerFile, "://") {
			return inner
		}
		abs := target
		if innerFile != "" {
			abs, _ = r.resolve(target, innerFile)
		}
		rel, err := filepath.Rel(filepath.Dir(file), abs)
		if err != nil {
			return inner
		}
		out := filepath.ToSlash(rel)
		if hasFrag {
			out += "#" + innerFrag
		}
		return out
	}
	return n, r.name(target), rebase, true
}

// parsed returns the parsed tree of a file read as the loader reads files
// (local files only), or nil.
func (r *repairer) parsed(l *openapi3.Loader, read openapi3.ReadFromURIFunc, file string) *yaml.Node {
	root, ok := r.texts[file]
	if !ok {
		data, err := read(l, &url.URL{Path: filepath.ToSlash(file)})
		var doc yaml.Node
		if err == nil && yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
			root = doc.Content[0]
		}
		r.texts[file] = root
	}
	return root
}

func (r *repairer) messages() []string {
	sortRepairs(r.repairs)
	s := make([]string, len(r.repairs))
	for i, rep := range r.repairs {
		s[i] = rep.String()
	}
	return s
}

// operationRef returns the first operation given as a $ref, which
// kin-openapi loads as an empty operation.
func operationRef(doc *openapi3.T) (path, method, ref string, ok bool) {
	if doc == nil || doc.Paths == nil {
		return "", "", "", false
	}
	var paths []string
	for p := range doc.Paths.Map() {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		ops := doc.Paths.Value(p).Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		slices.Sort(methods)
		for _, m := range methods {
			if r, isRef := ops[m].Extensions["$ref"].(string); isRef {
				return p, m, r, true
			}
		}
	}
	return "", "", "", false
}

// repairable reports whether a load error may be one RepairFile fixes:
// not a file that cannot be read or a remote $ref.
func repairable(err error) bool {
	var remote *remoteRefError
	var pathErr *os.PathError
	return !errors.As(err, &remote) && !errors.As(err, &pathErr)
}
