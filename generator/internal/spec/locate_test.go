package spec

import (
	"encoding/json"
	"strings"
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

func TestCheckTextLocatesBinaryInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want string
	}{
		{"nul", "openapi: 3.0.3\ninfo: {title: \"a\x00\"}\n", "s.yaml:2:17: the spec has a NUL byte here"},
		{"control", "openapi: 3.0.3\n\x1b[1m", "s.yaml:2:1: the spec has the control character 0x1B here"},
		{"latin1", "openapi: 3.0.3\ninfo: {title: caf\xe9}\n", "s.yaml:2:18: the spec is not valid UTF-8 here (byte 0xE9)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSyntax("s.yaml", []byte(tc.data))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("checkSyntax = %v, want prefix %q", err, tc.want)
			}
		})
	}
	if err := checkText("s.yaml", []byte("openapi: 3.0.3\r\n\tinfo: {title: \"café ✓\"}\n")); err != nil {
		t.Fatalf("text with tabs, CRLF and UTF-8 refused: %v", err)
	}
}
