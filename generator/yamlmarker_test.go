package generator

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestLoadFriendly checks that a copy loaded after the YAML document marker
// is the document loaded without it, including documents the marker cannot
// be used for: a raw U+0085 (read as JSON by the loader) and a raw
// noncharacter U+FFFE (refused by the YAML parser, read as JSON).
func TestLoadFriendly(t *testing.T) {
	base := `{"openapi":"3.0.3","info":{"title":"T","version":"1","description":"%s"},"paths":{"/a/{id}":{"get":{"parameters":[{"$ref":"#/components/parameters/id"}],"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}}},"components":{"parameters":{"id":{"name":"id","in":"path","required":true,"schema":{"type":"integer","maximum":10000000000}}},"schemas":{"A":{"type":"object","properties":{"n":{"type":"number","example":1.5,"enum":[1,2.5,100000000]},"s":{"type":"string","default":"x"}},"x-extra":{"k":[1,"a",true,null]}}}}}`
	for _, desc := range []string{"plain", "nel\u0085here", "nonchar\ufffehere"} {
		data := []byte(jsonSprintf(base, desc))
		if !json.Valid(data) {
			t.Fatalf("%q: test document is not JSON", desc)
		}
		want, werr := openapi3.NewLoader().LoadFromData(data)
		got, gerr := loadFriendly(data)
		if gerr != nil {
			t.Fatalf("%q: loadFriendly: %v (plain load: %v)", desc, gerr, werr)
		}
		if werr != nil {
			continue
		}
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(got)
		if !bytes.Equal(w, g) {
			t.Errorf("%q: loaded differently:\n got %s\nwant %s", desc, g, w)
		}
		// The values' Go types, not only their JSON, must be the same
		// (oapi-codegen prints enum values and examples).
		if a, b := got.Components.Schemas["A"].Value.Properties["n"].Value.Enum, want.Components.Schemas["A"].Value.Properties["n"].Value.Enum; fmtTypes(a) != fmtTypes(b) {
			t.Errorf("%q: enum values %s, want %s", desc, fmtTypes(a), fmtTypes(b))
		}
	}
}

func jsonSprintf(format, s string) string {
	return string(bytes.Replace([]byte(format), []byte("%s"), []byte(s), 1))
}

func fmtTypes(vs []any) string {
	var b bytes.Buffer
	for _, v := range vs {
		b.WriteString(typeName(v) + " ")
	}
	return b.String()
}

func typeName(v any) string {
	switch v.(type) {
	case int:
		return "int"
	case int64:
		return "int64"
	case uint64:
		return "uint64"
	case float64:
		return "float64"
	case string:
		return "string"
	}
	return "other"
}
