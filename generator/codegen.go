package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// codegenMu serialises calls into oapi-codegen, which keeps its options and
// the spec in package-level state (oapi-codegen issue #1805): two
// generations at once in one process would corrupt each other.
var codegenMu sync.Mutex

// maxPasses bounds the generations that repair or degrade what the type
// check of oapi-codegen's output finds; each pass fixes every fault found.
const maxPasses = 4

// generateAPI runs oapi-codegen for the models, the strict server interface,
// the std net/http wrappers and the typed client, records each operation's
// Go name and client signature in api, and formats the result in process
// (see rawAPI).
func generateAPI(doc *spec.Doc, api *model.API, strict bool) ([]byte, []SpecChange, error) {
	c, changes, err := rawAPI(doc, api, strict)
	if err != nil {
		return nil, nil, err
	}
	out, err := formatAPI(c)
	if err != nil {
		return nil, nil, fmt.Errorf("internal error: oapi-codegen's output does not parse: %v; please report this with the spec", err)
	}
	return out, changes, nil
}

// codegenConfig is how gatehouse runs oapi-codegen: the models, the strict
// server interface, the std net/http wrappers and the typed client,
// unformatted.
func codegenConfig() codegen.Configuration {
	return codegen.Configuration{
		PackageName: "api",
		Generate: codegen.GenerateOptions{
			StdHTTPServer: true,
			Strict:        true,
			Models:        true,
			// The typed client (ClientWithResponses) the project's
			// testclient package drives the server with. It goes through
			// the same type check, repairs and degradations as the rest.
			Client: true,
		},
		OutputOptions: codegen.OutputOptions{
			ClientTypeName:            clientTypeNames[0],
			ResolveTypeNameCollisions: true,
			// oapi-codegen formats with goimports, which runs the go
			// command; formatGo does the same in process.
			SkipFmt: true,
		},
		// Enum constants named after their values collide with type names
		// in real specs ("Source (constant) is not a type"); prefixing them
		// with their type always is the one rule that never collides.
		Compatibility: codegen.CompatibilityOptions{AlwaysPrefixEnumValues: true},
	}
}

