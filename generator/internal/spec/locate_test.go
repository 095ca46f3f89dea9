package spec

import (
	"encoding/json"
	"testing"
)

func TestLocatorFind(t *testing.T) {
	src := []byte(`openapi: 3.0.3
paths:
  /pets:
    get:
      security:
        - apiKey: []
          oauth: [read]
`)
	l := NewLocator("spec.yaml", src)
	for _, tt := range []struct {
		path []string
		want string
	}{
		{nil, "spec.yaml:1:1"},
		{[]string{"paths", "/pets", "get", "security", "0", "oauth"}, "spec.yaml:7:11"},
		{[]string{"paths", "/pets", "get", "security", "0"}, "spec.yaml:6:11"},
		// A path that goes further than the document stops at its deepest part.
		{[]string{"paths", "/pets", "post", "x"}, "spec.yaml:3:3"},
		{[]string{"paths", "/pets", "get", "security", "7"}, "spec.yaml:5:7"},
	} {
		if got := l.Find(tt.path...).String(); got != tt.want {
			t.Errorf("Find(%q) = %s, want %s", tt.path, got, tt.want)
		}
	}
	if pos, ok := l.FindKey("oauth", "scalar"); !ok || pos.String() != "spec.yaml:7:11" {
		t.Errorf("FindKey(oauth, not scalar) = %v, %v", pos, ok)
	}
	if _, ok := l.FindKey("oauth", "sequence"); ok {
		t.Error("FindKey found a key whose value has the wanted kind")
	}
}

func TestLocatorOnUnparsableInput(t *testing.T) {
	l := NewLocator("bad.yaml", []byte("a: [unclosed"))
	if got := l.Find("a").String(); got != "bad.yaml" {
		t.Errorf("Find on unparsable input = %s, want the bare file name", got)
	}
}

func TestToJSONStringifiesKeys(t *testing.T) {
	data, err := toJSON("spec.yaml", []byte("responses:\n  200: {description: ok}\n  default: {description: other}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if _, ok := v["responses"]["200"]; !ok {
		t.Errorf("integer key lost: %s", data)
	}
}
