package spec

import (
	"bytes"

	yaml "go.yaml.in/yaml/v4"
)

// docMarker is a YAML document start marker, and what it shifts the rest
// of the first line by.
const docMarker = "--- "

// unmarshalNodes parses data, YAML or JSON, into n, as yaml.Unmarshal does,
// faster on a JSON document: one that starts with a flow mapping is parsed
// after a document start marker. Without it the parser (go.yaml.in/yaml/v4)
// must allow that mapping to be the key of a mapping ({...}: value), and so
// queues every token of the document before it passes on the first,
// growing and moving a queue as long as the document; on a large JSON spec
// that is three to four times the CPU time of the parse with the marker,
// after which no key may start on that line. The marker means nothing else:
// the nodes are the same, and the columns of those on the first line are
// given back the four characters the marker took. A document holding a
// raw U+0085 (a line break to YAML) is parsed as it is.
func unmarshalNodes(data []byte, n *yaml.Node) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || bytes.Contains(data, []byte("\u0085")) {
		return yaml.Unmarshal(data, n)
	}
	marked := make([]byte, 0, len(docMarker)+len(data))
	marked = append(marked, docMarker...)
	marked = append(marked, data...)
	if err := yaml.Unmarshal(marked, n); err != nil {
		// Reported as for the file itself.
		return yaml.Unmarshal(data, n)
	}
	for _, c := range n.Content {
		unshift(c)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		// Placed at its first value, as without the marker.
		n.Line, n.Column = n.Content[0].Line, n.Content[0].Column
	}
	return nil
}

// unshift moves the nodes of the first line back by the marker's width.
// Content holds each node once (an alias refers to its anchor's node, which
// is not among its content).
func unshift(n *yaml.Node) {
	if n.Line != 1 {
		// Every node under one on a later line is on a later line too.
		return
	}
	n.Column -= len(docMarker)
	for _, c := range n.Content {
		unshift(c)
	}
}