// rawAPI is generateAPI without formatting: oapi-codegen's output as its
// templates write it, parsed and type-checked.
// What oapi-codegen refuses, or turns into Go that does not compile, is
// repaired or degraded on the copy it is given (see repair.go), and listed
// in the changes returned; with strict, it is refused instead.
func rawAPI(doc *spec.Doc, api *model.API, strict bool) (*checked, []SpecChange, error) {
	base, err := doc.JSON()
	if err != nil {
		return nil, nil, fmt.Errorf("copy spec: %w", err)
	}
	r := &repairer{doc: doc, acted: map[string]int{}}

	cfg := codegenConfig()

	codegenMu.Lock()
	defer codegenMu.Unlock()
	// Retried without counting as a pass: an inline type named like a
	// component (Connection.health → type ConnectionHealth, and a
	// ConnectionHealth schema), and allOf merges the newer merge refuses and
	// the original one accepts.
	renames := map[string]string{} // path of an inline schema → Go type name
	var (
		t       *openapi3.T
		c       *checked
		retries int
	)
	for pass := 0; ; {
		tr, err := decodeTree(base)
		if err != nil {
			return nil, nil, err
		}
		if pass == 0 && retries == 0 {
			r.proactive(tr)
			if strict && len(r.changes) > 0 {
				return nil, nil, strictError(r.changes[0])
			}
		} else {
			quiet := *r
			quiet.changes = nil
			quiet.proactive(tr)
		}
		for _, e := range r.edits {
			e(tr)
		}
		if t, err = loadTree(tr); err != nil {
			return nil, nil, err
		}
		prepare(t, api)
		applyRenames(t, renames)
		out, err := codegen.Generate(t, cfg)
		if err != nil {
			if retries < 20 {
				if m := duplicateTypeRE.FindStringSubmatch(err.Error()); m != nil && renameInline(t, m[1], renames) {
					retries++
					continue
				}
			}
			// A refusal that names no construct, or an allOf it cannot
			// merge (which it names by the component that holds it): the
			// composite schemas it cannot generate alone are degraded,
			// before the older merge is tried for all of them.
			merge := strings.Contains(err.Error(), "merging schemas")
			if !strict && pass+1 < maxPasses && (merge || len(codegenTarget(tr, err.Error(), nil)) == 0) && r.degradeFailing(tr, t) {
				pass++
				continue
			}
			if !strict && retries < 20 && merge && !cfg.Compatibility.OldMergeSchemas {
				// It embeds the members of every allOf as structs: other
				// types than the newer merge's, so it is said.
				cfg.Compatibility.OldMergeSchemas = true
				retries++
				r.changes = append(r.changes, SpecChange{Pos: codegenPos(doc, err), Degraded: true,
					What: fmt.Sprintf("allOf schemas: every one generated with oapi-codegen's older merge (members embedded as structs), because the newer merge refuses this one (%s)", firstLine(strings.TrimPrefix(err.Error(), "error generating code: ")))})
				continue
			}
			if strict || pass+1 >= maxPasses {
				return nil, nil, codegenError(doc, err)
			}
			acted := false
			for _, c := range codegenTarget(tr, err.Error(), nil) {
				if r.act(tr, c, firstLine(strings.TrimPrefix(err.Error(), "error generating code: "))) {
					acted = true
				}
			}
			if !acted {
				return nil, nil, codegenError(doc, err)
			}
			pass++
			continue
		}
		if c, err = checkCode(clientOutput([]byte(out)), cfg.OutputOptions.ClientTypeName); err != nil {
			return nil, nil, err
		}
		if len(c.faults) == 0 {
			break
		}
		if next, ok := nextClientTypeName(c.faults, cfg.OutputOptions.ClientTypeName); ok && retries < 20 {
			cfg.OutputOptions.ClientTypeName = next
			retries++
			continue
		}
		names, err := opNames(t)
		if err != nil {
			return nil, nil, codegenError(doc, err)
		}
		if !strict {
			if code, changed := dedupeFields(c); len(changed) > 0 {
				for _, decl := range changed {
					// Each pass generates the type anew, and repairs it again.
					c := SpecChange{Pos: targetPos(doc, tr, fault{Decl: decl}, names), What: fmt.Sprintf("Go type %s: a field declared twice with the same type (two media types oapi-codegen reads the same way) declared once", decl)}
					if !slices.Contains(r.changes, c) {
						r.changes = append(r.changes, c)
					}
				}
				if c, err = checkCode(code, cfg.OutputOptions.ClientTypeName); err != nil {
					return nil, nil, err
				}
				if len(c.faults) == 0 {
					break
				}
			}
		}
		faults := c.faults
		first := faults[0].errAt(targetPos(doc, tr, faults[0], names))
		if strict || pass+1 >= maxPasses || !r.react(tr, faults, targets(tr, names)) {
			return nil, nil, first
		}
		pass++
	}
	defs, err := codegen.OperationDefinitions(t)
	if err != nil {
		return nil, nil, codegenError(doc, err)
	}
	byRoute := make(map[string]codegen.OperationDefinition, len(defs))
	for _, d := range defs {
		byRoute[strings.ToUpper(d.Method)+" "+d.Path] = d
	}
	for i := range api.Operations {
		op := &api.Operations[i]
		d, ok := byRoute[op.Method+" "+op.Path]
		if !ok {
			return nil, nil, fmt.Errorf("internal error: oapi-codegen produced no handler for %s %s", op.Method, op.Path)
		}
		op.GoName = d.OperationId
		op.Client = clientCall(d)
	}
	return c, r.changes, nil
}

// clientTypeNames are the names tried, in order, for the type of
// oapi-codegen's client. Nothing refers to it by name (the project uses
// ClientWithResponses), so when the spec declares a type of that name (a
// Client schema) the client type gives way rather than the spec's.
var clientTypeNames = []string{"Client", "HTTPClient", "RawClient", "GeneratedClient"}

