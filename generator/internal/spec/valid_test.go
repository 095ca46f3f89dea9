package spec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validSpec is a document whose schema Pet is reached from two responses
// and from a schema; {{NESTED}} is put deep inside it, under a property of
// an inline item schema of a property.
const validSpec = `openapi: {{VERSION}}
info: {title: t, version: "1"}
paths:
  /pets:
    get:
      parameters:
        - {name: tag, in: query, schema: {type: array, items: {type: string}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Pet"}}
  /pets/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
components:
  schemas:
    Owner:
      type: object
      properties:
        pets: {type: array, items: {$ref: "#/components/schemas/Pet"}}
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        owner: {$ref: "#/components/schemas/Owner"}
        tags:
          type: array
          items:
            type: object
            properties:
              deep: {{NESTED}}
`

// TestValidAgreesWithValidate checks that Valid says true exactly when
// Validate has nothing to say, for faults of a schema's own that lie deep
// in the schemas (a version's keyword in the other version, too), and that
// it leaves the document as it found it.
func TestValidAgreesWithValidate(t *testing.T) {
	for _, tt := range []struct {
		name, version, nested string
		valid                 bool
	}{
		{"valid 3.0", "3.0.3", "{type: string}", true},
		{"valid 3.1", "3.1.0", "{type: [string, 'null']}", true},
		{"array without items", "3.0.3", "{type: array}", false},
		{"multipleOf 0", "3.0.3", "{type: number, multipleOf: 0}", false},
		{"duplicate required", "3.0.3", "{type: object, required: [a, a]}", false},
		{"3.1 keyword in 3.0", "3.0.3", "{const: 1}", false},
		{"3.0 bound in 3.1", "3.1.0", "{type: number, minimum: 1, exclusiveMinimum: true}", false},
		{"unknown type in allOf", "3.0.3", "{allOf: [{type: strange}]}", false},
		{"unknown type in discriminator mapping", "3.0.3", "{oneOf: [{$ref: '#/components/schemas/Owner'}], discriminator: {propertyName: kind, mapping: {o: '#/components/schemas/Odd'}}}\n    Odd: {type: strange}", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("{{VERSION}}", tt.version, "{{NESTED}}", tt.nested).Replace(validSpec)
			p := filepath.Join(t.TempDir(), "spec.yaml")
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			doc, err := Load(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			notice := doc.Validate(context.Background())
			if (notice == "") != tt.valid {
				t.Fatalf("the test's spec: Validate = %q, want valid %v", notice, tt.valid)
			}
			before, err := doc.T.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Valid(context.Background()); got != tt.valid {
				t.Errorf("Valid = %v, Validate = %q", got, notice)
			}
			after, err := doc.T.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("Valid changed the document")
			}
			if again := doc.Validate(context.Background()); again != notice {
				t.Errorf("Validate after Valid = %q, before %q", again, notice)
			}
		})
	}
}

// TestValidAgreesWithValidateOnCorpus checks Valid against Validate on
// large real specs, valid and not.
func TestValidAgreesWithValidateOnCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: corpus specs not checked")
	}
	dir := os.Getenv("GATEHOUSE_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "corpus", "specs")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus %s not available", dir)
	}
	for _, name := range []string{"stripe-spec3-2023-09.yaml", "discord-openapi.json", "sentry-openapi-derefed.json", "datadog-v1-openapi.yaml", "box-openapi.json", "twilio-api-v2010.yaml", "okta-management-minimal.yaml", "asana-oas.yaml"} {
		t.Run(name, func(t *testing.T) {
			doc, err := Load(context.Background(), filepath.Join(dir, name))
			if err != nil {
				t.Skipf("does not load: %v", err)
			}
			notice := doc.Validate(context.Background())
			if got := doc.Valid(context.Background()); got != (notice == "") {
				t.Errorf("Valid = %v, Validate = %q", got, notice)
			}
		})
	}
}
