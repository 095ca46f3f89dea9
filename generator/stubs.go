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
	"regexp"
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
	Added   []string // "ListPets (GET /pets) in internal/handlers/pets.go"
	Removed []string // explanations for methods whose operation is gone
	// Security lists the operations whose callers changed since the last
	// run: "GET /branches: public → oauth2[accounts:read]".
	Security []string
	// Docs are handler methods whose doc comment's Security line was
	// updated: "ListBranches in internal/handlers/branches.go".
	Docs []string
	// StaleDocs are handler methods whose doc comment does not hold the
	// Security line gatehouse wrote, so it was left as it is.
	StaleDocs []string
}

// AddStubs appends a stub method to the user's handler package for every
// operation it does not implement yet, in the file for the operation's tag
// (created if missing). Existing code is never changed: stubs go at the end
// of the file, and a missing import is inserted into the import block.
// Methods whose operation left the spec are kept and reported, with a hint
// when the operation looks renamed (same method and path as before).
// Operations whose security changed since the last run are reported, and
// the Security line gatehouse wrote into their handler's doc comment is
// brought up to date.
//
// Every file is read and written inside the project directory (symbolic
// links included); temporaries an earlier run left in the handler package
// are removed.
func (w *Writer) AddStubs(dir string, res *Result, previous *Manifest) (*StubReport, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	methods, err := handlerMethods(root, dir)
	if err != nil {
		return nil, err
	}
	if err := w.sweep(root, []string{HandlersDir}); err != nil {
		return nil, err
	}
	report := &StubReport{}
	missing := missingStubs(methods, res)
	for _, file := range missing.files {
		ops := missing.byFile[file]
		if err := w.addToFile(root, dir, file, ops, res); err != nil {
			return nil, err
		}
		for _, op := range ops {
			report.Added = append(report.Added, stubLine(op, file))
		}
	}
	current := make(map[string]string, len(res.data.Ops)) // "GET /x" → name
	wanted := make(map[string]bool, len(res.data.Ops))
	for _, op := range res.data.Ops {
		current[op.Method+" "+op.Path] = op.GoName
		wanted[op.GoName] = true
	}
	for _, m := range methods {
		if wanted[m.Name] || !previous.hadOperation(m.Name) {
			continue // a helper method of the user's, not an operation
		}
		route := previous.Operations[m.Name]
		note := fmt.Sprintf("the operation of %s (%s) was removed from the spec", m.Name, route)
		line := fmt.Sprintf("%s in %s: its operation was removed from the spec; the method is kept, commented out, delete it when you no longer need it", m.Name, m.File)
		if renamed := current[route]; renamed != "" {
			note = fmt.Sprintf("%s looks renamed: %s is now %s", route, m.Name, renamed)
			line = fmt.Sprintf("%s in %s: %s looks renamed to %s (same method and path); the method is kept, commented out: move its body into %s", m.Name, m.File, route, renamed, renamed)
		}
		if err := w.commentOut(root, dir, m.File, m.Name, note); err != nil {
			return nil, err
		}
		report.Removed = append(report.Removed, line)
	}
	if err := w.updateSecurityDocs(root, dir, methods, res, previous, report); err != nil {
		return nil, err
	}
	return report, nil
}

// MissingStubs lists, as AddStubs reports them, the stubs it would add to
// the project in dir. It changes nothing.
func MissingStubs(dir string, res *Result) ([]string, error) {
	methods, err := projectMethods(dir)
	if err != nil {
		return nil, err
	}
	missing := missingStubs(methods, res)
	var out []string
	for _, file := range missing.files {
		for _, op := range missing.byFile[file] {
			out = append(out, stubLine(op, file))
		}
	}
	return out, nil
}

// HandlersComplete reports whether the handler package of the project in
// dir still declares a method for every operation of the last run. When
// one is gone (the user deleted it, or a file failed to parse), the run
// has a stub to add, so it cannot be skipped.
func HandlersComplete(dir string, m *Manifest) bool {
	methods, err := projectMethods(dir)
	if err != nil {
		return false
	}
	have := methodNames(methods)
	for name := range m.Operations {
		if !have[name] {
			return false
		}
	}
	return true
}

// projectMethods lists the handler methods of the project in dir.
func projectMethods(dir string) ([]handlerMethod, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return handlerMethods(root, dir)
}

