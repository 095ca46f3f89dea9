package generator

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
)

// target is a spec construct a Go declaration comes from.
type target struct {
	kind   string // schemas, responses, requestBodies, parameters, or operation
	name   string // the component's name, or "METHOD path"
	goName string
	path   []string
}

// targets lists the constructs Go names are derived from: operations by
// their Go names (from oapi-codegen), then components.
func targets(t tree, opNames map[string]string) []target {
	var out []target
	for _, k := range sortedKeys(opNames) {
		method, path, _ := strings.Cut(k, " ")
		out = append(out, target{"operation", k, opNames[k], []string{"paths", path, strings.ToLower(method)}})
	}
	for _, section := range []string{"schemas", "parameters", "requestBodies", "responses"} {
		for _, n := range sortedKeys(at(t, "components", section)) {
			out = append(out, target{section, n, codegen.SchemaNameToTypeName(n), []string{"components", section, n}})
		}
	}
	return out
}

// subjectRE finds the identifier a fault is about when it is not the
// declaration the fault is in: an undefined name, or a constant used as a
// type (an enum constant named like a type).
var subjectRE = regexp.MustCompile(`^(?:undefined: (\w+)|(\w+) \([a-z ]+\) is not a type)`)

// match returns the construct whose Go name is the longest prefix of the
// identifier a fault is about: the undefined name or the constant used as a
// type, else the declaration the fault is in, else any identifier in its
// message; at equal length, the
// later kind (responses over schemas) wins, as their Go names extend schema
// names.
func match(cands []target, f fault) *target {
	if m := subjectRE.FindStringSubmatch(f.Msg); m != nil {
		if c := longestPrefix(cands, []string{m[1] + m[2]}); c != nil {
			return c
		}
	}
	if c := longestPrefix(cands, []string{f.Decl}); c != nil {
		return c
	}
	return longestPrefix(cands, goIdentRE.FindAllString(f.Msg, -1))
}

// longestPrefix returns the construct whose Go name is the longest prefix
// of one of idents.
func longestPrefix(cands []target, idents []string) *target {
	var best *target
	for _, ident := range idents {
		for i := range cands {
			c := &cands[i]
			if c.goName != "" && strings.HasPrefix(ident, c.goName) && (best == nil || len(c.goName) >= len(best.goName)) {
				best = c
			}
		}
	}
	return best
}

// collision reports whether a type checker's message is about two
// declarations of one name: a type redeclared, or an enum constant named
// like a type (a constant StatusActive for value "active" of Status, and a
// type StatusActive), which a new Go name repairs.
func collision(msg string) bool {
	return strings.Contains(msg, "redeclared") || strings.Contains(msg, "is not a type") || strings.Contains(msg, "duplicate typename")
}

// react repairs or degrades the construct behind each fault, at most once
// per construct and pass, and reports whether it changed anything.
func (r *repairer) react(t tree, faults []fault, cands []target) bool {
	acted := false
	seen := map[string]bool{}
	for _, f := range faults {
		c := match(cands, f)
		if c == nil {
			continue
		}
		key := c.kind + "\x00" + c.name
		if seen[key] {
			continue
		}
		seen[key] = true
		if c.kind == "operation" && collision(f.Msg) && r.paramTypes(t, *c) {
			acted = true
			continue
		}
		if r.act(t, *c, f.Msg) {
			acted = true
		}
	}
	if acted {
		r.rawParams(t)
	}
	return acted
}

// rawParams types as strings the parameters whose schema is now raw JSON
// (a schema degraded, and a parameter that refers to it): oapi-codegen's
// parameter binding cannot fill a json.RawMessage, so every request with
// the parameter would be refused ("invalid format for parameter").
func (r *repairer) rawParams(t tree) {
	walk(t, func(path []string, m tree) {
		if len(path) < 2 || !isParamList(path) {
			return
		}
		key := "rawparam\x00" + strings.Join(path, "\x00")
		if r.acted[key] > 0 || m["content"] != nil {
			return
		}
		s := resolve(t, m["schema"])
		if s == nil || s["x-go-type"] != rawType {
			return
		}
		r.acted[key]++
		r.stringParam(t, slices.Clone(path), "its schema is typed as "+rawType+", which oapi-codegen cannot bind a parameter into")
	})
}