// nextClientTypeName returns the name to give the client type when one of
// faults is a collision with its current name.
func nextClientTypeName(faults []fault, current string) (string, bool) {
	collides := slices.ContainsFunc(faults, func(f fault) bool {
		return strings.HasPrefix(f.Msg, current+" redeclared")
	})
	i := slices.Index(clientTypeNames, current)
	if !collides || i < 0 || i+1 >= len(clientTypeNames) {
		return "", false
	}
	return clientTypeNames[i+1], true
}

func init() {
	// The client writes each operation's path as the format of a
	// fmt.Sprintf, inside a Go string literal, and oapi-codegen writes it
	// as it is: a path holding %, " or \ would not compile, or be misread.
	codegen.TemplateFunctions["genParamFmtString"] = pathFormat
}

// pathFormat returns the fmt format of a path template, each {parameter}
// a %s, escaped for a Go string literal. The client passes each parameter
// once, in the order of first appearance, so a parameter the template
// names twice (/accounts/{id}/maps/{map}/accounts/{id}) is written with
// argument indexes: %[1]s, %[2]s, %[1]s.
func pathFormat(path string) string {
	escaped := strings.ReplaceAll(path, "%", "%%")
	names := codegen.OrderedParamsFromUri(escaped)
	format := codegen.ReplacePathParamsWithStr(escaped)
	if index := firstIndexes(names); index != nil {
		i := 0
		format = pathParamRE.ReplaceAllStringFunc(escaped, func(string) string {
			verb := fmt.Sprintf("%%[%d]s", index[names[i]])
			i++
			return verb
		})
	}
	q := strconv.Quote(format)
	return q[1 : len(q)-1]
}

// pathParamRE matches a parameter of a path template as oapi-codegen does.
var pathParamRE = regexp.MustCompile(`{[.;?]?([^{}*]+)\*?}`)

// firstIndexes returns, when a name repeats in names, the 1-based index of
// each name's first appearance among the distinct names; nil when none
// repeats.
func firstIndexes(names []string) map[string]int {
	index := map[string]int{}
	repeats := false
	for _, n := range names {
		if _, ok := index[n]; ok {
			repeats = true
			continue
		}
		index[n] = len(index) + 1
	}
	if !repeats {
		return nil
	}
	return index
}

// clientOutput adjusts the client in oapi-codegen's output: it decodes YAML
// responses with go.yaml.in/yaml/v4, which projects already require
// (through kin-openapi), instead of the v3 oapi-codegen imports, which they
// do not (the Unmarshal it calls is the same); and the indented first lines
// of its functions' doc comments are moved to column 0 (see
// dedentComments).
func clientOutput(code []byte) []byte {
	return dedentComments(bytes.Replace(code, []byte(`"go.yaml.in/yaml/v3"`), []byte(`"go.yaml.in/yaml/v4"`), 1))
}

// dedentComments moves to column 0 the indented first line of a comment
// whose next line is a comment at column 0, as oapi-codegen's client
// templates write the doc comments of functions. go/printer reformats a doc
// comment (turning a lone line into a "# heading", say) only when its lines
// line up, so without this one formatting pass would leave work for the
// next, and the file would not be as gofmt and goimports write it. Line
// numbers do not change.
func dedentComments(code []byte) []byte {
	var out []byte // allocated at the first change
	start := 0     // of the current line
	copied := 0    // code[:copied] is in out
	for start < len(code) {
		end := bytes.IndexByte(code[start:], '\n')
		if end < 0 {
			break
		}
		end += start
		line := code[start:end]
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) < len(line) && bytes.HasPrefix(trimmed, []byte("//")) && bytes.HasPrefix(code[end+1:], []byte("//")) {
			out = append(out, code[copied:start]...)
			out = append(out, trimmed...)
			copied = end
		}
		start = end + 1
	}
	if out == nil {
		return code
	}
	return append(out, code[copied:]...)
}