// stubSet is the operations without a handler method, by the file their
// stubs go to (project-relative), in the order of first use.
type stubSet struct {
	files  []string
	byFile map[string][]opData
}

func missingStubs(methods []handlerMethod, res *Result) stubSet {
	have := methodNames(methods)
	set := stubSet{byFile: map[string][]opData{}}
	for _, g := range res.data.Groups {
		rel := HandlersDir + "/" + g.File
		for _, op := range g.Ops {
			if have[op.GoName] {
				continue
			}
			if len(set.byFile[rel]) == 0 {
				set.files = append(set.files, rel)
			}
			set.byFile[rel] = append(set.byFile[rel], op)
		}
	}
	return set
}

func methodNames(methods []handlerMethod) map[string]bool {
	names := make(map[string]bool, len(methods))
	for _, m := range methods {
		names[m.Name] = true
	}
	return names
}

// stubLine names a stub as AddStubs reports it.
func stubLine(op opData, file string) string {
	return fmt.Sprintf("%s (%s %s) in %s", op.GoName, op.Method, op.Path, file)
}

// commentOut turns the method name of Handlers in file into line comments
// under a note, so code written for an operation that is gone is kept but
// no longer refers to types that are gone too. Imports that only it used
// are commented out as well, so the package still builds.
func (w *Writer) commentOut(root *os.Root, dir, file, name, note string) error {
	src, err := readRegular(root, dir, file)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	fn := handlersMethod(f, name)
	if fn == nil {
		return nil
	}
	start := fn.Pos()
	if fn.Doc != nil {
		start = fn.Doc.Pos()
	}
	from := lineStart(src, fset.Position(start).Offset)
	to := fset.Position(fn.End()).Offset
	out := append([]byte{}, src[:from]...)
	out = append(out, "// gatehouse: "+note+".\n// The method is kept below, commented out; delete it when you no longer need it.\n"...)
	out = append(out, commentLines(src[from:to])...)
	out = append(out, separate(src[to:])...)
	out, err = commentUnusedImports(out)
	if err != nil {
		return err
	}
	if err := w.writeAtomic(root, file, out); err != nil {
		return pathError(root, dir, file, err)
	}
	return nil
}

func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

// commentLines prefixes every line of b with "// ", and turns blank lines
// into "//": gofmt removes trailing spaces, even in comments.
func commentLines(b []byte) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	var out []byte
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		if len(bytes.TrimSpace(l)) == 0 {
			out = append(out, "//"...)
			out = append(out, bytes.TrimLeft(l, " \t\r")...)
			continue
		}
		out = append(out, "// "...)
		out = append(out, l...)
	}
	return out
}

// separate returns rest, what follows code that was commented out, with a
// blank line first when a declaration or comment starts on the next line:
// joined to the comment block, it would make it a doc comment, which gofmt
// reformats.
func separate(rest []byte) []byte {
	next, ok := bytes.CutPrefix(rest, []byte("\n"))
	if !ok || len(next) == 0 || next[0] == '\n' {
		return rest
	}
	return append([]byte("\n"), rest...)
}