// stringParam types the parameter at path as the string the request
// carries, on this copy and the next ones, with a warning saying why.
func (r *repairer) stringParam(t tree, path []string, why string) {
	r.edit(t, func(t tree) {
		if p := pointer(t, path); p != nil {
			p["schema"] = tree{"type": "string"}
		}
	})
	name, _ := pointer(t, path)["name"].(string)
	r.add(true, append(slices.Clone(path), "schema"), "parameter %q: typed as string in Go (the text the request carries), because %s; requests are still validated against its schema", name, why)
}

// act applies the next remedy for c: first a repair where one exists, then
// the loss of typing, then nothing (the fault is refused).
func (r *repairer) act(t tree, c target, why string) bool {
	key := c.kind + "\x00" + c.name
	n := r.acted[key]
	r.acted[key] = n + 1
	renamable := collision(why)
	if m := subjectRE.FindStringSubmatch(why); m != nil && strings.Contains(why, "(constant)") {
		why = "an enum constant of another type is also named " + m[2]
	} else if m := duplicateTypeRE.FindStringSubmatch(why); m != nil {
		why = "oapi-codegen gives another type the Go name " + m[1] + " too"
	} else {
		why = "oapi-codegen's Go for it does not compile (" + why + ")"
	}
	switch c.kind {
	case "schemas":
		if n == 0 && renamable {
			return r.rename(t, c, "Schema", why)
		}
		if n <= 1 {
			r.edit(t, func(t tree) {
				if s := at(t, c.path...); s != nil {
					s["x-go-type"] = rawType
				}
			})
			r.add(true, c.path, "schema %s: typed as %s, because %s; requests are still validated against the schema", c.name, rawType, why)
			return true
		}
	case "responses":
		switch n {
		case 0:
			if r.hoist(t, c, why) {
				return true
			}
			return r.rename(t, c, "Response", why)
		case 1:
			r.edit(t, func(t tree) { rawContent(t, at(t, c.path...)) })
			r.add(true, c.path, "response %s: its JSON body typed as %s, because %s", c.name, rawType, why)
			return true
		}
	case "parameters":
		// A parameter component's enum is a Go type named after the
		// component; its constants may collide with another's type.
		if n == 0 && renamable {
			return r.rename(t, c, "Param", why)
		}
		if n <= 1 && plainParam(t, at(t, c.path...)) {
			r.edit(t, func(t tree) {
				if p := at(t, c.path...); p != nil {
					p["schema"] = tree{"type": "string"}
				}
			})
			r.add(true, c.path, "parameter %s: typed as string in Go (the text the request carries), because %s; requests are still validated against its schema", c.name, why)
			return true
		}
	case "requestBodies":
		if n == 0 {
			r.edit(t, func(t tree) { rawContent(t, at(t, c.path...)) })
			r.add(true, c.path, "request body %s: typed as %s, because %s; requests are still validated against its schema", c.name, rawType, why)
			return true
		}
	case "operation":
		if n == 0 {
			r.edit(t, func(t tree) { r.rawOperation(t, c.path) })
			r.add(true, c.path, "operation %s: its JSON request and response bodies typed as %s (multipart bodies too, and form bodies as their top-level fields, each a plain value), because %s; security, routing and validation are unchanged", c.name, rawType, why)
			return true
		}
	}
	return false
}

