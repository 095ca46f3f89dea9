package generator

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// HandlersDir is the user-owned package implementing the operations.
const HandlersDir = "internal/handlers"

// handlerMethod is a method of the user's Handlers type.
type handlerMethod struct {
	Name string
	File string // project-relative
}

// StubReport says what AddStubs did.
type StubReport struct {
	Added   []string // "ListPets (internal/handlers/pets.go)"
	Removed []string // explanations for methods whose operation is gone
}

// AddStubs appends a stub method to the user's handler package for every
// operation it does not implement yet, in the file for the operation's tag
// (created if missing). Existing code is never changed: stubs go at the end
// of the file, and a missing import is inserted into the import block.
// Methods whose operation left the spec are kept and reported, with a hint
// when the operation looks renamed (same method and path as before).
func AddStubs(dir string, res *Result, previous *Manifest) (*StubReport, error) {
	methods, err := handlerMethods(filepath.Join(dir, filepath.FromSlash(HandlersDir)))
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(methods))
	for _, m := range methods {
		have[m.Name] = true
	}
	report := &StubReport{}
	current := make(map[string]string, len(res.data.Ops)) // "GET /x" → name
	byFile := map[string][]opData{}
	var files []string
	for _, g := range res.data.Groups {
		for _, op := range g.Ops {
			current[op.Method+" "+op.Path] = op.GoName
			if have[op.GoName] {
				continue
			}
			if len(byFile[g.File]) == 0 {
				files = append(files, g.File)
			}
			byFile[g.File] = append(byFile[g.File], op)
		}
	}
	for _, file := range files {
		ops := byFile[file]
		rel := HandlersDir + "/" + file
		if err := addToFile(dir, rel, ops, res); err != nil {
			return nil, err
		}
		for _, op := range ops {
			report.Added = append(report.Added, fmt.Sprintf("%s (%s %s) in %s", op.GoName, op.Method, op.Path, rel))
		}
	}
	wanted := make(map[string]bool, len(current))
	for _, name := range current {
		wanted[name] = true
	}
	for _, m := range methods {
		if wanted[m.Name] || !previous.hadOperation(m.Name) {
			continue // a helper method of the user's, not an operation
		}
		line := fmt.Sprintf("%s in %s: its operation was removed from the spec; the method is kept, delete it when you no longer need it", m.Name, m.File)
		if route := previous.Operations[m.Name]; route != "" {
			if renamed := current[route]; renamed != "" {
				line = fmt.Sprintf("%s in %s: %s looks renamed to %s (same method and path); move the body into %s and delete %s", m.Name, m.File, route, renamed, renamed, m.Name)
			}
		}
		report.Removed = append(report.Removed, line)
	}
	return report, nil
}

// handlerMethods lists the methods declared on Handlers or *Handlers.
func handlerMethods(dir string) ([]handlerMethod, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []handlerMethod
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("%v; fix the syntax error so gatehouse can add stubs", err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			t := fn.Recv.List[0].Type
			if star, ok := t.(*ast.StarExpr); ok {
				t = star.X
			}
			if id, ok := t.(*ast.Ident); ok && id.Name == "Handlers" {
				out = append(out, handlerMethod{Name: fn.Name.Name, File: HandlersDir + "/" + name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// addToFile appends stubs for ops to the handler file rel, creating it when
// it does not exist.
func addToFile(dir, rel string, ops []opData, res *Result) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	src, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		content, err := res.renderer.handlerFile(groupData{Module: res.data.Module, File: filepath.Base(rel), Ops: ops})
		if err != nil {
			return err
		}
		if content, err = format.Source(content); err != nil {
			return fmt.Errorf("internal error: stub file %s does not parse: %v", rel, err)
		}
		return writeAtomic(p, content)
	}
	if err != nil {
		return err
	}
	var stubs bytes.Buffer
	for _, op := range ops {
		text, err := res.renderer.stub(op)
		if err != nil {
			return err
		}
		stubs.Write(text)
	}
	formatted, err := format.Source(append([]byte("package x\n"), stubs.Bytes()...))
	if err != nil {
		return fmt.Errorf("internal error: stubs for %s do not parse: %v", rel, err)
	}
	stubText := bytes.TrimPrefix(formatted, []byte("package x\n"))
	out, err := ensureImports(src, []string{"context", res.data.Module + "/internal/api", res.data.Module + "/internal/routes"})
	if err != nil {
		return fmt.Errorf("%s: %v", rel, err)
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, stubText...)
	return writeAtomic(p, out)
}

// ensureImports inserts the import paths src lacks, touching no other byte:
// into the last parenthesised import block, or as a new block after the
// package clause.
func ensureImports(src []byte, paths []string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, im := range f.Imports {
		if p, err := strconv.Unquote(im.Path.Value); err == nil {
			have[p] = true
		}
	}
	var missing []string
	for _, p := range paths {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return src, nil
	}
	var lines bytes.Buffer
	for _, p := range missing {
		fmt.Fprintf(&lines, "\t%q\n", p)
	}
	for i := len(f.Decls) - 1; i >= 0; i-- {
		gd, ok := f.Decls[i].(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT || !gd.Rparen.IsValid() {
			continue
		}
		at := fset.Position(gd.Rparen).Offset
		return splice(src, at, lines.Bytes()), nil
	}
	at := fset.Position(f.Name.End()).Offset
	return splice(src, at, []byte("\n\nimport (\n"+lines.String()+")")), nil
}

func splice(src []byte, at int, insert []byte) []byte {
	out := make([]byte, 0, len(src)+len(insert))
	out = append(out, src[:at]...)
	out = append(out, insert...)
	return append(out, src[at:]...)
}
