package generator

import (
	"bytes"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadFriendly loads the JSON document data with kin-openapi's loader,
// after a YAML document start marker when yamlFriendly adds one. When that
// fails it loads data as it is: the loader reads as JSON what its YAML
// parser refuses (characters JSON allows raw and YAML does not, such as
// the noncharacter U+FFFE), which the marker stops it from doing.
func loadFriendly(data []byte) (*openapi3.T, error) {
	friendly := yamlFriendly(data)
	t, err := openapi3.NewLoader().LoadFromData(friendly)
	if err != nil && len(friendly) != len(data) {
		return openapi3.NewLoader().LoadFromData(data)
	}
	return t, err
}

// yamlFriendly returns the JSON document data as kin-openapi's loader reads
// it fastest: after a YAML document start marker ("--- "), when that cannot
// change how it is read.
//
// The loader reads JSON with its YAML parser (go.yaml.in/yaml/v4), and at
// the start of a document that parser must allow the first flow mapping to
// be the key of a mapping ({...}: value), so it queues every token of the
// document before it passes on the first, growing and moving a queue as long
// as the document: on a large spec, three to four times the CPU time of
// the same parse with the marker, after which no key may start on that
// line. The marker means nothing else to YAML, and the document is read
// as the same values.
//
// A document holding a raw U+0085 is left as it is: the loader reads it as
// JSON, not YAML (to YAML that character is a line break), which it no
// longer would after the marker.
func yamlFriendly(data []byte) []byte {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || bytes.Contains(data, []byte("\u0085")) {
		return data
	}
	out := make([]byte, 0, len(data)+4)
	out = append(out, "--- "...)
	return append(out, data...)
}