// paramTypes gives the inline parameters of operation c whose Go types
// oapi-codegen names alike (GetTopParamsHttpProtocol for both http_protocol
// and httpProtocol), all but the first of each name, Go type names of their
// own, and reports whether it found any.
func (r *repairer) paramTypes(t tree, c target) bool {
	key := "paramtypes\x00" + c.name
	if c.goName == "" || r.acted[key] > 0 {
		return false
	}
	r.acted[key]++
	first := map[string]string{} // Go name → the first parameter's name
	taken := map[string]bool{}
	for _, n := range sortedKeys(at(t, "components", "schemas")) {
		taken[codegen.SchemaNameToTypeName(n)] = true
	}
	found := false
	for _, listPath := range [][]string{append(slices.Clone(c.path[:2]), "parameters"), append(slices.Clone(c.path), "parameters")} {
		list, _ := at(t, listPath[:len(listPath)-1]...)["parameters"].([]any)
		for i, v := range list {
			p, _ := v.(tree)
			name, _ := p["name"].(string)
			if p == nil || p["$ref"] != nil {
				continue
			}
			goName := codegen.SchemaNameToTypeName(name)
			other, dup := first[goName]
			if !dup {
				first[goName] = name
				continue
			}
			typeName := c.goName + "Params" + goName
			newName := typeName + "2"
			for j := 3; taken[newName]; j++ {
				newName = fmt.Sprintf("%s%d", typeName, j)
			}
			taken[newName] = true
			path := append(slices.Clone(listPath), strconv.Itoa(i))
			r.edit(t, func(t tree) {
				s := pointer(t, append(slices.Clone(path), "schema"))
				if s == nil || s["$ref"] != nil {
					return
				}
				if items := at(s, "items"); s["type"] == "array" && items != nil {
					if items["$ref"] != nil {
						return
					}
					s = items
				}
				s["x-go-type-name"] = newName
			})
			r.add(false, path, "parameter %q: Go type named %s, because oapi-codegen names the types of parameters %q and %q alike", name, newName, other, name)
			found = true
		}
	}
	return found
}

// plainParam reports whether parameter p arrives as one plain value (not
// a list or an object), which its handler can take as the string sent: a
// union of scalars, say, whose Go type oapi-codegen cannot write for a
// parameter component.
func plainParam(t, p tree) bool {
	if p == nil || p["content"] != nil {
		return false
	}
	var plain func(v any, depth int) bool
	plain = func(v any, depth int) bool {
		s := resolve(t, v)
		if s == nil || depth > 8 {
			return false
		}
		switch typ, _ := s["type"].(string); typ {
		case "array", "object":
			return false
		}
		if s["properties"] != nil || s["items"] != nil {
			return false
		}
		for _, k := range []string{"oneOf", "anyOf", "allOf"} {
			list, _ := s[k].([]any)
			for _, m := range list {
				if !plain(m, depth+1) {
					return false
				}
			}
		}
		return true
	}
	return plain(p["schema"], 0)
}

// edit applies e to the current copy and records it for the next ones.
func (r *repairer) edit(t tree, e func(tree)) {
	e(t)
	r.edits = append(r.edits, e)
}

// rename gives component c a new name (and so a new Go name) and updates
// every reference to it.
func (r *repairer) rename(t tree, c target, suffix, why string) bool {
	section := at(t, "components", c.path[1])
	if section == nil {
		return false
	}
	taken := map[string]bool{}
	for _, s := range []string{"schemas", "parameters", "requestBodies", "responses", "headers"} {
		for n := range at(t, "components", s) {
			taken[codegen.SchemaNameToTypeName(n)] = true
		}
	}
	name := c.name + suffix
	for i := 2; taken[codegen.SchemaNameToTypeName(name)]; i++ {
		name = fmt.Sprintf("%s%s%d", c.name, suffix, i)
	}
	from := "#/components/" + c.path[1] + "/" + escapePointer(c.name)
	to := "#/components/" + c.path[1] + "/" + escapePointer(name)
	r.edit(t, func(t tree) {
		section := at(t, "components", c.path[1])
		if section == nil || section[c.name] == nil {
			return
		}
		section[name] = section[c.name]
		delete(section, c.name)
		rewriteRefs(t, from, to)
	})
	r.add(false, c.path, "%s %s: Go type named %s, because %s", strings.TrimSuffix(c.path[1], "s"), c.name, codegen.SchemaNameToTypeName(name), why)
	return true
}

