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
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// codegenMu serialises calls into oapi-codegen, which keeps its options and
// the spec in package-level state (oapi-codegen issue #1805): two
// generations at once in one process would corrupt each other.
var codegenMu sync.Mutex

// generateAPI runs oapi-codegen for the models, the strict server interface
// and the std net/http wrappers, and records each operation's Go name in api.
func generateAPI(doc *spec.Doc, api *model.API) ([]byte, error) {
	code, err := rawAPI(doc, api)
	if err != nil {
		return nil, err
	}
	out, err := formatGo(replaceHeader([]byte(code)))
	if err != nil {
		return nil, fmt.Errorf("internal error: oapi-codegen's output does not parse: %v; please report this with the spec", err)
	}
	return out, nil
}

// rawAPI is generateAPI without formatting: oapi-codegen's output as its
// templates write it.
func rawAPI(doc *spec.Doc, api *model.API) (string, error) {
	// oapi-codegen prunes and filters the document it is given; give it a
	// copy without the operations gatehouse implements itself.
	t, err := cloneDoc(doc.T)
	if err != nil {
		return "", err
	}
	prepare(t, api)

	cfg := codegen.Configuration{
		PackageName: "api",
		Generate: codegen.GenerateOptions{
			StdHTTPServer: true,
			Strict:        true,
			Models:        true,
			EmbeddedSpec:  true,
		},
		OutputOptions: codegen.OutputOptions{
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

	codegenMu.Lock()
	defer codegenMu.Unlock()
	code, err := codegen.Generate(t, cfg)
	// Retry what oapi-codegen refuses but gatehouse can work around: an
	// inline type named like a component (Connection.health → type
	// ConnectionHealth, and a ConnectionHealth schema), and allOf merges
	// the newer merge refuses and the original one accepts.
	renames := map[string]string{} // path of an inline schema → Go type name
	for attempt := 0; err != nil && attempt < 20; attempt++ {
		if m := duplicateTypeRE.FindStringSubmatch(err.Error()); m != nil {
			if !renameInline(t, m[1], renames) {
				break
			}
		} else if strings.Contains(err.Error(), "merging schemas") && !cfg.Compatibility.OldMergeSchemas {
			cfg.Compatibility.OldMergeSchemas = true
		} else {
			break
		}
		if t, err = cloneDoc(doc.T); err != nil {
			return "", err
		}
		prepare(t, api)
		applyRenames(t, renames)
		code, err = codegen.Generate(t, cfg)
	}
	if err != nil {
		return "", codegenError(doc, err)
	}
	defs, err := codegen.OperationDefinitions(t)
	if err != nil {
		return "", codegenError(doc, err)
	}
	names := make(map[string]string, len(defs))
	for _, d := range defs {
		names[strings.ToUpper(d.Method)+" "+d.Path] = d.OperationId
	}
	for i := range api.Operations {
		op := &api.Operations[i]
		name, ok := names[op.Method+" "+op.Path]
		if !ok {
			return "", fmt.Errorf("internal error: oapi-codegen produced no handler for %s %s", op.Method, op.Path)
		}
		op.GoName = name
	}
	return code, nil
}

// prepare adapts a copy of the spec for oapi-codegen: without the
// operations gatehouse implements itself, without webhooks (requests this
// server sends, not serves), with lower-case response ranges ("4xx")
// upper-cased as oapi-codegen requires, with schema-less text responses
// typed as strings, and with colliding parameter names told apart.
func prepare(t *openapi3.T, api *model.API) {
	for _, op := range api.Implemented {
		item := t.Paths.Value(op.Path)
		item.SetOperation(op.Method, nil)
		if len(item.Operations()) == 0 {
			t.Paths.Delete(op.Path)
		}
	}
	t.Webhooks = nil
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
	return append([]byte(GeneratedHeader+"\n\n// Package api holds the types, the strict server interface and the\n// routes generated from the OpenAPI document.\n"), code[i:]...)
}

var (
	codegenPathRE  = regexp.MustCompile(`(?:path|in path) ["']?(/[^"'\s:]*)`)
	codegenParamRE = regexp.MustCompile(`type for param \((\w+)\)`)
	codegenTypeRE  = regexp.MustCompile(`(?:Schema |typename ')(\w+)`)
)

// codegenError explains an oapi-codegen failure with the place it concerns.
func codegenError(doc *spec.Doc, err error) error {
	msg := strings.TrimPrefix(err.Error(), "error generating code: ")
	pos := doc.Locate()
	if m := codegenPathRE.FindStringSubmatch(msg); m != nil {
		pos = doc.Locate("paths", m[1])
	} else if m := codegenTypeRE.FindStringSubmatch(msg); m != nil {
		pos = doc.Locate("components", "schemas", m[1])
	}
	hint := "change that construct in the spec, or report it if the spec is valid"
	if codegenParamRE.MatchString(msg) {
		hint = "give the parameter a schema"
	}
	return spec.Errorf(pos, "unsupported construct: %s; %s", msg, hint)
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

var (
	templateParamRE = regexp.MustCompile(`\{[^}]*\}`)
	segmentRE       = regexp.MustCompile(`^[^{}]*(\{[^{}]+\}[^{}]*)?$`)
)

func cloneDoc(t *openapi3.T) (*openapi3.T, error) {
	data, err := t.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	loader := openapi3.NewLoader()
	clone, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	return clone, nil
}

func jsonIndent(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return fmt.Errorf("format spec: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
