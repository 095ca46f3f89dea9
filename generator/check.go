package generator

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// checkAPI type-checks the code oapi-codegen produced and refuses it at its
// first fault, with the spec construct concerned, instead of as a project
// that does not build. Imported packages are not loaded: they are stood in
// for by empty packages, and errors that concern them are ignored. What
// remains are the package's own faults, such as two declarations of one
// name or a reference to a type never declared.
func checkAPI(doc *spec.Doc, api *model.API, code []byte) error {
	faults, err := typeCheck(code, clientTypeNames[0])
	if err != nil || len(faults) == 0 {
		return err
	}
	return faults[0].err(doc, api)
}

// fault is one type error in oapi-codegen's output.
type fault struct {
	Msg  string // the type checker's message
	Line int    // in api_gen.go
	Decl string // the top-level declaration it is in (a type, a function, a method's receiver)
	// Other is the declaration a redeclaration collides with, when known.
	Other string
}

// err is the located refusal for f (under --strict, or when it cannot be
// repaired or degraded).
func (f fault) err(doc *spec.Doc, api *model.API) error {
	// The declaration the fault is in names the construct best (a field
	// redeclared in SubmitLogRequestObject belongs to operation SubmitLog).
	return f.errAt(locateGoName(doc, api, f.Decl+" "+f.Msg))
}

// errAt is the refusal for f at pos.
func (f fault) errAt(pos spec.Pos) error {
	return spec.Errorf(pos, "unsupported construct: oapi-codegen turns this spec into Go that does not compile (%s, at internal/api/api_gen.go:%d); change the construct at this place, e.g. rename a colliding schema or parameter or give it an x-go-name", f.Msg, f.Line)
}

// typeCheck returns every fault of the package itself in code, in source
// order: all of one pass, so they can all be repaired at once. client is the
// name of the client type, whose methods belong to operations.
func typeCheck(code []byte, client string) ([]fault, error) {
	c, err := checkCode(code, client)
	if err != nil {
		return nil, err
	}
	return c.faults, nil
}

// checked is oapi-codegen's output parsed (with its comments, so that it
// can be printed from the same tree) and type-checked once: the repair
// loop, the Go-level repairs and the formatting all read it, and on a large
// spec each parse of the file costs as much as a tenth of oapi-codegen's run.
type checked struct {
	code   []byte
	fset   *token.FileSet
	file   *ast.File
	faults []fault
	// unused are the import specs the type check found unused, by position.
	unused map[token.Pos]bool
	// rest is the file printed without its first declaration (see
	// printRest).
	rest func() ([]byte, error)
}

// checkCode parses and type-checks code, in which client is the name of
// the client type (see enclosingDecl).
func checkCode(code []byte, client string) (*checked, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "api_gen.go", code, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("internal error: oapi-codegen's output does not parse: %v; please report this with the spec", err)
	}
	c := &checked{code: code, fset: fset, file: f, unused: map[token.Pos]bool{}, rest: printRest(fset, f)}
	imported := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name, _ := importName(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		imported[name] = true
	}
	needles := importNeedles(imported)
	conf := types.Config{
		Importer: emptyImporter{},
		Error: func(err error) {
			te, ok := err.(types.Error)
			if !ok {
				return
			}
			if te.Soft && unusedImportRE.MatchString(te.Msg) {
				c.unused[te.Pos] = true
			}
			if te.Soft || mentionsImport(te.Msg, imported, needles) {
				return
			}
			if strings.HasPrefix(te.Msg, "\t") {
				// The continuation of the previous error ("other declaration of X").
				if n := len(c.faults); n > 0 {
					c.faults[n-1].Other = enclosingDecl(f, te.Pos, client)
				}
				return
			}
			c.faults = append(c.faults, fault{Msg: te.Msg, Line: fset.Position(te.Pos).Line, Decl: enclosingDecl(f, te.Pos, client)})
		},
	}
	_, _ = conf.Check("api", fset, []*ast.File{f}, nil)
	sort.SliceStable(c.faults, func(i, j int) bool { return c.faults[i].Line < c.faults[j].Line })
	return c, nil
}

// unusedImportRE matches the type checker's report of an unused import.
var unusedImportRE = regexp.MustCompile(`^"[^"]*" imported (as \w+ )?and not used$`)

