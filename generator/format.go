package generator

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// formatGo does to oapi-codegen's unformatted output what goimports did
// for it, without goimports, which runs the go command (go env, and a
// toolchain download when a go.mod asks for a newer Go): it removes the
// imports the code does not use (oapi-codegen's template imports a fixed
// list), sorts and groups the rest as goimports does, and formats.
//
// It follows goimports' own rules, so the output is identical: a package
// is used when a selector pkg.Exported names it and the parser did not
// resolve pkg to a declaration in the file; an unnamed import is known by
// the name its path suggests; each run of imports (lines without a blank
// line between them) is sorted on its own, standard library first, and
// groups within a run are set apart by a blank line. The imports end up in
// one parenthesised block, and comments among them are not kept: that is
// how oapi-codegen writes them, with none.
func formatGo(code []byte) ([]byte, error) {
	fset := token.NewFileSet()
	// Comments do not matter here (format.Source keeps them); skipping
	// them makes this parse cheaper.
	f, err := parser.ParseFile(fset, "api.go", code, 0)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			// The parser's resolution, as goimports uses it.
			if x, ok := sel.X.(*ast.Ident); ok && x.Obj == nil && ast.IsExported(sel.Sel.Name) {
				used[x.Name] = true
			}
		}
		return true
	})

	// Rebuild the import declarations as one block in place of the first.
	var decls []*ast.GenDecl
	for _, d := range f.Decls {
		d, ok := d.(*ast.GenDecl)
		if !ok || d.Tok != token.IMPORT {
			break
		}
		decls = append(decls, d)
	}
	if len(decls) == 0 {
		return format.Source(code)
	}
	block := importBlock(fset, decls, func(s *ast.ImportSpec) bool { return importUsed(s, used) })
	var out bytes.Buffer
	last := 0
	for i, d := range decls {
		out.Write(code[last:fset.Position(d.Pos()).Offset])
		if i == 0 && block != "" {
			out.WriteString(block)
		}
		last = fset.Position(d.End()).Offset
	}
	out.Write(code[last:])
	return format.Source(out.Bytes())
}

// importBlock writes the imports of decls that keep accepts as one
// parenthesised declaration, as goimports groups them: each run of imports
// (lines without a blank line between them) sorted on its own, standard
// library first, groups within a run set apart by a blank line. It returns
// "" when no import is kept.
func importBlock(fset *token.FileSet, decls []*ast.GenDecl, keep func(*ast.ImportSpec) bool) string {
	var runs [][]*ast.ImportSpec
	for _, d := range decls {
		var run []*ast.ImportSpec
		for i, s := range d.Specs {
			s := s.(*ast.ImportSpec)
			if i > 0 && fset.Position(s.Pos()).Line > fset.Position(d.Specs[i-1].End()).Line+1 {
				runs, run = append(runs, run), nil
			}
			if keep(s) {
				run = append(run, s)
			}
		}
		runs = append(runs, run)
	}
	var block strings.Builder
	for _, run := range runs {
		if len(run) == 0 {
			continue
		}
		sort.SliceStable(run, func(i, j int) bool {
			a, b := run[i], run[j]
			if ga, gb := importGroup(a), importGroup(b); ga != gb {
				return ga < gb
			}
			if a.Path.Value != b.Path.Value {
				return a.Path.Value < b.Path.Value
			}
			return specName(a) < specName(b)
		})
		if block.Len() > 0 {
			block.WriteString("\n")
		}
		for i, s := range run {
			if i > 0 && s.Path.Value == run[i-1].Path.Value && specName(s) == specName(run[i-1]) {
				continue // a duplicate
			}
			if i > 0 && importGroup(s) != importGroup(run[i-1]) {
				block.WriteString("\n")
			}
			block.WriteString("\t")
			if s.Name != nil {
				block.WriteString(s.Name.Name + " ")
			}
			block.WriteString(s.Path.Value + "\n")
		}
	}
	if block.Len() == 0 {
		return ""
	}
	return "import (\n" + block.String() + ")"
}

