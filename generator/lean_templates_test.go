package generator

import (
	"context"
	"go/parser"
	"go/token"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The modules of the store backends' drivers: the databases', and the
// Redis client of the counts instances share.
const (
	sqliteModule = "modernc.org/sqlite"
	pgxModule    = "github.com/jackc/pgx"
	redisModule  = "github.com/redis/go-redis"
)

// serverImports returns the imports reachable from the project's
// cmd/server package through the project's own packages, without test
// files: what its binary links of the project, and the outside packages
// those import. go list -deps says the same with the module cache at hand
// (testdata/script/template_*.txtar); this needs none, so it runs with
// -short.
func serverImports(t *testing.T, res *Result, module string) []string {
	t.Helper()
	imports := map[string][]string{} // project package dir → its imports
	fset := token.NewFileSet()
	for _, f := range res.Files {
		if !strings.HasSuffix(f.Path, ".go") || strings.HasSuffix(f.Path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f.Path, f.Data, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		dir := path.Dir(f.Path)
		for _, im := range file.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			imports[dir] = append(imports[dir], p)
		}
	}
	seen := map[string]bool{}
	var out []string
	var visit func(dir string)
	visit = func(dir string) {
		for _, p := range imports[dir] {
			if seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
			if rel, ok := strings.CutPrefix(p, module+"/"); ok {
				visit(rel)
			}
		}
	}
	visit("cmd/server")
	slices.Sort(out)
	return out
}

// The templates that store nothing link no database driver into their
// server (issue 11): only the full template's cmd/server imports
// internal/store/open, which opens every backend. The minimal template's
// links the Redis client alone (REDIS_URL shares its counts); the
// resource-server's opens no Redis.
func TestLeanTemplatesLinkNoDriver(t *testing.T) {
	const module = "example.com/pets"
	for _, tc := range []struct {
		template string
		linked   map[string]bool
	}{
		{"full", map[string]bool{sqliteModule: true, pgxModule: true, redisModule: true, module + "/internal/store/open": true}},
		{"minimal", map[string]bool{sqliteModule: false, pgxModule: false, redisModule: true, module + "/internal/store/open": false}},
		{"resource-server", map[string]bool{sqliteModule: false, pgxModule: false, redisModule: false, module + "/internal/store/open": false}},
	} {
		t.Run(tc.template, func(t *testing.T) {
			res, err := Generate(context.Background(), Options{SpecPath: "../specs/petstore.yaml", Module: module, Template: tc.template})
			if err != nil {
				t.Fatal(err)
			}
			deps := serverImports(t, res, module)
			if !slices.Contains(deps, module+"/internal/auth") {
				t.Fatalf("cmd/server does not reach internal/auth; imports: %q", deps)
			}
			for m, want := range tc.linked {
				linked := slices.ContainsFunc(deps, func(p string) bool { return p == m || strings.HasPrefix(p, m+"/") })
				if linked != want {
					t.Errorf("cmd/server links %s: %v, want %v", m, linked, want)
				}
			}
		})
	}
}
