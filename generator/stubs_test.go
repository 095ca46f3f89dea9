package generator

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestEnsureImportsKeepsUserBytes(t *testing.T) {
	for _, src := range []string{
		"package h\n\nimport (\n\t\"fmt\"\n)\n\nvar _ = fmt.Sprint\n",
		"package h\n\nimport (\"fmt\")\n\nvar _ = fmt.Sprint\n",
		"package h\n\nimport \"fmt\"\n\nvar _ = fmt.Sprint\n",
		"package h // mine\n",
	} {
		out, err := ensureImports([]byte(src), []string{"context", "fmt"})
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), "", out, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%q became unparsable:\n%s", src, out)
		}
		var paths []string
		for _, im := range f.Imports {
			paths = append(paths, im.Path.Value)
		}
		if got := strings.Join(paths, " "); !strings.Contains(got, `"context"`) || strings.Count(got, `"fmt"`) != 1 {
			t.Errorf("%q: imports %s", src, got)
		}
	}
}