// commentUnusedImports comments out the import lines of src whose package
// name is not used in the file; a parenthesised import declaration none of
// whose imports is used is commented out whole, since gofmt would move
// comments alone in an import block to the first column.
func commentUnusedImports(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	unused := func(im *ast.ImportSpec) bool {
		p, _ := strconv.Unquote(im.Path.Value)
		name, sure := importName(p)
		if im.Name != nil {
			name, sure = im.Name.Name, true
		}
		// When unsure, keep the import: a wrong guess would break it.
		return sure && name != "_" && name != "." && !used[name]
	}
	// Work backwards so earlier offsets stay valid.
	for i := len(f.Decls) - 1; i >= 0; i-- {
		gd, ok := f.Decls[i].(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		var drop []*ast.ImportSpec
		for _, spec := range gd.Specs {
			if im := spec.(*ast.ImportSpec); unused(im) {
				drop = append(drop, im)
			}
		}
		if len(drop) == 0 {
			continue
		}
		if gd.Rparen.IsValid() && len(drop) == len(gd.Specs) {
			from := lineStart(src, fset.Position(gd.Pos()).Offset)
			to := fset.Position(gd.End()).Offset
			src = append(append(append([]byte{}, src[:from]...), commentLines(src[from:to])...), separate(src[to:])...)
			continue
		}
		for j := len(drop) - 1; j >= 0; j-- {
			// After the indentation, where gofmt keeps a comment.
			at := lineStart(src, fset.Position(drop[j].Pos()).Offset)
			at += len(src[at:]) - len(bytes.TrimLeft(src[at:], " \t"))
			src = splice(src, at, []byte("// "))
		}
	}
	return src, nil
}

// handlerMethods lists the methods declared on Handlers or *Handlers in
// the handler package of the project root (the directory dir).
func handlerMethods(root *os.Root, dir string) ([]handlerMethod, error) {
	d, err := root.Open(HandlersDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, pathError(root, dir, HandlersDir, err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []handlerMethod
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		rel := HandlersDir + "/" + name
		src, err := readRegular(root, dir, rel)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, filepath.FromSlash(rel)), src, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("%v; fix the syntax error so gatehouse can add stubs", err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && isHandlersMethod(fn) {
				out = append(out, handlerMethod{Name: fn.Name.Name, File: rel})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// isHandlersMethod reports whether fn is a method of Handlers or *Handlers.
func isHandlersMethod(fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) != 1 {
		return false
	}
	t := fn.Recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.Name == "Handlers"
}

// handlersMethod returns the declaration of the method name of Handlers in
// f, or nil.
func handlersMethod(f *ast.File, name string) *ast.FuncDecl {
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == name && isHandlersMethod(fn) {
			return fn
		}
	}
	return nil
}

// addToFile appends stubs for ops to the handler file rel, creating it when
// it does not exist.
func (w *Writer) addToFile(root *os.Root, dir, rel string, ops []opData, res *Result) error {
	src, err := readRegular(root, dir, rel)
	if errors.Is(err, fs.ErrNotExist) {
		content, err := res.renderer.handlerFile(groupData{Module: res.data.Module, File: filepath.Base(rel), Ops: ops})
		if err != nil {
			return err
		}
		if content, err = format.Source(content); err != nil {
			return fmt.Errorf("internal error: stub file %s does not parse: %v", rel, err)
		}
		return w.writeStub(root, dir, rel, content)
	}
	if err != nil {
		return err
	}
	stubText, err := res.renderer.formattedStubs(ops)
	if err != nil {
		return fmt.Errorf("%s: %v", rel, err)
	}
	out, err := ensureImports(src, []string{"context", res.data.Module + "/internal/api", res.data.Module + "/internal/routes"})
	if err != nil {
		return fmt.Errorf("%s: %v", rel, err)
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, stubText...)
	return w.writeStub(root, dir, rel, out)
}

// formattedStubs renders the stubs of ops, gofmt'd as they are appended to
// a file.
func (r *renderer) formattedStubs(ops []opData) ([]byte, error) {
	var stubs bytes.Buffer
	for _, op := range ops {
		text, err := r.stub(op)
		if err != nil {
			return nil, err
		}
		stubs.Write(text)
	}
	formatted, err := format.Source(append([]byte(stubPackage), stubs.Bytes()...))
	if err != nil {
		return nil, fmt.Errorf("internal error: stubs do not parse: %v", err)
	}
	return bytes.TrimPrefix(formatted, []byte(stubPackage)), nil
}

// stubPackage is the package clause stubs are formatted under.
const stubPackage = "package x\n"

func (w *Writer) writeStub(root *os.Root, dir, rel string, data []byte) error {
	if err := w.writeAtomic(root, rel, data); err != nil {
		return pathError(root, dir, rel, err)
	}
	return nil
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
		insert := lines.Bytes()
		if at > 0 && src[at-1] != '\n' { // import ("fmt")
			insert = append([]byte{'\n'}, insert...)
		}
		return splice(src, at, insert), nil
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

var versionElemRE = regexp.MustCompile(`^v[0-9]+$`)

// importName guesses the package name of an import path the way Go
// tooling does without loading it: the last element, skipping a major
// version ("math/rand/v2" → rand) and a gopkg.in ".vN" suffix. sure is
// false when the element is not an identifier (e.g. "go-yaml"), where the
// package may be named anything.
func importName(p string) (name string, sure bool) {
	elems := strings.Split(p, "/")
	name = elems[len(elems)-1]
	if versionElemRE.MatchString(name) && len(elems) > 1 {
		name = elems[len(elems)-2]
	}
	if i := strings.Index(name, ".v"); i > 0 && strings.HasPrefix(p, "gopkg.in/") {
		name = name[:i]
	}
	return name, token.IsIdentifier(name)
}