// clientCall describes the typed client's method for the operation d.
func clientCall(d codegen.OperationDefinition) model.ClientCall {
	c := model.ClientCall{Params: d.RequiresParamObject(), Body: d.HasBody()}
	for _, p := range d.PathParams {
		c.PathParams = append(c.PathParams, model.ClientParam{Name: p.ParamName, Basic: basicType(p)})
	}
	for _, p := range slices.Concat(d.QueryParams, d.HeaderParams, d.CookieParams) {
		c.RequiredParams = c.RequiredParams || p.Required
	}
	return c
}

// basicType returns the basic Go type of a parameter's Go type: the type
// itself, or for a type of the package (an enum) the type its schema maps
// to; "" when it has none (a UUID, a date, a struct, a JSON parameter).
func basicType(p codegen.ParameterDefinition) string {
	if p.Spec != nil && p.Spec.Content != nil {
		return "" // sent as JSON
	}
	t := p.Schema.GoType
	switch t {
	case "string", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return t
	}
	s := p.Schema.OAPISchema
	if t == "" || !unicode.IsUpper(rune(t[0])) || strings.ContainsAny(t, ".[]*{ ") || s == nil || s.Type == nil {
		return ""
	}
	switch {
	case s.Type.Is("string") && s.Format == "":
		return "string"
	case s.Type.Is("boolean"):
		return "bool"
	case s.Type.Is("integer") && (s.Format == "int32" || s.Format == "int64"):
		return s.Format
	case s.Type.Is("integer"):
		return "int"
	case s.Type.Is("number") && s.Format == "float":
		return "float32"
	case s.Type.Is("number"):
		return "float64"
	}
	return ""
}

// opNames maps "METHOD path" to the Go name oapi-codegen gives the
// operation.
func opNames(t *openapi3.T) (map[string]string, error) {
	defs, err := codegen.OperationDefinitions(t)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(defs))
	for _, d := range defs {
		names[strings.ToUpper(d.Method)+" "+d.Path] = d.OperationId
	}
	return names, nil
}

// targetPos locates the construct a fault is about; failing that, the
// first key in the spec whose Go name is an identifier in the fault.
func targetPos(doc *spec.Doc, tr tree, f fault, names map[string]string) spec.Pos {
	if c := match(targets(tr, names), f); c != nil {
		return doc.Locate(c.path...)
	}
	return keyPos(doc, f.Decl+" "+f.Msg)
}

