package generator

import (
	"fmt"
	"strings"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// checkGoImports refuses blank and dot imports asked for by the spec
// (x-go-type-import), which would run or hide code in the generated
// package, and warns about every package outside the standard library: its
// code is compiled into the server, so it deserves the review a new
// dependency gets.
func checkGoImports(doc *spec.Doc) ([]string, error) {
	var warnings []string
	for _, imp := range doc.GoImports() {
		switch {
		case imp.Path == "":
			return nil, spec.Errorf(imp.Pos, "x-go-type-import has no path; give the package path, or remove the extension")
		case imp.Name == "_" || imp.Name == ".":
			return nil, spec.Errorf(imp.Pos, "x-go-type-import asks for a %q import of %s, which would run or hide code in the generated package; gatehouse refuses it: import the package under a name, or remove the extension", imp.Name, imp.Path)
		case strings.Contains(strings.SplitN(imp.Path, "/", 2)[0], "."):
			warnings = append(warnings, fmt.Sprintf("%s: the spec imports %s into the generated code (x-go-type-import); its code becomes part of the server: review it as a new dependency, and add it to go.mod", imp.Pos, imp.Path))
		}
	}
	return warnings, nil
}
