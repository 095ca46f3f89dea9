package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v4"
)

// repairDoc repairs src as a root document and returns the result decoded,
// with the repair messages.
func repairDoc(t *testing.T, src string, swagger2 bool, text func(string) (string, bool)) (map[string]any, []string) {
	t.Helper()
	out, repairs, _, err := RepairFile([]byte(src), RepairOptions{File: "spec.yaml", Roots: map[string]Kind{"": KindDocument}, Swagger2: swagger2, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, r := range repairs {
		msgs = append(msgs, r.String())
	}
	if len(repairs) == 0 {
		return nil, nil
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("repaired output is not JSON: %v\n%s", err, out)
	}
	return v, msgs
}

// at returns the value at the |-separated path in v.
func at(v any, path string) any {
	for _, p := range strings.Split(path, "|") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func wantRepairs(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("repairs = %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("repair %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestRepairRequiredBoolOnProperty(t *testing.T) {
	v, msgs := repairDoc(t, `openapi: 3.0.3
components:
  schemas:
    Pet:
      type: object
      required: [id]
      properties:
        id: {type: string}
        name:
          type: string
          required: true
        nick:
          type: string
          required: false
        required:
          type: boolean
`, false, nil)
	wantRepairs(t, msgs,
		"spec.yaml:11:11: `required: true` is not valid on property \"name\"",
		"spec.yaml:14:11: `required: false` is not valid inside a schema")
	if got := at(v, "components|schemas|Pet|required"); !reflect.DeepEqual(got, []any{"id", "name"}) {
		t.Errorf("required = %v, want [id name]", got)
	}
	if got := at(v, "components|schemas|Pet|properties|name"); !reflect.DeepEqual(got, map[string]any{"type": "string"}) {
		t.Errorf("name = %v", got)
	}
	// A property called "required" is a property, not the keyword.
	if got := at(v, "components|schemas|Pet|properties|required|type"); got != "boolean" {
		t.Errorf("property named required = %v", got)
	}
}

func TestRepairRequiredBoolLeavesParameters(t *testing.T) {
	v, msgs := repairDoc(t, `openapi: 3.0.3
paths:
  /a:
    put:
      parameters:
        - {name: q, in: query, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          image/jpeg:
            schema: {type: string, format: byte, required: true}
`, false, nil)
	wantRepairs(t, msgs, "spec.yaml:11:50: `required: true` is not valid inside a schema")
	if got := at(v, "paths|/a|put|parameters|0|required"); got != true {
		t.Errorf("parameter required = %v, want true", got)
	}
	if got := at(v, "paths|/a|put|requestBody|required"); got != true {
		t.Errorf("request body required = %v, want true", got)
	}
	if got := at(v, "paths|/a|put|requestBody|content|image/jpeg|schema"); !reflect.DeepEqual(got, map[string]any{"type": "string", "format": "byte"}) {
		t.Errorf("schema = %v", got)
	}
}

func TestRepairTextRef(t *testing.T) {
	text := func(ref string) (string, bool) {
		if ref == "intro.yml#/introduction" {
			return "Hello.", true
		}
		return "", false
	}
	v, msgs := repairDoc(t, `openapi: 3.0.3
info:
  title: t
  description: {$ref: "intro.yml#/introduction"}
tags:
  - name: a
    description: {$ref: "missing.yml#/x"}
components:
  schemas:
    A:
      properties:
        description: {$ref: "#/components/schemas/B"}
`, false, text)
	wantRepairs(t, msgs,
		"spec.yaml:4:3: description is a $ref to intro.yml#/introduction, but OpenAPI requires text here; gatehouse used the text",
		"spec.yaml:7:5: description is a $ref to missing.yml#/x, but OpenAPI requires text here and that text cannot be read; gatehouse left the description out")
	if got := at(v, "info|description"); got != "Hello." {
		t.Errorf("info.description = %v", got)
	}
	if got := at(v, "tags|0"); !reflect.DeepEqual(got, map[string]any{"name": "a"}) {
		t.Errorf("tag = %v", got)
	}
	if got := at(v, "components|schemas|A|properties|description|$ref"); got != "#/components/schemas/B" {
		t.Errorf("a property named description = %v", got)
	}
}

func TestRepairRefToWrongSection(t *testing.T) {
	v, msgs := repairDoc(t, `openapi: 3.0.3
paths:
  /a:
    put:
      requestBody: {$ref: "#/components/requestBodies/Thing"}
      responses:
        "200": {$ref: "#/components/requestBodies/ThingResponse"}
        "201": {$ref: "#/components/requestBodies/ThingResponse"}
components:
  responses:
    ThingResponse: {description: taken}
  requestBodies:
    Thing:
      content: {application/json: {schema: {type: object}}}
    ThingResponse:
      description: the thing
      required: true
      content: {application/json: {schema: {type: string}}}
`, false, nil)
	wantRepairs(t, msgs,
		"spec.yaml:7:23: $ref #/components/requestBodies/ThingResponse points to a request body where a response is required; gatehouse used a copy of it as #/components/responses/ThingResponse2",
		"spec.yaml:8:23: $ref #/components/requestBodies/ThingResponse points to a request body")
	for _, code := range []string{"200", "201"} {
		if got := at(v, "paths|/a|put|responses|"+code+"|$ref"); got != "#/components/responses/ThingResponse2" {
			t.Errorf("response %s $ref = %v", code, got)
		}
	}
	want := map[string]any{"description": "the thing", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "string"}}}}
	if got := at(v, "components|responses|ThingResponse2"); !reflect.DeepEqual(got, want) {
		t.Errorf("copy = %v", got)
	}
	if got := at(v, "components|responses|ThingResponse|description"); got != "taken" {
		t.Errorf("existing response changed: %v", got)
	}
}

func TestRepairItemsList(t *testing.T) {
	v, msgs := repairDoc(t, `openapi: 3.0.3
components:
  schemas:
    A:
      type: array
      items: [{$ref: "#/components/schemas/B"}, {type: "null"}]
    C:
      type: array
      items: [{type: string}, {type: integer}]
    D:
      type: array
      items: [{type: string}]
`, false, nil)
	wantRepairs(t, msgs,
		"spec.yaml:6:7: `items` is a list of 2 schemas",
		"spec.yaml:9:7: `items` is a list of 2 schemas",
		"spec.yaml:12:7: `items` is a list of 1 schemas")
	if got := at(v, "components|schemas|A|items"); !reflect.DeepEqual(got, map[string]any{"allOf": []any{map[string]any{"$ref": "#/components/schemas/B"}}, "nullable": true}) {
		t.Errorf("A.items = %v", got)
	}
	if got := at(v, "components|schemas|C|items|anyOf"); !reflect.DeepEqual(got, []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}) {
		t.Errorf("C.items = %v", got)
	}
	if got := at(v, "components|schemas|D|items"); !reflect.DeepEqual(got, map[string]any{"type": "string"}) {
		t.Errorf("D.items = %v", got)
	}
}

func TestRepairSwagger2TypeList(t *testing.T) {
	v, msgs := repairDoc(t, `swagger: "2.0"
definitions:
  A:
    type: object
    properties:
      a: {type: [string, "null"]}
      b: {type: [object, array, "null"]}
      type: {type: string}
    items: [{type: integer}, {type: string}]
`, true, nil)
	wantRepairs(t, msgs,
		"spec.yaml:6:11: `type: [string, null]` is a list, which Swagger 2.0 does not allow; gatehouse read it as `type: string` with `x-nullable: true`",
		"spec.yaml:7:11: `type: [object, array, null]` is a list, which Swagger 2.0 does not allow; gatehouse accepts any JSON type here with `x-nullable: true`",
		"spec.yaml:9:5: `items` is a list of 2 schemas")
	if got := at(v, "definitions|A|properties|a"); !reflect.DeepEqual(got, map[string]any{"type": "string", "x-nullable": true}) {
		t.Errorf("a = %v", got)
	}
	if got := at(v, "definitions|A|properties|b"); !reflect.DeepEqual(got, map[string]any{"x-nullable": true}) {
		t.Errorf("b = %v", got)
	}
	if got := at(v, "definitions|A|items"); !reflect.DeepEqual(got, map[string]any{}) {
		t.Errorf("items = %v", got)
	}
}

// A file reached through $refs is walked from the places they point to,
// as the kind of object each expects, and reports its own $refs onwards.
func TestRepairReferencedFile(t *testing.T) {
	out, repairs, refs, err := RepairFile([]byte(`Pet:
  type: object
  properties:
    name: {type: string, required: true}
    owner: {$ref: "people.yml#/Person"}
Unused:
  required: true
`), RepairOptions{File: "models/pets.yml", Roots: map[string]Kind{"/Pet": KindSchema}})
	if err != nil {
		t.Fatal(err)
	}
	if len(repairs) != 1 || repairs[0].Pos.String() != "models/pets.yml:4:26" {
		t.Fatalf("repairs = %v", repairs)
	}
	if want := []ExternalRef{{Ref: "people.yml#/Person", Kind: KindSchema}}; !reflect.DeepEqual(refs, want) {
		t.Errorf("refs = %v, want %v", refs, want)
	}
	if !strings.Contains(string(out), `"Unused":{"required":true}`) {
		t.Errorf("a part no $ref reaches was changed: %s", out)
	}
}

func TestRepairNothingToDo(t *testing.T) {
	src := []byte("openapi: 3.0.3\npaths: {}\n")
	out, repairs, _, err := RepairFile(src, RepairOptions{File: "spec.yaml", Roots: map[string]Kind{"": KindDocument}})
	if err != nil || len(repairs) != 0 || string(out) != string(src) {
		t.Fatalf("RepairFile = %q, %v, %v; want the input unchanged", out, repairs, err)
	}
}

// An operation given as a $ref is replaced by what it points to, with the
// $refs inside made relative to the file it lands in; a properties map given
// as a $ref is replaced by the map.
func TestRepairInlineOperation(t *testing.T) {
	op := `operationId: createPet
requestBody:
  content:
    application/json:
      schema:
        properties: {$ref: "#/props"}
        discriminator: {propertyName: kind, mapping: {cat: "models/cat.yaml", dog: Dog}}
responses:
  "201": {$ref: "../shared/responses.yaml#/Created"}
props:
  name: {type: string}
`
	inline := func(ref string) (*yaml.Node, string, func(string) string, bool) {
		file, frag, _ := strings.Cut(ref, "#")
		var doc yaml.Node
		if file != "ops/pet.yaml" || yaml.Unmarshal([]byte(op), &doc) != nil {
			return nil, "", nil, false
		}
		return resolvePointer(doc.Content[0], frag), "api/ops/pet.yaml", func(s string) string {
			if strings.HasPrefix(s, "#") {
				return "ops/pet.yaml" + s
			}
			return "ops/" + s
		}, true
	}
	out, repairs, refs, err := RepairFile([]byte(`openapi: 3.0.3
paths:
  /pets:
    post: {$ref: ops/pet.yaml}
    put: {$ref: ops/missing.yaml}
`), RepairOptions{File: "api/root.yaml", Roots: map[string]Kind{"": KindDocument}, Inline: inline})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, r := range repairs {
		msgs = append(msgs, r.String())
	}
	wantRepairs(t, msgs,
		"api/ops/pet.yaml:6:28: properties is a $ref to #/props, but OpenAPI requires a map of schemas here",
		"api/root.yaml:4:18: the operation is a $ref to ops/pet.yaml, but OpenAPI does not allow $ref for an operation")
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	schema := at(v, "paths|/pets|post|requestBody|content|application/json|schema")
	if got := at(schema, "properties|name|type"); got != "string" {
		t.Errorf("properties = %v", at(schema, "properties"))
	}
	if got := at(schema, "discriminator|mapping"); !reflect.DeepEqual(got, map[string]any{"cat": "ops/models/cat.yaml", "dog": "Dog"}) {
		t.Errorf("discriminator mapping = %v", got)
	}
	if got := at(v, "paths|/pets|put|$ref"); got != "ops/missing.yaml" {
		t.Errorf("an operation that cannot be read changed: %v", got)
	}
	want := []ExternalRef{{Ref: "ops/missing.yaml", Kind: KindOperation}, {Ref: "ops/../shared/responses.yaml#/Created", Kind: KindResponse}}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("refs = %v, want %v", refs, want)
	}
}
