package generator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/imports"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// TestFormatGoMatchesGoimports checks that formatting oapi-codegen's output
// in process gives, byte for byte, what goimports (which runs the go
// command) gave it, for the repository's specs and some large corpus specs.
// Both are compared with gatehouse's header in place of oapi-codegen's, as
// the project gets them.
func TestFormatGoMatchesGoimports(t *testing.T) {
	specs, err := filepath.Glob(filepath.Join("..", "specs", "*.yaml"))
	if err != nil || len(specs) == 0 {
		t.Fatalf("no specs in ../specs: %v", err)
	}
	corpus := os.Getenv("GATEHOUSE_CORPUS")
	if corpus == "" {
		corpus = filepath.Join("..", "..", "shared", "corpus", "specs")
	}
	if _, err := os.Stat(corpus); err != nil {
		t.Logf("corpus %s not available; checking the repository's specs only", corpus)
	} else if testing.Short() {
		t.Log("-short: checking the repository's specs only, not the corpus")
	} else {
		for _, name := range []string{"discord-openapi.json", "plaid-2020-09-14.yml", "twilio-api-v2010.yaml", "box-openapi.json", "swagger-petstore-v3-openapi.yaml"} {
			specs = append(specs, filepath.Join(corpus, name))
		}
	}
	for _, p := range specs {
		t.Run(filepath.Base(p), func(t *testing.T) {
			doc, err := spec.Load(context.Background(), p)
			if err != nil {
				t.Skipf("does not load: %v", err)
			}
			api, err := model.Build(doc, model.Options{})
			if err != nil {
				t.Skipf("no model: %v", err)
			}
			raw, _, err := rawAPI(doc, api, false)
			if err != nil {
				t.Skipf("does not generate: %v", err)
			}
			want, err := imports.Process("api.go", raw, nil)
			if err != nil {
				t.Fatalf("goimports: %v", err)
			}
			want = replaceHeader(want)
			got, err := formatGo(replaceHeader(raw))
			if err != nil {
				t.Fatalf("formatGo: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("formatGo differs from goimports; first difference:\n%s", firstDiff(got, want))
			}
		})
	}
}

// TestFormatGoPrunesImports checks the cases oapi-codegen's output rarely
// shows: unused imports at the start and end of runs, a shadowed package
// name, a run mixing groups, and blank and dot imports.
func TestFormatGoPrunesImports(t *testing.T) {
	src := `package api
import (
	"bytes"
	"fmt"
	"go.yaml.in/yaml/v3"
	"io"
	. "math"
	"path"
	_ "embed"
	"net/http"
	"strings"

	"github.com/oapi-codegen/runtime"
	"github.com/oapi-codegen/nullable"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/go-chi/chi/v5"
)
func f(path string) string { fmt.Println(yaml.Node{}, Pi, http.MethodGet, chi.URLParam); return path.Clean }
var _ openapi_types.Date
`
	want, err := imports.Process("api.go", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := formatGo([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%s\nwant (goimports)\n%s", got, want)
	}
	if _, err := formatGo([]byte("package api\nfunc {")); err == nil {
		t.Error("code that does not parse accepted")
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got:  %s\n want: %s", i+1, gl, wl)
		}
	}
	return ""
}