// hoist moves the inline schemas of a shared response into schemas of
// their own, whose Go types oapi-codegen names consistently.
func (r *repairer) hoist(t tree, c target, why string) bool {
	content := at(t, append(slices.Clone(c.path), "content")...)
	found := false
	for _, mt := range sortedKeys(content) {
		if s := at(content, mt, "schema"); s != nil && s["$ref"] == nil && strings.Contains(mt, "json") {
			found = true
		}
	}
	if !found {
		return false
	}
	schemas := at(t, "components", "schemas")
	taken := map[string]bool{}
	for n := range schemas {
		taken[codegen.SchemaNameToTypeName(n)] = true
	}
	name := c.name + "Body"
	for i := 2; taken[codegen.SchemaNameToTypeName(name)]; i++ {
		name = fmt.Sprintf("%sBody%d", c.name, i)
	}
	r.edit(t, func(t tree) {
		content := at(t, append(slices.Clone(c.path), "content")...)
		schemas := at(t, "components", "schemas")
		if schemas == nil {
			if at(t, "components") == nil {
				t["components"] = tree{}
			}
			schemas = tree{}
			at(t, "components")["schemas"] = schemas
		}
		for _, mt := range sortedKeys(content) {
			if s := at(content, mt, "schema"); s != nil && s["$ref"] == nil && strings.Contains(mt, "json") {
				schemas[name] = s
				content[mt].(tree)["schema"] = tree{"$ref": "#/components/schemas/" + escapePointer(name)}
				return
			}
		}
	})
	r.add(false, c.path, "response %s: its inline schema typed as %s, because %s", c.name, codegen.SchemaNameToTypeName(name), why)
	return true
}

// rawContent types the JSON and multipart media types of a request body or
// response as raw JSON (oapi-codegen's strict server hands multipart bodies
// to the handler as a reader anyway), and a form body as its top-level
// fields (see formFields).
func rawContent(t, m tree) {
	content, _ := m["content"].(tree)
	for mt, v := range content {
		form := mt == "application/x-www-form-urlencoded"
		if !strings.Contains(mt, "json") && !strings.HasPrefix(mt, "multipart/") && !form {
			continue
		}
		mm, ok := v.(tree)
		if !ok && v == nil { // a media type with no value: nothing declared
			mm, ok = tree{}, true
			content[mt] = mm
		}
		if !ok {
			continue
		}
		if form {
			mm["schema"] = formFields(t, mm["schema"])
			continue
		}
		mm["schema"] = tree{"x-go-type": rawType}
	}
}

// formFields is the degraded form of a form body's schema: the strict
// server binds a form into a struct, so it stays one, with each top-level
// field typed as the plain value (or list of plain values) it declares, and
// as a string when it declares anything else; a form field nested deeper
// (a[b]=c) is not bound.
func formFields(t tree, v any) tree {
	s := resolve(t, v)
	props := tree{}
	for name, p := range at(s, "properties") {
		props[name] = plainField(t, p)
	}
	return tree{"type": "object", "properties": props}
}

// plainField types one form field for formFields.
func plainField(t tree, v any) tree {
	s := resolve(t, v)
	if s == nil {
		return tree{"type": "string"}
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf", "not", "enum"} {
		if _, ok := s[k]; ok {
			return tree{"type": "string"}
		}
	}
	switch typ, _ := s["type"].(string); typ {
	case "string", "integer", "number", "boolean":
		out := tree{"type": typ}
		if f, ok := s["format"].(string); ok && typ != "string" {
			out["format"] = f
		}
		return out
	case "array":
		if items := plainField(t, s["items"]); items["type"] != "array" {
			return tree{"type": "array", "items": items}
		}
	}
	return tree{"type": "string"}
}

// resolve follows local references from v to the schema they name.
func resolve(t tree, v any) tree {
	m, _ := v.(tree)
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			break
		}
		m = at(t, splitRef(ref)...)
	}
	return m
}