// keyPos returns the place of the first key in the spec whose Go name is an
// identifier in msg, or the document's start.
func keyPos(doc *spec.Doc, msg string) spec.Pos {
	idents := map[string]bool{}
	for _, ident := range goIdentRE.FindAllString(msg, -1) {
		idents[ident] = true
	}
	if len(idents) > 0 {
		if pos, ok := doc.FindKey(func(k string) bool { return idents[codegen.SchemaNameToTypeName(k)] }); ok {
			return pos
		}
	}
	return doc.Locate()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// loadTree loads the generic copy as the document oapi-codegen is given.
func loadTree(tr tree) (*openapi3.T, error) {
	data, err := json.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	return loadCopy(data)
}

// loadCopy loads a copy of the document, given as JSON (see yamlFriendly).
func loadCopy(data []byte) (*openapi3.T, error) {
	t, err := loadFriendly(data)
	if err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	return t, nil
}

// strictError refuses the first repair or degradation under --strict.
func strictError(c SpecChange) error {
	return spec.Errorf(c.Pos, "%s; that is how gatehouse would handle this construct, but --strict (strict: true in gatehouse.yaml) refuses to repair or degrade: change the spec at this place, or drop --strict", c.What)
}

// prepare adapts a copy of the spec for oapi-codegen: without the
// operations gatehouse implements itself, without webhooks (requests this
// server sends, not serves), with lower-case response ranges ("4xx")
// upper-cased as oapi-codegen requires, with schema-less text responses
// typed as strings, and with colliding parameter names told apart.
func prepare(t *openapi3.T, api *model.API) {
	for _, op := range slices.Concat(api.Implemented, api.NotServed) {
		item := t.Paths.Value(op.Path)
		item.SetOperation(op.Method, nil)
		if len(item.Operations()) == 0 {
			t.Paths.Delete(op.Path)
		}
	}
	t.Webhooks = nil
	forEachContent(t, func(c openapi3.Content) {
		for name, mt := range c {
			if mt == nil {
				// `application/json:` with no value declares the media
				// type and nothing about it, as {} does; oapi-codegen
				// dereferences it.
				c[name] = &openapi3.MediaType{}
			}
		}
	})
	// In sorted order: a parameter shared through $ref is renamed by the
	// first operation that needs it, and the output must not depend on map
	// iteration.
	paths := keys(t.Paths.Map())
	sort.Strings(paths)
	for _, p := range paths {
		item := t.Paths.Value(p)
		ops := item.Operations()
		methods := keys(ops)
		sort.Strings(methods)
		for _, m := range methods {
			op := ops[m]
			if api.Unnamed[strings.ToUpper(m)+" "+p] {
				op.OperationID = ""
			}
			renameCollidingParams(item.Parameters, op.Parameters)
			if op.Responses == nil {
				continue
			}
			for _, r := range op.Responses.Map() {
				if r != nil && r.Value != nil {
					textSchemas(r.Value.Content)
				}
			}
			for code, r := range op.Responses.Map() {
				if up := strings.ToUpper(code); up != code && len(code) == 3 && strings.HasSuffix(up, "XX") {
					op.Responses.Delete(code)
					op.Responses.Set(up, r)
				}
			}
		}
	}
}

// forEachContent calls visit for every content map of the document's
// request bodies, responses, parameters and headers, in operations and in
// components.
func forEachContent(t *openapi3.T, visit func(openapi3.Content)) {
	params := func(ps openapi3.Parameters) {
		for _, p := range ps {
			if p != nil && p.Value != nil && p.Value.Content != nil {
				visit(p.Value.Content)
			}
		}
	}
	body := func(b *openapi3.RequestBodyRef) {
		if b != nil && b.Value != nil && b.Value.Content != nil {
			visit(b.Value.Content)
		}
	}
	response := func(r *openapi3.ResponseRef) {
		if r == nil || r.Value == nil {
			return
		}
		if r.Value.Content != nil {
			visit(r.Value.Content)
		}
		for _, h := range r.Value.Headers {
			if h != nil && h.Value != nil && h.Value.Content != nil {
				visit(h.Value.Content)
			}
		}
	}
	if t.Paths != nil {
		for _, item := range t.Paths.Map() {
			if item == nil {
				continue
			}
			params(item.Parameters)
			for _, op := range item.Operations() {
				params(op.Parameters)
				body(op.RequestBody)
				if op.Responses != nil {
					for _, r := range op.Responses.Map() {
						response(r)
					}
				}
			}
		}
	}
	if c := t.Components; c != nil {
		for _, p := range c.Parameters {
			params(openapi3.Parameters{p})
		}
		for _, b := range c.RequestBodies {
			body(b)
		}
		for _, r := range c.Responses {
			response(r)
		}
		for _, h := range c.Headers {
			if h != nil && h.Value != nil && h.Value.Content != nil {
				visit(h.Value.Content)
			}
		}
	}
}

// renameCollidingParams gives parameters whose Go field names would collide
// (Twilio's "StartTime", "StartTime<" and "StartTime>") distinct names
// through oapi-codegen's x-go-name extension. Wire names do not change.
func renameCollidingParams(lists ...openapi3.Parameters) {
	used := map[string]bool{}
	for _, list := range lists {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			p := ref.Value
			name := p.Name
			if v, ok := p.Extensions["x-go-name"].(string); ok {
				name = v
			}
			goName := codegen.SchemaNameToTypeName(name)
			if !used[goName] {
				used[goName] = true
				continue
			}
			suffix := ""
			switch {
			case strings.Contains(p.Name, "<"):
				suffix = "Before"
			case strings.Contains(p.Name, ">"):
				suffix = "After"
			}
			candidate := goName + suffix
			for i := 2; used[candidate]; i++ {
				candidate = fmt.Sprintf("%s%s%d", goName, suffix, i)
			}
			used[candidate] = true
			if p.Extensions == nil {
				p.Extensions = map[string]any{}
			}
			p.Extensions["x-go-name"] = candidate
		}
	}
}

