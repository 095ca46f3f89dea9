package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v4"
)

// TestUnmarshalNodesSamePositions checks that the marker unmarshalNodes
// parses JSON after changes no node: kind, value, line and column, the
// document node's included.
func TestUnmarshalNodesSamePositions(t *testing.T) {
	docs := []string{
		`{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"}}}}},"x":[{"a":1},[2,{"b":null}],"s"]}`,
		"{\n  \"openapi\": \"3.0.3\",\n  \"paths\": {\"/a\": {}},\n  \"list\": [1, {\"k\": [true]}]\n}\n",
		"  \n\t{\"a\": {\"b\": [1, 2, {\"c\": \"d\"}]}, \"e\": \"f\"}",
		`{"a": "caf\u00e9", "b": "x\ty", "c": {}}`,
		"a: 1\nb: [1, 2]\n",
		`{"a": 1}: 2`,
		"{\"line\": \"with\u0085nel\"}",
	}
	// Real JSON specs, when the corpus is beside the repository.
	for _, name := range []string{"discord-openapi.json", "gotify-spec.json", "pagerduty-scim-openapiv3.json"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "corpus", "specs", name)); err == nil {
			docs = append(docs, string(data))
		}
	}
	for i, d := range docs {
		var want, got yaml.Node
		werr := yaml.Unmarshal([]byte(d), &want)
		gerr := unmarshalNodes([]byte(d), &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("doc %d: error %v, want %v", i, gerr, werr)
		}
		if w, g := dumpNodes(&want), dumpNodes(&got); w != g {
			t.Errorf("doc %d: nodes differ:\n got %s\nwant %s", i, g, w)
		}
	}
}

func dumpNodes(n *yaml.Node) string {
	var b strings.Builder
	var rec func(n *yaml.Node)
	rec = func(n *yaml.Node) {
		fmt.Fprintf(&b, "(%d %q %s %d:%d", n.Kind, n.Value, n.Tag, n.Line, n.Column)
		for _, c := range n.Content {
			rec(c)
		}
		b.WriteString(")")
	}
	rec(n)
	return b.String()
}
