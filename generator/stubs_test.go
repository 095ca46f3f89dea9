package generator

import (
	"bytes"
	"go/format"
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

func TestCommentUnusedImportsStaysGofmtClean(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{ // one import of a block unused: commented after its indentation
			"package h\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"os\"\n)\n\nvar _ context.Context\nvar _ = os.Args\n",
			"package h\n\nimport (\n\t\"context\"\n\t// \"fmt\"\n\t\"os\"\n)\n\nvar _ context.Context\nvar _ = os.Args\n",
		},
		{ // every import of a block unused: the block, whole
			"package h\n\nimport (\n\t\"context\"\n\n\tstr \"strings\"\n)\n\nvar x = 1\n",
			"package h\n\n// import (\n// \t\"context\"\n//\n// \tstr \"strings\"\n// )\n\nvar x = 1\n",
		},
		{ // a single import declaration
			"package h\n\nimport \"fmt\"\n\nvar x = 1\n",
			"package h\n\n// import \"fmt\"\n\nvar x = 1\n",
		},
		{ // kept: used, blank, dot, and a name that is not sure
			"package h\n\nimport (\n\t_ \"embed\"\n\t\"example.com/go-yaml\"\n\t. \"fmt\"\n)\n\nvar _ = Sprint\n",
			"package h\n\nimport (\n\t_ \"embed\"\n\t\"example.com/go-yaml\"\n\t. \"fmt\"\n)\n\nvar _ = Sprint\n",
		},
	} {
		got, err := commentUnusedImports([]byte(tc.src))
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if string(got) != tc.want {
			t.Errorf("commentUnusedImports(%q)\n got %q\nwant %q", tc.src, got, tc.want)
		}
		if formatted, err := format.Source(got); err != nil || !bytes.Equal(formatted, got) {
			t.Errorf("gofmt changes the result of %q:\n%s", tc.src, got)
		}
	}
}
