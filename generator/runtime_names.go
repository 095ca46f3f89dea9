package generator

import "strings"

// runtimeDirs are the directories of the built-in templates whose Go files
// (and Go templates) are all generated in a project: the authentication
// runtime, its store, the routes, the test client and the API reference.
//
// In gatehouse's repository those files are the source: they carry neither
// the generated header nor the _gen suffix, so linters and contributors read
// them as the code they are. The copy into a project adds both (see
// generatedName), so a project keeps its ownership tiers: guard.go is
// written as internal/auth/guard_gen.go, starting with GeneratedHeader.
var runtimeDirs = []string{
	"internal/auth/",
	"internal/docs/",
	"internal/routes/",
	"internal/store/",
	"internal/testclient/",
}

// repoTestSuffix ends the names of tests of gatehouse's own that sit beside
// the runtime but are not copied into projects (they check the templates
// against the repository, e.g. .env.example against the configuration).
const repoTestSuffix = "_repo_test.go"

// generatedName maps the path of a built-in template file to the path it
// has in a project, and reports whether it is a generated runtime file:
// internal/auth/guard.go → internal/auth/guard_gen.go,
// internal/auth/guard_test.go → internal/auth/guard_gen_test.go, and
// likewise for .go.tmpl templates. Other paths are returned unchanged.
// Overrides from a template directory name project paths (guard_gen.go)
// and replace the built-in file of that name.
func generatedName(p string) (string, bool) {
	in := false
	for _, d := range runtimeDirs {
		if strings.HasPrefix(p, d) {
			in = true
			break
		}
	}
	if !in || partial(p) || strings.HasSuffix(p, repoTestSuffix) {
		return p, false
	}
	tmpl := strings.HasSuffix(p, ".tmpl")
	stem := strings.TrimSuffix(p, ".tmpl")
	if !strings.HasSuffix(stem, ".go") {
		return p, false
	}
	stem = strings.TrimSuffix(stem, ".go")
	if t, ok := strings.CutSuffix(stem, "_test"); ok {
		stem = t + "_gen_test.go"
	} else {
		stem += "_gen.go"
	}
	if tmpl {
		stem += ".tmpl"
	}
	return stem, true
}