var duplicateTypeRE = regexp.MustCompile(`duplicate typename '(\w+)'`)

// inlineSchemas calls visit for every inline (not $ref) property schema of
// the component schemas, depth first, with its path of names.
func inlineSchemas(t *openapi3.T, visit func(path []string, s *openapi3.Schema)) {
	if t.Components == nil {
		return
	}
	var walk func(path []string, s *openapi3.Schema, depth int)
	walk = func(path []string, s *openapi3.Schema, depth int) {
		if s == nil || depth > 8 {
			return
		}
		for _, name := range keys(s.Properties) {
			ref := s.Properties[name]
			if ref == nil || ref.Ref != "" || ref.Value == nil {
				continue
			}
			p := append(slices.Clone(path), name)
			visit(p, ref.Value)
			walk(p, ref.Value, depth+1)
		}
	}
	names := keys(t.Components.Schemas)
	sort.Strings(names)
	for _, name := range names {
		if ref := t.Components.Schemas[name]; ref != nil && ref.Value != nil {
			walk([]string{name}, ref.Value, 0)
		}
	}
}

// renameInline records a new Go name for the inline schemas whose generated
// type name is typeName, and reports whether it found any.
func renameInline(t *openapi3.T, typeName string, renames map[string]string) bool {
	taken := map[string]bool{}
	if t.Components != nil {
		for name := range t.Components.Schemas {
			taken[codegen.SchemaNameToTypeName(name)] = true
		}
	}
	for _, name := range renames {
		taken[name] = true
	}
	found := false
	inlineSchemas(t, func(path []string, s *openapi3.Schema) {
		key := strings.Join(path, "\x00")
		if _, done := renames[key]; done {
			return
		}
		if codegen.SchemaNameToTypeName(codegen.PathToTypeName(slices.Clone(path))) != typeName {
			return
		}
		name := typeName + "Value"
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%sValue%d", typeName, i)
		}
		taken[name] = true
		renames[key] = name
		found = true
	})
	return found
}

// applyRenames sets x-go-type-name on the inline schemas named in renames.
func applyRenames(t *openapi3.T, renames map[string]string) {
	if len(renames) == 0 {
		return
	}
	inlineSchemas(t, func(path []string, s *openapi3.Schema) {
		if name, ok := renames[strings.Join(path, "\x00")]; ok {
			if s.Extensions == nil {
				s.Extensions = map[string]any{}
			}
			s.Extensions["x-go-type-name"] = name
		}
	})
}

// textSchemas gives text/* media types declared without a schema the
// schema they evidently have, a string; oapi-codegen emits code that does
// not compile for them otherwise.
func textSchemas(content openapi3.Content) {
	for name, mt := range content {
		if mt != nil && mt.Schema == nil && strings.HasPrefix(name, "text/") {
			mt.Schema = openapi3.NewStringSchema().NewRef()
		}
	}
}

// replaceHeader swaps oapi-codegen's header (which names its version) for
// gatehouse's, so output does not change with the library's version.
func replaceHeader(code []byte) []byte {
	i := bytes.Index(code, []byte("\npackage "))
	if i < 0 {
		return code
	}
	return append([]byte(GeneratedHeader+"\n\n// Package api holds the types, the strict server interface, the routes\n// and the typed client generated from the OpenAPI document.\n"), code[i:]...)
}

var (
	codegenPathRE  = regexp.MustCompile(`(?:path|in path) ["']?(/[^"'\s:]*)`)
	codegenParamRE = regexp.MustCompile(`type for param \((\w+)\)`)
	codegenTypeRE  = regexp.MustCompile(`(?:Schema |typename ')(\w+)`)
	// An operation's parameter: "describing global parameters for
	// GET//items/{code}: error generating type for param (near)".
	codegenOpParamRE = regexp.MustCompile(`for ([A-Z]+)/(/[^:\s]*): error generating type for param \(([^)]*)\)`)
)