// formatAPI returns formatGo(replaceHeader(rawMarshalers(c.code))) for
// oapi-codegen's output that type-checked without a fault, from the tree
// already parsed and checked instead of three more parses: the file is
// printed without its import declaration, and the import block goimports
// would write, the header and the methods rawMarshalers adds are put in
// their places in the printed text. Whether an import is used is the type
// checker's answer, which is goimports' for code without faults (see
// keptImport). Files laid out otherwise than oapi-codegen's templates lay
// them out take the longer way.
func formatAPI(c *checked) ([]byte, error) {
	slow := func() ([]byte, error) { return formatGo(replaceHeader(rawMarshalers(c.code))) }
	f := c.file
	if len(f.Decls) < 2 {
		return slow()
	}
	imp, ok := f.Decls[0].(*ast.GenDecl)
	if !ok || imp.Tok != token.IMPORT {
		return slow()
	}
	if next, ok := f.Decls[1].(*ast.GenDecl); ok && next.Tok == token.IMPORT {
		return slow()
	}
	if !c.importsApart(imp, f.Decls[1]) {
		return slow()
	}
	block := importBlock(c.fset, []*ast.GenDecl{imp}, c.keptImport)
	if block == "" {
		return slow()
	}
	out, err := c.rest()
	if err != nil {
		return nil, err
	}
	// The package clause, then a blank line before the first declaration.
	i := bytes.Index(out, []byte("\npackage "))
	if i < 0 {
		return slow()
	}
	eol := i + 1 + bytes.IndexByte(out[i+1:], '\n')
	if eol <= i || !bytes.HasPrefix(out[eol:], []byte("\n\n")) {
		return slow()
	}
	var b bytes.Buffer
	b.Grow(len(out) + len(block) + 2)
	b.Write(out[:eol+2])
	b.WriteString(block)
	b.WriteString("\n\n")
	b.Write(out[eol+2:])
	return appendMarshalers(replaceHeader(b.Bytes()), rawTypes(f)), nil
}

// printRest returns the formatted text of f without its first declaration
// (oapi-codegen's imports, which formatAPI writes as goimports would). With
// more than one CPU the printing starts at once, beside the type check: both
// only read the tree, and printing a large file takes about as long as
// checking it. When the check finds faults the text is not used, and the
// next pass prints its own file: a spec that needs repairs so costs a
// print per pass in vain, on the other CPU, which the wall time of the
// one that needs none pays for (bench/generate.sh).
func printRest(fset *token.FileSet, f *ast.File) func() ([]byte, error) {
	printDecls := func() ([]byte, error) {
		if len(f.Decls) < 2 {
			return nil, nil
		}
		file := *f
		file.Decls = f.Decls[1:]
		var b bytes.Buffer
		err := format.Node(&b, fset, &file)
		return b.Bytes(), err
	}
	if runtime.GOMAXPROCS(0) > 1 {
		return background(printDecls)
	}
	return printDecls
}

// importsApart reports whether nothing but blank space lies between the
// package clause and the import declaration imp, and at least one blank
// line and no comment between imp and what follows it (next and its doc
// comment): then the printer separates imp from both by exactly one blank
// line, whatever imp holds, and imp can be printed apart.
func (c *checked) importsApart(imp *ast.GenDecl, next ast.Decl) bool {
	after := next.Pos()
	for _, g := range c.file.Comments {
		if g.Pos() > c.file.Name.End() && g.Pos() < imp.End() {
			return false
		}
		if g.Pos() > imp.End() && g.Pos() < after {
			after = g.Pos()
		}
	}
	return c.fset.Position(after).Line >= c.fset.Position(imp.End()).Line+2
}

// keptImport reports whether goimports keeps import s of checked code
// without faults. Blank and dot imports, and cgo's, are kept. A package is
// used when the code refers to it by name, the name goimports assumes for
// its path (see assumedName), which is the name the type checker knows it
// by (see emptyImporter): what the type checker reports unused, goimports
// drops.
func (c *checked) keptImport(s *ast.ImportSpec) bool {
	p, _ := strconv.Unquote(s.Path.Value)
	name := specName(s)
	return name == "_" || name == "." || p == "C" || !c.unused[s.Pos()]
}

// importUsed reports whether goimports would keep the import.
func importUsed(s *ast.ImportSpec, used map[string]bool) bool {
	p, _ := strconv.Unquote(s.Path.Value)
	name := specName(s)
	return name == "_" || name == "." || p == "C" || used[name] || name == "" && used[assumedName(p)]
}

func specName(s *ast.ImportSpec) string {
	if s.Name == nil {
		return ""
	}
	return s.Name.Name
}

// importGroup is goimports' group of an import path: the standard library
// (no dot in the first element) first, then the rest, then appengine.
func importGroup(s *ast.ImportSpec) int {
	p, _ := strconv.Unquote(s.Path.Value)
	first, _, _ := strings.Cut(p, "/")
	switch {
	case strings.HasPrefix(p, "appengine"):
		return 2
	case strings.Contains(first, "."):
		return 1
	}
	return 0
}

// assumedName is the package name goimports assumes for an import path:
// its last element, skipping a major version element, without a "go-"
// prefix, up to the first character not allowed in an identifier.
func assumedName(importPath string) string {
	base := path.Base(importPath)
	if strings.HasPrefix(base, "v") {
		if _, err := strconv.Atoi(base[1:]); err == nil && path.Dir(importPath) != "." {
			base = path.Base(path.Dir(importPath))
		}
	}
	base = strings.TrimPrefix(base, "go-")
	if i := strings.IndexFunc(base, func(r rune) bool {
		return r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}); i >= 0 {
		base = base[:i]
	}
	return base
}