// rawOperation types an operation's bodies as raw JSON (see rawContent), on copies of
// the shared request bodies and responses it uses.
func (r *repairer) rawOperation(t tree, path []string) {
	op := at(t, path...)
	if op == nil {
		return
	}
	if rb, ok := op["requestBody"].(tree); ok {
		rb = deref(t, rb)
		rawContent(t, rb)
		op["requestBody"] = rb
	}
	if rs, ok := op["responses"].(tree); ok {
		for code, v := range rs {
			if resp, ok := v.(tree); ok {
				resp = deref(t, resp)
				rawContent(t, resp)
				rs[code] = resp
			}
		}
	}
}

// deref returns a copy of what m refers to (m itself when it is not a
// reference), so it can be changed for one use only.
func deref(t tree, m tree) tree {
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			break
		}
		target := at(t, splitRef(ref)...)
		if target == nil {
			break
		}
		m = target
	}
	return deepCopy(m).(tree)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case tree:
		out := make(tree, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func splitRef(ref string) []string {
	parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// rewriteRefs replaces the reference from by to everywhere in v.
func rewriteRefs(v any, from, to string) {
	switch v := v.(type) {
	case tree:
		if ref, ok := v["$ref"].(string); ok && ref == from {
			v["$ref"] = to
		}
		for _, e := range v {
			rewriteRefs(e, from, to)
		}
	case []any:
		for _, e := range v {
			rewriteRefs(e, from, to)
		}
	}
}

// codegenTarget names the construct an oapi-codegen refusal is about.
func codegenTarget(t tree, msg string, opNames map[string]string) []target {
	if m := codegenTypeRE.FindStringSubmatch(msg); m != nil {
		if at(t, "components", "schemas", m[1]) != nil {
			return []target{{"schemas", m[1], m[1], []string{"components", "schemas", m[1]}}}
		}
		for _, section := range []string{"schemas", "parameters"} {
			for _, n := range sortedKeys(at(t, "components", section)) {
				if codegen.SchemaNameToTypeName(n) == m[1] {
					return []target{{section, n, m[1], []string{"components", section, n}}}
				}
			}
		}
	}
	if m := codegenPathRE.FindStringSubmatch(msg); m != nil {
		var out []target
		for _, method := range sortedKeys(at(t, "paths", m[1])) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				out = append(out, target{"operation", strings.ToUpper(method) + " " + m[1], "", []string{"paths", m[1], method}})
			}
		}
		return out
	}
	return nil
}

// dedupeFields removes struct fields declared twice with the same type
// (two media types oapi-codegen both reads into Body io.Reader), which
// the handler receives the same either way. It returns the new code and the
// struct types it changed.
func dedupeFields(c *checked) ([]byte, []string) {
	structs := map[string]bool{}
	for _, f := range c.faults {
		if strings.HasSuffix(f.Msg, " redeclared") && f.Decl != "" && f.Decl == f.Other {
			structs[f.Decl] = true
		}
	}
	if len(structs) == 0 {
		return c.code, nil
	}
	code, fset, file := c.code, c.fset, c.file
	type span struct{ from, to int }
	var cut []span
	var changed []string
	ast.Inspect(file, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || !structs[ts.Name.Name] {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		typeOf := map[string]string{}
		for _, fld := range st.Fields.List {
			if len(fld.Names) != 1 {
				continue
			}
			typ := string(code[fset.Position(fld.Type.Pos()).Offset:fset.Position(fld.Type.End()).Offset])
			name := fld.Names[0].Name
			if prev, dup := typeOf[name]; dup {
				if prev == typ {
					start := fset.Position(fld.Pos()).Offset
					end := fset.Position(fld.End()).Offset
					for start > 0 && code[start-1] != '\n' {
						start--
					}
					if end < len(code) && code[end] == '\n' {
						end++
					}
					cut = append(cut, span{start, end})
					if !slices.Contains(changed, ts.Name.Name) {
						changed = append(changed, ts.Name.Name)
					}
				}
				continue
			}
			typeOf[name] = typ
		}
		return false
	})
	sort.Slice(cut, func(i, j int) bool { return cut[i].from > cut[j].from })
	for _, s := range cut {
		code = append(code[:s.from:s.from], code[s.to:]...)
	}
	return code, changed
}