// codegenError explains an oapi-codegen failure with the place it concerns.
func codegenError(doc *spec.Doc, err error) error {
	msg := strings.TrimPrefix(err.Error(), "error generating code: ")
	pos := codegenPos(doc, err)
	hint := "change that construct in the spec, or report it if the spec is valid"
	if codegenParamRE.MatchString(msg) && strings.Contains(msg, "no schema") {
		hint = "give the parameter a schema"
	}
	return spec.Errorf(pos, "unsupported construct: %s; %s", msg, hint)
}

// codegenPos is the place an oapi-codegen failure concerns: the parameter,
// path or schema it names, or the document.
func codegenPos(doc *spec.Doc, err error) spec.Pos {
	msg := err.Error()
	if m := codegenOpParamRE.FindStringSubmatch(msg); m != nil {
		if path := paramPath(doc, m[1], m[2], m[3]); path != nil {
			return doc.Locate(path...)
		}
	}
	if m := codegenPathRE.FindStringSubmatch(msg); m != nil {
		return doc.Locate("paths", m[1])
	}
	if m := codegenTypeRE.FindStringSubmatch(msg); m != nil {
		return doc.Locate("components", "schemas", m[1])
	}
	return doc.Locate()
}

// paramPath returns the place of the schema of the parameter name of the
// operation at method and path (or of its path item), or nil.
func paramPath(doc *spec.Doc, method, path, name string) []string {
	item := doc.T.Paths.Value(path)
	if item == nil {
		return nil
	}
	m := strings.ToLower(method)
	lists := []struct {
		at   []string
		list openapi3.Parameters
	}{{[]string{"paths", path, m}, nil}, {[]string{"paths", path}, item.Parameters}}
	if op := item.GetOperation(method); op != nil {
		lists[0].list = op.Parameters
	}
	for _, l := range lists {
		for i, p := range l.list {
			if p != nil && p.Value != nil && p.Value.Name == name {
				if n, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
					return []string{"components", "parameters", n, "schema"}
				}
				return append(l.at, "parameters", strconv.Itoa(i), "schema")
			}
		}
	}
	return []string{"paths", path, m}
}

// checkRoutes rejects paths the generated router cannot serve: two
// operations with the same method on the same path template (whatever their
// parameter names), a segment with more than one parameter, and operations
// on the paths gatehouse serves itself.
func checkRoutes(doc *spec.Doc, api *model.API) error {
	builtin := map[string]bool{
		http.MethodPost + " " + api.TokenPath:  true,
		http.MethodPost + " " + api.RevokePath: true,
		"GET /openapi.json":                    true,
		"GET /.well-known/jwks.json":           true,
	}
	seen := map[string]model.Operation{}
	for _, op := range api.Operations {
		if op.Path == api.TokenPath || op.Path == api.RevokePath {
			return spec.Errorf(doc.Locate("paths", op.Path), "the spec declares %s %s, but gatehouse's token and revocation endpoints own that path for every method; move the operation to another path", op.Method, op.Path)
		}
		if builtin[op.Method+" "+op.Path] {
			return spec.Errorf(doc.Locate("paths", op.Path), "the spec declares %s %s, which gatehouse serves itself; remove it from the spec or move it", op.Method, op.Path)
		}
		if !strings.HasPrefix(op.Path, "/") {
			return spec.Errorf(doc.Locate("paths", op.Path), "path %q does not start with /; OpenAPI paths are absolute, so write %q", op.Path, "/"+op.Path)
		}
		if problem := pathProblem(op.Path); problem != "" {
			return spec.Errorf(doc.Locate("paths", op.Path), "path %q %s; fix the path", op.Path, problem)
		}
		for _, seg := range strings.Split(op.Path, "/") {
			if !segmentRE.MatchString(seg) {
				return spec.Errorf(doc.Locate("paths", op.Path), "path segment %q is not a literal with at most one {parameter}, which gatehouse's router requires; split the parameters into separate segments", seg)
			}
		}
		key := op.Method + " " + templateParamRE.ReplaceAllString(op.Path, "{}")
		if other, dup := seen[key]; dup {
			return spec.Errorf(doc.Locate("paths", op.Path), "%s %s and %s %s are the same route with differently named parameters; a server cannot tell them apart, so merge them into one path", op.Method, op.Path, other.Method, other.Path)
		}
		seen[key] = op
	}
	return nil
}