// enclosingDecl returns the name of the top-level declaration containing
// pos: a type, a constant or variable, a function, or a method's receiver
// type. The client's code is named after its operation instead: a method
// of the client types (GetPet, GetPetWithResponse) by its own name, a
// request builder or response parser (NewGetPetRequest, ParseGetPetResponse)
// without its prefix.
func enclosingDecl(f *ast.File, pos token.Pos, client string) string {
	for _, d := range f.Decls {
		if pos < d.Pos() || pos > d.End() {
			continue
		}
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && len(d.Recv.List) == 1 {
				t := d.Recv.List[0].Type
				if star, ok := t.(*ast.StarExpr); ok {
					t = star.X
				}
				if id, ok := t.(*ast.Ident); ok {
					if id.Name == client || id.Name == "ClientWithResponses" {
						return d.Name.Name
					}
					return id.Name
				}
			}
			if op, ok := strings.CutPrefix(d.Name.Name, "New"); ok && strings.Contains(op, "Request") {
				return op
			}
			if op, ok := strings.CutPrefix(d.Name.Name, "Parse"); ok && strings.HasSuffix(op, "Response") {
				return op
			}
			return d.Name.Name
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				if pos < spec.Pos() || pos > spec.End() {
					continue
				}
				switch s := spec.(type) {
				case *ast.TypeSpec:
					return s.Name.Name
				case *ast.ValueSpec:
					// An enum constant, named after its type.
					return s.Names[0].Name
				}
			}
		}
	}
	return ""
}

// emptyImporter stands in an empty package for every import, named as
// goimports assumes it is named (go.yaml.in/yaml/v3 is yaml, see
// assumedName), so a use of it is an error about the import, which the
// check ignores, and an import it reports unused is one goimports drops.
type emptyImporter struct{}

func (emptyImporter) Import(path string) (*types.Package, error) {
	p := types.NewPackage(path, assumedName(path))
	p.MarkComplete()
	return p, nil
}

// mentionsImport reports whether msg names an imported package, given
// importNeedles of the imported names. Every use of an imported package is
// such an error (see emptyImporter): on a large spec, thousands.
func mentionsImport(msg string, imported map[string]bool, needles []string) bool {
	if strings.Contains(msg, " undefined (type ") {
		if m := shadowedImportRE.FindStringSubmatch(msg); m != nil && imported[m[1]] {
			// A variable hides the package (a parameter named url, then
			// url.Parse): a fault of the code, not of the empty import.
			return false
		}
	}
	for _, n := range needles {
		if strings.Contains(msg, n) {
			return true
		}
	}
	return false
}

// shadowedImportRE matches the type checker's report of a selector on a
// variable that has the name of an imported package.
var shadowedImportRE = regexp.MustCompile(`^(\w+)\.\w+ undefined \(type `)

// importNeedles returns what mentionsImport looks for in a message: each
// imported name followed by a dot, and quoted.
func importNeedles(imported map[string]bool) []string {
	var out []string
	for name := range imported {
		out = append(out, name+".", strconv.Quote(name))
	}
	return out
}

var goIdentRE = regexp.MustCompile(`\b[A-Z][A-Za-z0-9_]*\b`)

// locateGoName finds the spec construct (an operation, or a schema,
// response, request body or parameter component) whose Go name is the
// longest prefix of an identifier in msg, and returns its place in the spec.
func locateGoName(doc *spec.Doc, api *model.API, msg string) spec.Pos {
	type candidate struct {
		goName string
		path   []string
	}
	var cands []candidate
	for _, op := range api.Operations {
		cands = append(cands, candidate{op.GoName, []string{"paths", op.Path, strings.ToLower(op.Method)}})
	}
	if c := doc.Components; c != nil {
		add := func(section string, names []string) {
			sort.Strings(names)
			for _, n := range names {
				cands = append(cands, candidate{codegen.SchemaNameToTypeName(n), []string{"components", section, n}})
			}
		}
		add("schemas", keys(c.Schemas))
		add("responses", keys(c.Responses))
		add("requestBodies", keys(c.RequestBodies))
		add("parameters", keys(c.Parameters))
	}
	var best *candidate
	for _, ident := range goIdentRE.FindAllString(msg, -1) {
		for i := range cands {
			c := &cands[i]
			if strings.HasPrefix(ident, c.goName) && (best == nil || len(c.goName) > len(best.goName)) {
				best = c
			}
		}
	}
	if best != nil {
		return doc.Locate(best.path...)
	}
	// A struct field: the first property or parameter of that Go name.
	for _, ident := range goIdentRE.FindAllString(msg, -1) {
		if pos, ok := doc.FindKey(func(k string) bool { return codegen.SchemaNameToTypeName(k) == ident }); ok {
			return pos
		}
	}
	return doc.Locate()
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