// rawMarshalers gives every defined type whose underlying type is
// json.RawMessage (a degraded response, say) a MarshalJSON that writes the
// raw JSON as is: encoding/json would otherwise write its bytes as base64.
func rawMarshalers(code []byte) []byte {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "api_gen.go", code, parser.SkipObjectResolution)
	if err != nil {
		return code
	}
	return appendMarshalers(code, rawTypes(file))
}

// rawTypes returns the defined types of file whose underlying type is
// json.RawMessage and that have no MarshalJSON method.
func rawTypes(file *ast.File) []string {
	raw := map[string]bool{}
	isRaw := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && x.Name == "json" && e.Sel.Name == "RawMessage"
		case *ast.Ident:
			return raw[e.Name]
		}
		return false
	}
	var defined []string
	hasMarshal := map[string]bool{}
	for _, d := range file.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "MarshalJSON" && fd.Recv != nil && len(fd.Recv.List) == 1 {
			if id, ok := fd.Recv.List[0].Type.(*ast.Ident); ok {
				hasMarshal[id.Name] = true
			}
		}
	}
	var types []*ast.TypeSpec
	for _, d := range file.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
			for _, s := range gd.Specs {
				types = append(types, s.(*ast.TypeSpec))
			}
		}
	}
	// Aliases come first in oapi-codegen's output, but do two rounds so the
	// order does not matter.
	for range 2 {
		for _, ts := range types {
			if ts.Assign.IsValid() && isRaw(ts.Type) {
				raw[ts.Name.Name] = true
			}
		}
	}
	for _, ts := range types {
		if !ts.Assign.IsValid() && isRaw(ts.Type) && !hasMarshal[ts.Name.Name] {
			defined = append(defined, ts.Name.Name)
		}
	}
	return defined
}

// appendMarshalers appends to code, in gofmt's form, a MarshalJSON method
// for each of the raw types named.
func appendMarshalers(code []byte, names []string) []byte {
	if len(names) == 0 {
		return code
	}
	var b bytes.Buffer
	b.Write(code)
	for _, n := range names {
		fmt.Fprintf(&b, "\n// MarshalJSON writes the raw JSON as it is.\nfunc (r %s) MarshalJSON() ([]byte, error) {\n\treturn json.RawMessage(r).MarshalJSON()\n}\n", n)
	}
	return b.Bytes()
}

// failing is a schema oapi-codegen cannot generate, and why.
type failing struct {
	path []string
	err  error
}