// pathProblem says why a path template cannot be served as written, or
// returns "". HTTP servers and clients normalise dot segments and empty
// segments away (Go's ServeMux answers them with a redirect), and a query or
// fragment delimiter ends the path.
func pathProblem(p string) string {
	for _, r := range p {
		switch {
		case r < 0x20 || r == 0x7f || r == ' ':
			return "has a space or control character, which a URL path cannot carry as written"
		case r == '?' || r == '#':
			return fmt.Sprintf("has %q, which starts the query or fragment of a URL, so no request can reach the rest", r)
		case r == '\\':
			return "has a backslash, which clients and proxies may turn into /"
		}
	}
	segs := strings.Split(p, "/")[1:]
	for i, seg := range segs {
		switch {
		case seg == "." || seg == "..":
			return fmt.Sprintf("has the dot segment %q, which clients and servers remove, so no request can reach it as written", seg)
		case seg == "" && i < len(segs)-1:
			return "has an empty segment (//), which servers collapse, so no request can reach it as written"
		}
	}
	return ""
}

// dropSameRoutes leaves out of api the operations whose route an earlier
// one (in path order) already has, differing only in parameter names
// (GET /a/{id} and GET /a/{name}, invalid in OpenAPI): the first is served,
// the others are reported as not served. Under strict they are refused.
func dropSameRoutes(doc *spec.Doc, api *model.API, strict bool) ([]SpecChange, error) {
	seen := map[string]model.Operation{}
	var changes []SpecChange
	kept := api.Operations[:0:0]
	for _, op := range api.Operations {
		if i := strings.IndexAny(op.Path, "?#"); i >= 0 {
			// Specs use a fragment or a query to declare several
			// operations on one route (Box's /files/{id}#add_shared_link):
			// a request's path never holds it, so none reaches the
			// operation as written.
			c := SpecChange{Pos: doc.Locate("paths", op.Path, strings.ToLower(op.Method)), Degraded: true,
				What: fmt.Sprintf("%s %s: not served, because %q ends the path of a URL, so no request can reach it as written (requests for %s %s go to the operation declared there, if any); declare it on a path of its own", op.Method, op.Path, op.Path[i], op.Method, op.Path[:i])}
			if strict {
				return nil, strictError(c)
			}
			changes = append(changes, c)
			api.NotServed = append(api.NotServed, op)
			continue
		}
		key := op.Method + " " + templateParamRE.ReplaceAllString(op.Path, "{}")
		other, dup := seen[key]
		if !dup {
			seen[key] = op
			kept = append(kept, op)
			continue
		}
		if op.Security.String() != other.Security.String() {
			// Serving either would apply its security to the other's
			// requests: a public twin would open a protected operation.
			return nil, spec.Errorf(doc.Locate("paths", op.Path, strings.ToLower(op.Method)), "%s %s and %s %s are the same route with differently named parameters, and their security differs (%s, and %s); a server cannot tell which a request is for, so merge them into one path", op.Method, op.Path, other.Method, other.Path, op.Security, other.Security)
		}
		c := SpecChange{Pos: doc.Locate("paths", op.Path, strings.ToLower(op.Method)), Degraded: true,
			What: fmt.Sprintf("%s %s: not served, because %s %s is the same route with differently named parameters and is served instead; merge them into one path", op.Method, op.Path, other.Method, other.Path)}
		if strict {
			return nil, strictError(c)
		}
		changes = append(changes, c)
		api.NotServed = append(api.NotServed, op)
	}
	api.Operations = kept
	return changes, nil
}

var (
	templateParamRE = regexp.MustCompile(`\{[^}]*\}`)
	segmentRE       = regexp.MustCompile(`^[^{}]*(\{[^{}]+\}[^{}]*)?$`)
)

func jsonIndent(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return fmt.Errorf("format spec: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
