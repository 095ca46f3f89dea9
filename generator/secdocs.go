package generator

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
)

// securityChanges lists the operations of res whose callers differ from
// what the last run recorded. A record that does not read back is passed
// over: the manifest is a file of the project, and this report only
// informs.
func securityChanges(previous *Manifest, res *Result) []model.SecurityChange {
	old := make(map[string]model.Security, len(previous.Security))
	for route, s := range previous.Security {
		if sec, err := model.ParseSecurity(s); err == nil {
			old[route] = sec
		}
	}
	now := make(map[string]model.Security, len(res.API.Operations))
	for _, op := range res.API.Operations {
		now[op.Method+" "+op.Path] = op.Security
	}
	return model.CompareSecurity(old, now)
}

// updateSecurityDocs reports each operation whose callers changed since the
// last run, and updates the Security line of the doc comment gatehouse
// wrote for its handler method. methods are the handler methods before
// this run added stubs: a stub added now already says the current security.
func (w *Writer) updateSecurityDocs(root *os.Root, dir string, methods []handlerMethod, res *Result, previous *Manifest, report *StubReport) error {
	changes := securityChanges(previous, res)
	if len(changes) == 0 {
		return nil
	}
	files := make(map[string]string, len(methods)) // method → file
	for _, m := range methods {
		if _, ok := files[m.Name]; !ok {
			files[m.Name] = m.File
		}
	}
	ops := make(map[string]opData, len(res.data.Ops)) // "GET /x" → op
	for _, op := range res.data.Ops {
		ops[op.Method+" "+op.Path] = op
	}
	for _, c := range changes {
		report.Security = append(report.Security, c.String())
		op := ops[c.Route]
		file, ok := files[op.GoName]
		if !ok {
			continue // renamed: the stub added for it is current
		}
		was := op
		was.Security = c.Old
		state, err := w.updateSecurityDoc(root, dir, file, was, op, res.renderer)
		if err != nil {
			return err
		}
		where := fmt.Sprintf("%s in %s", op.GoName, file)
		switch state {
		case docUpdated:
			report.Docs = append(report.Docs, where)
		case docForeign:
			report.StaleDocs = append(report.StaleDocs, where)
		}
	}
	return nil
}

// docState is what updateSecurityDoc found.
type docState int

const (
	docCurrent docState = iota // the doc comment needs no change
	docUpdated                 // its Security line was rewritten
	docForeign                 // it does not hold the Security line gatehouse wrote
)

// updateSecurityDoc rewrites, in the doc comment of op's handler method in
// file, the lines the stub template wrote for was's security into the lines
// it writes for op's. They are recognised exactly: the lines in which the
// two renderings of the stub's doc comment differ must appear in the doc
// comment, unchanged and consecutive. Nothing else in the file changes, not
// a byte.
func (w *Writer) updateSecurityDoc(root *os.Root, dir, file string, was, op opData, r *renderer) (docState, error) {
	oldDoc, err := r.stubDoc(was)
	if err != nil {
		return 0, err
	}
	newDoc, err := r.stubDoc(op)
	if err != nil {
		return 0, err
	}
	oldLines, newLines := differing(oldDoc, newDoc)
	if len(oldLines) == 0 {
		// The template does not show the security (a template directory
		// may override the stub), or not on lines of its own.
		return docCurrent, nil
	}
	src, err := readRegular(root, dir, file)
	if err != nil {
		return 0, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return 0, err
	}
	fn := handlersMethod(f, op.GoName)
	if fn == nil || fn.Doc == nil {
		return docForeign, nil
	}
	start, end, ok := findLines(fset, src, fn.Doc, oldLines)
	if !ok {
		if _, _, current := findLines(fset, src, fn.Doc, newLines); current {
			return docCurrent, nil
		}
		return docForeign, nil
	}
	out := append([]byte{}, src[:start]...)
	out = append(out, strings.Join(newLines, "\n")...)
	out = append(out, src[end:]...)
	if err := w.writeAtomic(root, file, out); err != nil {
		return 0, pathError(root, dir, file, err)
	}
	return docUpdated, nil
}

// stubDoc returns the lines of the doc comment of op's stub, as written into
// a file.
func (r *renderer) stubDoc(op opData) ([]string, error) {
	text, err := r.formattedStubs([]opData{op})
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(token.NewFileSet(), "", stubPackage+string(text), parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("internal error: the stub of %s does not parse: %v", op.GoName, err)
	}
	fn := handlersMethod(f, op.GoName)
	if fn == nil || fn.Doc == nil {
		return nil, nil
	}
	lines := make([]string, len(fn.Doc.List))
	for i, c := range fn.Doc.List {
		lines[i] = c.Text
	}
	return lines, nil
}

// differing strips the lines a and b begin and end with in common, and
// returns what remains of each.
func differing(a, b []string) ([]string, []string) {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return a[p : len(a)-s], b[p : len(b)-s]
}

// findLines returns the byte range in src of the first run of comments of
// doc whose text is lines, one per line and nothing between them.
func findLines(fset *token.FileSet, src []byte, doc *ast.CommentGroup, lines []string) (start, end int, ok bool) {
	if len(lines) == 0 {
		return 0, 0, false
	}
	want := strings.Join(lines, "\n")
	for i := 0; i+len(lines) <= len(doc.List); i++ {
		run := doc.List[i : i+len(lines)]
		if !slices.EqualFunc(run, lines, func(c *ast.Comment, l string) bool { return c.Text == l }) {
			continue
		}
		start = fset.Position(run[0].Pos()).Offset
		end = fset.Position(run[len(run)-1].End()).Offset
		if string(src[start:end]) == want {
			return start, end, true
		}
	}
	return 0, 0, false
}
