package generator

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
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
	var runs [][]*ast.ImportSpec
	var decls []*ast.GenDecl
	for _, d := range f.Decls {
		d, ok := d.(*ast.GenDecl)
		if !ok || d.Tok != token.IMPORT {
			break
		}
		decls = append(decls, d)
		var run []*ast.ImportSpec
		for i, s := range d.Specs {
			s := s.(*ast.ImportSpec)
			if i > 0 && fset.Position(s.Pos()).Line > fset.Position(d.Specs[i-1].End()).Line+1 {
				runs, run = append(runs, run), nil
			}
			if importUsed(s, used) {
				run = append(run, s)
			}
		}
		runs = append(runs, run)
	}
	if len(decls) == 0 {
		return format.Source(code)
	}
	var block bytes.Buffer
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
	var out bytes.Buffer
	last := 0
	for i, d := range decls {
		out.Write(code[last:fset.Position(d.Pos()).Offset])
		if i == 0 && block.Len() > 0 {
			out.WriteString("import (\n" + block.String() + ")")
		}
		last = fset.Position(d.End()).Offset
	}
	out.Write(code[last:])
	return format.Source(out.Bytes())
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
