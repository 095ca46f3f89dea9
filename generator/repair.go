package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// Repairs and degradations work on a generic copy of the document (maps,
// slices and JSON values), addressed by the same paths as the original
// file, so that each change is located where the user wrote the construct.
// The copy is what oapi-codegen sees; the project embeds and validates
// against the original document, so none of this changes who may call
// what, or what a request must look like.

// SpecChange is one repair or degradation made to the copy of the spec that
// oapi-codegen generates Go types from.
type SpecChange struct {
	Pos      spec.Pos
	Degraded bool   // a loss of typing, rather than a repair that keeps the API's types
	What     string // the construct and what was done, and why
}

func (c SpecChange) String() string {
	kind := "repaired"
	if c.Degraded {
		kind = "degraded"
	}
	if c.Pos.File == "" {
		return kind + ": " + c.What
	}
	return c.Pos.String() + ": " + kind + ": " + c.What
}

// rawType is the Go type a degraded schema gets: any JSON value, kept as
// the bytes received and written as they are.
const rawType = "json.RawMessage"

// tree is a generic JSON document.
type tree = map[string]any

// decodeTree decodes JSON into a generic tree, keeping numbers exact.
func decodeTree(data []byte) (tree, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var t tree
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	return t, nil
}

// at returns the map at path in t, or nil.
func at(t tree, path ...string) tree {
	var cur any = t
	for _, p := range path {
		m, ok := cur.(tree)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	m, _ := cur.(tree)
	return m
}

// nameMaps are the keys under which a map's keys are names, not keywords.
var nameMaps = map[string]bool{
	"properties": true, "schemas": true, "paths": true, "responses": true, "content": true,
	"parameters": true, "requestBodies": true, "headers": true, "securitySchemes": true,
	"mapping": true, "definitions": true, "$defs": true, "links": true, "callbacks": true,
	"encoding": true, "patternProperties": true, "webhooks": true, "examples": true,
}

// skipKeys hold values, not spec constructs.
var skipKeys = map[string]bool{"example": true, "examples": true, "default": true, "enum": true, "const": true}

// walk calls visit for every map in t that is a spec construct (not an
// example or a default value), parents first, in sorted key order.
func walk(t tree, visit func(path []string, m tree)) {
	var rec func(path []string, v any, names bool)
	rec = func(path []string, v any, names bool) {
		switch v := v.(type) {
		case tree:
			if !names {
				visit(path, v)
			}
			for _, k := range sortedKeys(v) {
				if !names && (skipKeys[k] || strings.HasPrefix(k, "x-")) {
					continue
				}
				rec(append(path, k), v[k], !names && nameMaps[k])
			}
		case []any:
			for i, e := range v {
				rec(append(path, strconv.Itoa(i)), e, false)
			}
		}
	}
	rec(nil, t, false)
}

func sortedKeys[V any](m map[string]V) []string {
	k := keys(m)
	sort.Strings(k)
	return k
}

// repairer accumulates the changes of one generation.
type repairer struct {
	doc     *spec.Doc
	changes []SpecChange
	// edits are the reactive changes, replayed on each fresh copy in order.
	edits []func(t tree)
	// acted records what has been changed reactively, by kind and name, so
	// a construct is first repaired and degraded only if that did not help.
	acted map[string]int
	// typeNames are the Go type names taken, for names given proactively.
	typeNames map[string]bool
}

func (r *repairer) add(degraded bool, path []string, format string, args ...any) {
	r.changes = append(r.changes, SpecChange{Pos: r.doc.Locate(path...), Degraded: degraded, What: fmt.Sprintf(format, args...)})
}

// proactive repairs the constructs known to defeat oapi-codegen before it
// runs, so that the common cases cost no extra generation.
func (r *repairer) proactive(t tree) {
	r.typeNames = nil
	walk(t, func(path []string, m tree) {
		if len(path) >= 2 && isParamList(path) {
			r.paramSchema(path, m)
			r.paramUnion(t, path, m)
			r.pathVariable(path, m)
		}
		if props, ok := m["properties"].(tree); ok {
			r.fieldNames(path, props)
		}
		if _, ok := m["enum"].([]any); ok {
			r.enum(path, m)
		}
		if _, ok := m["discriminator"].(tree); ok {
			r.discriminator(path, m)
		}
		r.unionArrayEnums(t, path, m)
	})
	r.allOfDefaults(t)
	r.allOfAccess(t)
	r.allOfFormats(t)
	r.untypedResponses(t)
	r.unionMembers(t)
	r.deepRefs(t)
	r.enumConstantNames(t)
	r.responseNames(t)
	r.responseBodies(t)
	// Parameters whose names cannot be written into Go source are dropped
	// from the typed parameters (after the walk: it deletes from lists).
	walk(t, func(path []string, m tree) {
		list, ok := m["parameters"].([]any)
		if !ok {
			return
		}
		kept := list[:0:0]
		for i, p := range list {
			pm, _ := p.(tree)
			name, _ := pm["name"].(string)
			in, _ := pm["in"].(string)
			if in != "path" && hasIllegalChar(name) {
				r.add(true, append(slices.Clone(path), "parameters", strconv.Itoa(i)), "%s parameter %q: left out of the handler's typed parameters, because its name cannot be written into Go source; requests are still validated against it", in, name)
				continue
			}
			kept = append(kept, p)
		}
		if len(kept) != len(list) {
			m["parameters"] = kept
		}
	})
}

// deepRefs gives each schema referenced somewhere other than
// #/components/<section>/<name> (#/components/responses/R/content/
// application~1json/schema, say), which oapi-codegen cannot name, a place
// of its own under #/components/schemas, and points the references there.
func (r *repairer) deepRefs(t tree) {
	type use struct {
		path []string
		m    tree
	}
	var uses []use
	walk(t, func(path []string, m tree) {
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") || !schemaPosition(path) {
			return
		}
		if parts := splitRef(ref); len(parts) == 3 && parts[0] == "components" {
			return
		}
		uses = append(uses, use{slices.Clone(path), m})
	})
	if len(uses) == 0 {
		return
	}
	if at(t, "components") == nil {
		t["components"] = tree{}
	}
	schemas := at(t, "components", "schemas")
	if schemas == nil {
		schemas = tree{}
		at(t, "components")["schemas"] = schemas
	}
	taken := map[string]bool{}
	for n := range schemas {
		taken[codegen.SchemaNameToTypeName(n)] = true
	}
	moved := map[string]string{}
	for _, u := range uses {
		ref := u.m["$ref"].(string)
		name, done := moved[ref]
		if !done {
			target := pointer(t, splitRef(ref))
			if target == nil {
				continue
			}
			var words []string
			for _, p := range splitRef(ref) {
				if p != "components" && p != "content" && p != "schema" && p != "properties" {
					words = append(words, p)
				}
			}
			base := codegen.SchemaNameToTypeName(strings.Join(words, "_"))
			name = base
			for i := 2; taken[name]; i++ {
				name = base + strconv.Itoa(i)
			}
			taken[name] = true
			moved[ref] = name
			schemas[name] = target
			r.add(false, append(u.path, "$ref"), "$ref %s: the schema it names is also declared as schema %s, because oapi-codegen only follows references to components", ref, name)
		}
		u.m["$ref"] = "#/components/schemas/" + name
	}
}

