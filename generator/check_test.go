package generator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// TestCheckAPIReportsLocalFaultsOnly checks that code oapi-codegen got wrong
// is refused with the spec construct it concerns, while references to the
// imported packages (not loaded by the check) raise nothing.
func TestCheckAPIReportsLocalFaultsOnly(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "spec.yaml")
	err := os.WriteFile(specPath, []byte(`openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      responses: {"200": {description: ok}}
components:
  schemas:
    Pet: {type: object}
    PetKind: {type: string}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spec.Load(context.Background(), specPath)
	if err != nil {
		t.Fatal(err)
	}
	api, err := model.Build(doc, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	api.Operations[0].GoName = "ListPets"

	good := `package api

import (
	"net/http"

	"github.com/oapi-codegen/runtime"
)

type Pet struct{ Name string }

func ListPets(w http.ResponseWriter, r *http.Request) error {
	var p Pet
	return runtime.BindStyledParameter("simple", "id", r.URL.Path, &p.Name)
}
`
	if err := checkAPI(doc, api, []byte(good)); err != nil {
		t.Errorf("compiling code refused: %v", err)
	}

	tests := []struct {
		code, wantMsg, wantPos string
	}{
		{"package api\ntype PetKindDog int\ntype PetKindDog string\n", "PetKindDog redeclared", "spec.yaml:11:5"},
		{"package api\nvar x ListPetsResponseThing\n", "undefined: ListPetsResponseThing", "spec.yaml:5:5"},
	}
	for _, tt := range tests {
		err := checkAPI(doc, api, []byte(tt.code))
		if err == nil {
			t.Errorf("%q: accepted", tt.code)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), tt.wantPos) {
			t.Errorf("error %q, want %q at %s", err, tt.wantMsg, tt.wantPos)
		}
	}
}

func TestImportName(t *testing.T) {
	for _, tt := range []struct {
		path, name string
		sure       bool
	}{
		{"context", "context", true},
		{"math/rand/v2", "rand", true},
		{"github.com/golang-jwt/jwt/v5", "jwt", true},
		{"gopkg.in/yaml.v3", "yaml", true},
		{"example.com/x/internal/api", "api", true},
		{"github.com/foo/go-bar", "go-bar", false},
	} {
		name, sure := importName(tt.path)
		if name != tt.name || sure != tt.sure {
			t.Errorf("importName(%q) = %q, %v; want %q, %v", tt.path, name, sure, tt.name, tt.sure)
		}
	}
}

// Faults in the typed client's code are named after the operation they
// belong to, so the repair or degradation reaches that operation: a method
// of the client types by its name, a request builder or response parser
// without its prefix; methods of other types keep their receiver's name.
func TestTypeCheckNamesClientFaultsAfterOperation(t *testing.T) {
	code := `package api

type HTTPClient struct{}
type ClientWithResponses struct{}
type Pet struct{}

func (c *HTTPClient) GetPet() { _ = undefinedA }
func (c *ClientWithResponses) GetPetWithResponse() { _ = undefinedB }
func NewGetPetRequestWithBody() { _ = undefinedC }
func ParseGetPetResponse() { _ = undefinedD }
func (p Pet) AsCat() { _ = undefinedE }
`
	faults, err := typeCheck([]byte(code), "HTTPClient")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range faults {
		got = append(got, f.Decl)
	}
	want := []string{"GetPet", "GetPetWithResponse", "GetPetRequestWithBody", "GetPetResponse", "Pet"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("faults in %v, want %v", got, want)
	}
}

// An import whose last path element is a version (go.yaml.in/yaml/v3,
// which the typed client uses for YAML responses) is used by the name the
// go command gives it, not reported as undefined.
func TestTypeCheckVersionedImport(t *testing.T) {
	code := `package api

import "go.yaml.in/yaml/v3"

func ParseThing(b []byte) error {
	var v any
	return yaml.Unmarshal(b, &v)
}
`
	faults, err := typeCheck([]byte(code), "Client")
	if err != nil {
		t.Fatal(err)
	}
	if len(faults) > 0 {
		t.Errorf("faults %+v, want none", faults)
	}
}