// failingSchemas finds, after oapi-codegen refused the document without
// naming the construct (an allOf it cannot merge, say), the innermost
// composite schemas (allOf, oneOf, anyOf) it cannot generate on their own,
// by their paths in the document, with oapi-codegen's reason for each. It
// must run under codegenMu, right after the refusal, with oapi-codegen's
// options still in place.
func failingSchemas(t *openapi3.T) []failing {
	var out []failing
	var visit func(path []string, ref *openapi3.SchemaRef, depth int) bool
	// visit reports whether a failing schema was found at or under path.
	visit = func(path []string, ref *openapi3.SchemaRef, depth int) bool {
		if ref == nil || ref.Ref != "" || ref.Value == nil || depth > 32 {
			return false
		}
		s := ref.Value
		found := false
		child := func(r *openapi3.SchemaRef, elems ...string) {
			if visit(append(slices.Clone(path), elems...), r, depth+1) {
				found = true
			}
		}
		for _, name := range sortedKeys(s.Properties) {
			child(s.Properties[name], "properties", name)
		}
		child(s.Items, "items")
		child(s.AdditionalProperties.Schema, "additionalProperties")
		child(s.Not, "not")
		for k, list := range map[string]openapi3.SchemaRefs{"allOf": s.AllOf, "oneOf": s.OneOf, "anyOf": s.AnyOf} {
			for i, r := range list {
				child(r, k, strconv.Itoa(i))
			}
		}
		if found || len(s.AllOf)+len(s.OneOf)+len(s.AnyOf) == 0 {
			return found
		}
		if _, err := codegen.GenerateGoSchema(ref, []string{"Probe"}); err != nil {
			out = append(out, failing{path, err})
			return true
		}
		return false
	}
	content := func(path []string, c openapi3.Content) {
		for _, mt := range sortedKeys(c) {
			if c[mt] != nil {
				visit(append(slices.Clone(path), "content", mt, "schema"), c[mt].Schema, 0)
			}
		}
	}
	params := func(path []string, list openapi3.Parameters) {
		for i, p := range list {
			if p != nil && p.Ref == "" && p.Value != nil {
				visit(append(slices.Clone(path), "parameters", strconv.Itoa(i), "schema"), p.Value.Schema, 0)
			}
		}
	}
	if c := t.Components; c != nil {
		for _, n := range sortedKeys(c.Schemas) {
			visit([]string{"components", "schemas", n}, c.Schemas[n], 0)
		}
		for _, n := range sortedKeys(c.Parameters) {
			if p := c.Parameters[n]; p != nil && p.Ref == "" && p.Value != nil {
				visit([]string{"components", "parameters", n, "schema"}, p.Value.Schema, 0)
			}
		}
		for _, n := range sortedKeys(c.RequestBodies) {
			if b := c.RequestBodies[n]; b != nil && b.Ref == "" && b.Value != nil {
				content([]string{"components", "requestBodies", n}, b.Value.Content)
			}
		}
		for _, n := range sortedKeys(c.Responses) {
			if r := c.Responses[n]; r != nil && r.Ref == "" && r.Value != nil {
				content([]string{"components", "responses", n}, r.Value.Content)
			}
		}
	}
	if t.Paths != nil {
		for _, p := range sortedKeys(t.Paths.Map()) {
			params([]string{"paths", p}, t.Paths.Value(p).Parameters)
			for _, m := range sortedKeys(t.Paths.Value(p).Operations()) {
				op := t.Paths.Value(p).Operations()[m]
				path := []string{"paths", p, strings.ToLower(m)}
				params(path, op.Parameters)
				if b := op.RequestBody; b != nil && b.Ref == "" && b.Value != nil {
					content(append(slices.Clone(path), "requestBody"), b.Value.Content)
				}
				if op.Responses != nil {
					for _, code := range sortedKeys(op.Responses.Map()) {
						if r := op.Responses.Value(code); r != nil && r.Ref == "" && r.Value != nil {
							content(append(slices.Clone(path), "responses", code), r.Value.Content)
						}
					}
				}
			}
		}
	}
	return out
}

// degradeFailing types as raw JSON each schema failingSchemas finds after
// oapi-codegen refused t (generated from tr), and reports whether there was
// any.
func (r *repairer) degradeFailing(tr tree, t *openapi3.T) bool {
	acted := false
	for _, f := range failingSchemas(t) {
		path := f.path
		// The innermost reason: "error merging schemas: ...: merging two
		// schemas with different ReadOnly".
		why := f.err.Error()
		if i := strings.LastIndex(why, ": "); i >= 0 {
			why = why[i+2:]
		}
		key := "schema\x00" + strings.Join(path, "\x00")
		if r.acted[key] > 0 || pointer(tr, path) == nil {
			continue
		}
		r.acted[key]++
		acted = true
		if param := path[:len(path)-1]; path[len(path)-1] == "schema" && isParamList(param) {
			// Raw JSON is not what a parameter binding can fill.
			r.stringParam(tr, param, "oapi-codegen cannot generate Go for its schema ("+firstLine(why)+")")
			continue
		}
		r.edit(tr, func(t tree) {
			if s := pointer(t, path); s != nil {
				s["x-go-type"] = rawType
			}
		})
		r.add(true, path, "schema %s: typed as %s, because oapi-codegen cannot generate Go for it (%s); requests are still validated against the schema", pointerString(path), rawType, firstLine(why))
	}
	if acted {
		r.rawParams(tr)
	}
	return acted
}

// pointerString writes path as a JSON pointer.
func pointerString(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = escapePointer(p)
	}
	return "#/" + strings.Join(parts, "/")
}