// pointer returns the map at a JSON pointer's path in t, through maps and
// lists, or nil.
func pointer(t tree, path []string) tree {
	var cur any = t
	for _, p := range path {
		switch v := cur.(type) {
		case tree:
			cur = v[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	m, _ := cur.(tree)
	return m
}

// schemaPosition reports whether path, in a document, holds a schema.
func schemaPosition(path []string) bool {
	n := len(path)
	if n == 0 {
		return false
	}
	switch path[n-1] {
	case "schema", "items", "additionalProperties", "not":
		return true
	}
	if n >= 2 {
		switch path[n-2] {
		case "properties", "allOf", "oneOf", "anyOf", "schemas":
			return true
		}
	}
	return false
}

func isParamList(path []string) bool {
	n := len(path)
	return path[n-2] == "parameters" || (n >= 3 && path[0] == "components" && path[1] == "parameters" && n == 3)
}

// paramSchema repairs an OpenAPI 3.1 type array on a parameter's schema:
// null becomes nullable, and more than one other type becomes string, which
// is how every parameter arrives.
func (r *repairer) paramSchema(path []string, p tree) {
	s, _ := p["schema"].(tree)
	types, ok := s["type"].([]any)
	if !ok {
		return
	}
	var rest []string
	for _, t := range types {
		if ts, _ := t.(string); ts != "null" {
			rest = append(rest, ts)
		} else {
			s["nullable"] = true
		}
	}
	typ := "string"
	if len(rest) == 1 {
		typ = rest[0]
	}
	s["type"] = typ
	name, _ := p["name"].(string)
	r.add(false, append(slices.Clone(path), "schema", "type"), "parameter %q: type %v typed as %s in Go; requests are still validated against the declared types", name, types, typ)
}

// paramUnion degrades a parameter whose schema is a union of plain values
// (anyOf: [integer, string]) to the string the request carries: oapi-codegen
// types it as a union its parameter binding cannot fill, so every request
// would be refused with "invalid format". Validation still uses the union.
func (r *repairer) paramUnion(t tree, path []string, p tree) {
	s := resolve(t, p["schema"])
	if s == nil || (s["oneOf"] == nil && s["anyOf"] == nil) || !plainParam(t, p) {
		return
	}
	p["schema"] = tree{"type": "string"}
	name, _ := p["name"].(string)
	r.add(true, append(slices.Clone(path), "schema"), "parameter %q: typed as string in Go (the text the request carries), because oapi-codegen cannot bind a parameter value into a union type; requests are still validated against the union", name)
}

// fieldNames gives properties whose Go field names collide (is_global and
// isGlobal) distinct names; JSON names do not change.
func (r *repairer) fieldNames(path []string, props tree) {
	used := map[string]bool{}
	names := sortedKeys(props)
	// Names with an explicit x-go-name keep it.
	for _, n := range names {
		if pm, ok := props[n].(tree); ok {
			if g, ok := pm["x-go-name"].(string); ok {
				used[g] = true
			}
		}
	}
	for _, n := range names {
		pm, _ := props[n].(tree)
		if _, ok := pm["x-go-name"]; ok {
			continue
		}
		g := codegen.SchemaNameToTypeName(n)
		if !used[g] {
			used[g] = true
			continue
		}
		if pm == nil {
			continue
		}
		c := g + "2"
		for i := 3; used[c]; i++ {
			c = g + strconv.Itoa(i)
		}
		used[c] = true
		pm["x-go-name"] = c
		r.add(false, append(slices.Clone(path), "properties", n), "property %q: Go field named %s, because %s is taken by another property", n, c, g)
	}
}

// enum repairs enum values that do not fit the declared type: strings for
// a string type are written as strings, and an enum that cannot be typed
// (or whose values cannot be written into Go source) is left untyped.
func (r *repairer) enum(path []string, m tree) {
	values := m["enum"].([]any)
	typ, _ := m["type"].(string)
	fits := func(v any) bool {
		switch typ {
		case "":
			s, ok := v.(string)
			return !ok || !hasIllegalChar(s)
		case "string":
			s, ok := v.(string)
			return ok && !hasIllegalChar(s)
		case "integer":
			n, ok := v.(json.Number)
			_, err := n.Int64()
			return ok && err == nil
		case "number":
			_, ok := v.(json.Number)
			return ok
		case "boolean":
			_, ok := v.(bool)
			return ok
		}
		return true
	}
	bad := -1
	for i, v := range values {
		if v != nil && !fits(v) {
			bad = i
			break
		}
	}
	if bad < 0 {
		return
	}
	if typ == "string" {
		if converted, ok := stringEnum(values); ok {
			m["enum"] = converted
			r.add(false, append(slices.Clone(path), "enum", strconv.Itoa(bad)), "enum value %v does not fit type string: its Go constant is written as the string %q", values[bad], converted[bad])
			return
		}
	}
	delete(m, "enum")
	r.add(true, append(slices.Clone(path), "enum", strconv.Itoa(bad)), "enum value %v does not fit type %s or cannot be written into Go source: no Go constants for this enum; requests are still validated against it", values[bad], cmpOr(typ, "(none)"))
}

// stringEnum writes numbers and booleans as strings, when every value then
// can be written into Go source.
func stringEnum(values []any) ([]any, bool) {
	out := make([]any, len(values))
	for i, v := range values {
		switch v := v.(type) {
		case string:
			if hasIllegalChar(v) {
				return nil, false
			}
			out[i] = v
		case json.Number:
			out[i] = v.String()
		case bool:
			out[i] = strconv.FormatBool(v)
		case nil:
			out[i] = nil
		default:
			return nil, false
		}
	}
	return out, true
}

// discriminator drops a discriminator from a union oapi-codegen cannot map
// (an inline member, or two members under one value): the union stays
// typed, without the helpers that dispatch on the discriminator.
func (r *repairer) discriminator(path []string, m tree) {
	var members []any
	for _, k := range []string{"oneOf", "anyOf"} {
		if l, ok := m[k].([]any); ok {
			members = append(members, l...)
		}
	}
	if len(members) == 0 {
		return
	}
	d := m["discriminator"].(tree)
	mapping, _ := d["mapping"].(tree)
	values := map[string]bool{}
	ok := true
	for _, e := range members {
		em, _ := e.(tree)
		ref, _ := em["$ref"].(string)
		if ref == "" && len(mapping) > 0 {
			ok = false
			break
		}
		key := ref[strings.LastIndexByte(ref, '/')+1:]
		for _, k := range sortedKeys(mapping) {
			if mapping[k] == ref {
				key = k
				break
			}
		}
		if values[key] {
			ok = false
			break
		}
		values[key] = true
	}
	if ok {
		return
	}
	delete(m, "discriminator")
	r.add(false, append(slices.Clone(path), "discriminator"), "discriminator: not every member of the union maps to its own value, so the Go union type has no discriminator helpers; requests are still validated against it")
}

func hasIllegalChar(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r == '"' || r == '`' || unicode.IsControl(r) }) >= 0
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// unionArrayEnums names the inline enum items of an inline array that is a
// member of a union (anyOf, oneOf): oapi-codegen names the member and its
// items alike (X0), so the member's Go type is a list of itself and does not
// compile ("invalid recursive type"). The items get a Go type name of their
// own (x-go-type-name), derived from where they are in the spec.
func (r *repairer) unionArrayEnums(t tree, path []string, m tree) {
	for _, k := range []string{"anyOf", "oneOf"} {
		members, _ := m[k].([]any)
		for i, e := range members {
			member, _ := e.(tree)
			if member == nil || member["$ref"] != nil || member["x-go-type"] != nil || member["x-go-type-name"] != nil {
				continue
			}
			items, itemsPath := member, append(slices.Clone(path), k, strconv.Itoa(i))
			inList := false
			for items["type"] == "array" {
				next, _ := items["items"].(tree)
				if next == nil {
					break
				}
				items, itemsPath, inList = next, append(itemsPath, "items"), true
			}
			if !inList || items["$ref"] != nil || items["x-go-type"] != nil || items["x-go-type-name"] != nil {
				continue
			}
			if values, _ := items["enum"].([]any); len(values) == 0 || items["type"] == "array" {
				continue
			}
			name := r.freshTypeName(t, typeNameAt(t, itemsPath))
			items["x-go-type-name"] = name
			r.add(false, itemsPath, "enum items of %s member %d: Go type named %s, because oapi-codegen gives the list and its items one name, a type that refers to itself", k, i, name)
		}
	}
}

// typeNameAt derives a Go type name for the schema at path from the names
// on the way to it: the operation (its operationId, or method and path),
// the component, properties and union members, and "Item" for list items.
func typeNameAt(t tree, path []string) string {
	var words []string
	for i := 0; i < len(path); i++ {
		p := path[i]
		switch {
		case i == 0 && (p == "paths" || p == "webhooks") && len(path) >= 3:
			op := at(t, path[:3]...)
			if id, ok := op["operationId"].(string); ok && id != "" {
				words = append(words, id)
			} else {
				words = append(words, path[2], path[1])
			}
			i = 2
		case i == 0 && p == "components" && len(path) >= 3:
			words = append(words, path[2])
			i = 2
		case p == "content" || p == "parameters":
			i++ // the media type, the parameter's index
		case p == "requestBody":
			words = append(words, "Body")
		case p == "responses" && i+1 < len(path):
			words = append(words, path[i+1], "Response")
			i++
		case p == "properties" && i+1 < len(path):
			words = append(words, path[i+1])
			i++
		case (p == "anyOf" || p == "oneOf" || p == "allOf") && i+1 < len(path):
			words = append(words, path[i+1])
			i++
		case p == "items":
			words = append(words, "Item")
		case p == "additionalProperties":
			words = append(words, "Value")
		}
	}
	return codegen.SchemaNameToTypeName(strings.Join(words, "_"))
}

// freshTypeName returns name, or name with a number, so that it is not the
// Go name of a component or of a type named earlier in this generation.
func (r *repairer) freshTypeName(t tree, name string) string {
	r.initTypeNames(t)
	out := name
	for i := 2; r.typeNames[out]; i++ {
		out = name + strconv.Itoa(i)
	}
	r.typeNames[out] = true
	return out
}

// initTypeNames starts the Go type names taken with the components'.
func (r *repairer) initTypeNames(t tree) {
	if r.typeNames != nil {
		return
	}
	r.typeNames = map[string]bool{}
	for _, s := range []string{"schemas", "parameters", "requestBodies", "responses", "headers"} {
		for n := range at(t, "components", s) {
			r.typeNames[codegen.SchemaNameToTypeName(n)] = true
		}
	}
}

// enumConstantNames renames the component schemas whose Go type name is the
// name of an enum constant: oapi-codegen writes the constants of enum type
// SourceType as SourceType<Value>, so a schema source_type_card (Go type
// SourceTypeCard) and the value "card" of an enum typed SourceType declare
// one name twice, and the code does not compile. The schema's Go type gets
// the suffix Schema; its references follow. On the way, an inline enum
// whose Go type name (from its place: Connection.health → ConnectionHealth)
// is a component schema's gets a name of its own, which oapi-codegen would
// otherwise refuse as a duplicate type.
func (r *repairer) enumConstantNames(t tree) {
	schemas := at(t, "components", "schemas")
	if len(schemas) == 0 {
		return
	}
	r.initTypeNames(t)
	byGoName := map[string]string{}
	for n := range schemas {
		byGoName[codegen.SchemaNameToTypeName(n)] = n
	}
	type constant struct {
		enum  []string // the path, in schemas, of the enum's schema
		value any
	}
	consts := map[string]constant{}
	var visit func(path, at []string, s tree, depth int)
	visit = func(path, at []string, s tree, depth int) {
		if s == nil || depth > 8 || s["$ref"] != nil {
			return
		}
		if values, ok := s["enum"].([]any); ok && s["x-go-type"] == nil && s["type"] != "array" {
			typeName := codegen.SchemaNameToTypeName(codegen.PathToTypeName(slices.Clone(path)))
			if n, ok := s["x-go-type-name"].(string); ok && len(path) > 1 {
				typeName = n
			} else if other, taken := byGoName[typeName]; taken && len(path) > 1 {
				// An inline enum named like a component schema
				// (Connection.health and ConnectionHealth): oapi-codegen
				// refuses the duplicate type name.
				name := typeName + "Value"
				for i := 2; byGoName[name] != "" || r.typeNames[name]; i++ {
					name = typeName + "Value" + strconv.Itoa(i)
				}
				r.typeNames[name] = true
				s["x-go-type-name"] = name
				r.add(false, at, "enum %s: Go type named %s, because schema %s has the Go name %s", strings.Join(path, "."), name, other, typeName)
				typeName = name
			}
			// Constants are named after x-enum-varnames (or x-enumNames)
			// where given, and after the values otherwise.
			var names []any
			for _, k := range []string{"x-enum-varnames", "x-enumNames"} {
				if l, ok := s[k].([]any); ok {
					names = l
					break
				}
			}
			for i, v := range values {
				if v == nil {
					continue
				}
				sv := fmt.Sprint(v)
				if i < len(names) {
					if n, ok := names[i].(string); ok {
						sv = n
					}
				}
				word := "Empty"
				if sv != "" {
					word = codegen.UppercaseFirstCharacter(codegen.SanitizeGoIdentity(codegen.SchemaNameToTypeName(sv)))
				}
				if _, seen := consts[typeName+word]; !seen {
					consts[typeName+word] = constant{path, v}
				}
			}
		}
		if items, ok := s["items"].(tree); ok && s["type"] == "array" {
			visit(path, append(slices.Clone(at), "items"), items, depth+1)
		}
		props, _ := s["properties"].(tree)
		for _, name := range sortedKeys(props) {
			p, _ := props[name].(tree)
			visit(append(slices.Clone(path), name), append(slices.Clone(at), "properties", name), p, depth+1)
		}
	}
	for _, n := range sortedKeys(schemas) {
		s, _ := schemas[n].(tree)
		visit([]string{n}, []string{"components", "schemas", n}, s, 0)
	}
	renames := map[string]string{}
	for _, goName := range sortedKeys(consts) {
		n, ok := byGoName[goName]
		if !ok {
			continue
		}
		if s, _ := schemas[n].(tree); s != nil && s["x-go-name"] != nil {
			continue
		}
		c := consts[goName]
		name := n + "Schema"
		for i := 2; byGoName[codegen.SchemaNameToTypeName(name)] != ""; i++ {
			name = fmt.Sprintf("%sSchema%d", n, i)
		}
		byGoName[codegen.SchemaNameToTypeName(name)] = name
		schemas[name] = schemas[n]
		delete(schemas, n)
		renames["#/components/schemas/"+escapePointer(n)] = "#/components/schemas/" + escapePointer(name)
		r.add(false, []string{"components", "schemas", n}, "schema %s: Go type named %s, because %s is the name oapi-codegen gives the constant for value %q of the enum at %s",
			n, codegen.SchemaNameToTypeName(name), goName, fmt.Sprint(c.value), strings.Join(c.enum, "."))
	}
	if len(renames) > 0 {
		rewriteRefsMap(t, renames)
	}
}

// rewriteRefsMap replaces each reference that is a key of renames by its
// value, everywhere in v, in one walk.
func rewriteRefsMap(v any, renames map[string]string) {
	switch v := v.(type) {
	case tree:
		if ref, ok := v["$ref"].(string); ok {
			if to, ok := renames[ref]; ok {
				v["$ref"] = to
			}
		}
		for _, e := range v {
			rewriteRefsMap(e, renames)
		}
	case []any:
		for _, e := range v {
			rewriteRefsMap(e, renames)
		}
	}
}

// responseNames renames the response components whose Go name is another
// component's: a schema's (a response and a schema both named
// BadRequestResponse), a parameter's, a request body's or a header's.
// oapi-codegen then renames one of the types, and its strict server refers
// to response types under the name it did not keep, which do not compile.
// The response gets the suffix Response; its references follow.
func (r *repairer) responseNames(t tree) {
	responses := at(t, "components", "responses")
	if len(responses) == 0 {
		return
	}
	type component struct{ kind, name string }
	others := map[string]component{} // Go name → the first other component of that name
	taken := map[string]bool{}
	for _, sec := range []struct{ section, kind string }{
		{"schemas", "schema"}, {"parameters", "parameter"}, {"requestBodies", "request body"}, {"headers", "header"}, {"responses", ""},
	} {
		for _, n := range sortedKeys(at(t, "components", sec.section)) {
			goName := codegen.SchemaNameToTypeName(n)
			taken[goName] = true
			if _, ok := others[goName]; !ok && sec.kind != "" {
				others[goName] = component{sec.kind, n}
			}
		}
	}
	renames := map[string]string{}
	for _, n := range sortedKeys(responses) {
		goName := codegen.SchemaNameToTypeName(n)
		other, ok := others[goName]
		if !ok {
			continue
		}
		if m, _ := responses[n].(tree); m != nil && m["x-go-name"] != nil {
			continue
		}
		name := n + "Response"
		for i := 2; taken[codegen.SchemaNameToTypeName(name)]; i++ {
			name = fmt.Sprintf("%sResponse%d", n, i)
		}
		taken[codegen.SchemaNameToTypeName(name)] = true
		responses[name] = responses[n]
		delete(responses, n)
		renames["#/components/responses/"+escapePointer(n)] = "#/components/responses/" + escapePointer(name)
		r.add(false, []string{"components", "responses", n}, "response %s: Go type named %s, because %s %s has the Go name %s too", n, codegen.SchemaNameToTypeName(name), other.kind, other.name, goName)
	}
	if len(renames) > 0 {
		rewriteRefsMap(t, renames)
	}
}

// untypedResponses types as raw JSON the JSON response bodies whose schema
// says nothing of the value (Cloudflare's {example: {...}} alone): oapi-codegen
// declares such a response as an interface type, on which the strict
// server's methods cannot be declared, and the operation lost its types.
// Raw JSON is what the schema allows: any value.
func (r *repairer) untypedResponses(t tree) {
	walk(t, func(path []string, m tree) {
		n := len(path)
		if n < 2 || path[n-2] != "responses" || (n == 3 && path[0] != "components") {
			return
		}
		name := "response " + path[n-1]
		if path[0] == "paths" && n == 5 {
			name = fmt.Sprintf("%s %s response %s", strings.ToUpper(path[2]), path[1], path[4])
		}
		content, _ := m["content"].(tree)
		for _, mt := range sortedKeys(content) {
			c, _ := content[mt].(tree)
			if c == nil || !strings.Contains(mt, "json") || !anySchema(resolve(t, c["schema"])) {
				continue
			}
			c["schema"] = tree{"x-go-type": rawType}
			r.add(false, append(slices.Clone(path), "content", mt, "schema"), "%s: its %s body typed as %s (any JSON, as its schema allows), because oapi-codegen declares a schema without a type as an interface, on which the strict server's response methods cannot be declared",
				name, mt, rawType)
		}
	})
}

// anySchema reports whether schema s allows any value: it declares no type
// and nothing that would give it one.
func anySchema(s tree) bool {
	if s == nil {
		return false
	}
	for _, k := range []string{"type", "properties", "additionalProperties", "items", "allOf", "oneOf", "anyOf", "not", "enum", "const", "x-go-type", "$ref"} {
		if _, ok := s[k]; ok {
			return false
		}
	}
	return true
}

// responseBodies moves the inline JSON schema of a response component into
// a schema of its own when Go types are declared inside it (an inline enum
// or union): oapi-codegen refers to those types under the response's name
// (XJSONResponseBodyStatus) but never declares them, so the code does not
// compile. As a schema, the body and the types inside it are named
// consistently.
func (r *repairer) responseBodies(t tree) {
	responses := at(t, "components", "responses")
	if len(responses) == 0 {
		return
	}
	var schemas tree
	taken := map[string]bool{}
	for n := range at(t, "components", "schemas") {
		taken[codegen.SchemaNameToTypeName(n)] = true
	}
	for _, n := range sortedKeys(responses) {
		content := at(responses, n, "content")
		for _, mt := range sortedKeys(content) {
			s := at(content, mt, "schema")
			if s == nil || s["$ref"] != nil || !strings.Contains(mt, "json") {
				continue
			}
			if declaresTypes(s, 0) {
				if schemas == nil {
					schemas = at(t, "components", "schemas")
					if schemas == nil {
						schemas = tree{}
						at(t, "components")["schemas"] = schemas
					}
				}
				name := n + "Body"
				for i := 2; taken[codegen.SchemaNameToTypeName(name)]; i++ {
					name = fmt.Sprintf("%sBody%d", n, i)
				}
				taken[codegen.SchemaNameToTypeName(name)] = true
				schemas[name] = s
				content[mt].(tree)["schema"] = tree{"$ref": "#/components/schemas/" + escapePointer(name)}
				r.add(false, []string{"components", "responses", n}, "response %s: its inline schema typed as %s, because oapi-codegen does not declare the Go types of the enums or unions inside an inline response schema", n, codegen.SchemaNameToTypeName(name))
			}
			break // as oapi-codegen, the first JSON media type
		}
	}
}

// declaresTypes reports whether an inline schema holds, below its top, an
// inline enum or union, for which oapi-codegen declares a Go type.
func declaresTypes(s tree, depth int) bool {
	if s == nil || s["$ref"] != nil || depth > 8 {
		return false
	}
	if depth > 0 && s["x-go-type"] == nil {
		if _, ok := s["enum"].([]any); ok {
			return true
		}
		for _, k := range []string{"oneOf", "anyOf"} {
			if _, ok := s[k].([]any); ok {
				return true
			}
		}
	}
	for _, p := range at(s, "properties") {
		if m, ok := p.(tree); ok && declaresTypes(m, depth+1) {
			return true
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		l, _ := s[k].([]any)
		for _, e := range l {
			if m, ok := e.(tree); ok && declaresTypes(m, depth+1) {
				return true
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if m, ok := s[k].(tree); ok && declaresTypes(m, depth+1) {
			return true
		}
	}
	return false
}
