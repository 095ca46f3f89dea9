package generator

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v4"
)

// fuzzSeeds are the example specs the fuzzer mutates.
var fuzzSeeds = []string{"bank.yaml", "keys.yaml", "petstore.yaml"}

// FuzzSecurityModel mutates the example specs structurally (a value made
// null, empty, of another type, removed, renamed, duplicated) and asserts
// what a hostile or half-edited spec must never achieve: a panic, or an
// operation whose effective security differs from the seed's although the
// mutation did not touch that operation's security, the root security it
// inherits, or the security schemes. A changed security is expected to be
// refused or to mean what it says; an untouched one must stay as it was.
//
//	go test -fuzz FuzzSecurityModel -run '^$' ./generator
func FuzzSecurityModel(f *testing.F) {
	seeds := make([]*yaml.Node, len(fuzzSeeds))
	want := make([]map[string]string, len(fuzzSeeds))
	for i, name := range fuzzSeeds {
		data, err := os.ReadFile(filepath.Join("..", "specs", name))
		if err != nil {
			f.Fatal(err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			f.Fatal(err)
		}
		seeds[i] = &n
		want[i] = effectiveSecurity(f, filepath.Join("..", "specs", name))
	}
	for i := range fuzzSeeds {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0, 0, 7, 1, 0, 40, 2, 0, 90, 3, 1, 3})
		f.Add(uint8(i), []byte{4, 0, 12, 5, 0, 30, 6, 0, 50, 7, 0, 70})
	}
	f.Fuzz(func(t *testing.T, seed uint8, program []byte) {
		i := int(seed) % len(seeds)
		doc := cloneNode(seeds[i])
		touched := mutate(doc, program)
		data, err := yaml.Marshal(doc)
		if err != nil {
			t.Skip("the mutation is not valid YAML")
		}
		path := filepath.Join(t.TempDir(), "spec.yaml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, api, err := load(context.Background(), path)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("a library failed on the mutated spec: %v\n%s", err, data)
			}
			return // refused with an error: fail closed
		}
		for _, op := range api.Operations {
			key := op.Method + " " + op.Path
			before, ok := want[i][key]
			if !ok || touchesSecurity(touched, op.Path, op.Method) {
				continue
			}
			if got := op.Security.String(); got != before {
				t.Fatalf("%s: security %q became %q although the mutations (%v) did not touch it\n%s", key, before, got, touched, data)
			}
		}
	})
}

func effectiveSecurity(tb testing.TB, path string) map[string]string {
	_, api, err := load(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[string]string{}
	for _, op := range api.Operations {
		m[op.Method+" "+op.Path] = op.Security.String()
	}
	return m
}

// touchesSecurity reports whether a mutation at one of the paths could have
// changed the security of the operation: one inside or above its security
// list, the root list, or the schemes.
func touchesSecurity(touched [][]string, path, method string) bool {
	own := []string{"paths", path, strings.ToLower(method), "security"}
	for _, p := range touched {
		switch {
		case len(p) == 0, p[0] == "security", p[0] == "components":
			return true
		case hasPrefix(own, p), hasPrefix(p, own):
			return true
		}
	}
	return false
}

func hasPrefix(p, prefix []string) bool {
	return len(p) >= len(prefix) && slices.Equal(p[:len(prefix)], prefix)
}

// located is a node with its path of keys and indexes from the root.
type located struct {
	node   *yaml.Node
	parent *yaml.Node
	index  int // in parent.Content
	path   []string
}

// mutate applies the program, three bytes an instruction (operation, node
// index high and low), and returns the paths it changed.
func mutate(doc *yaml.Node, program []byte) [][]string {
	var touched [][]string
	for len(program) >= 3 {
		op, at := program[0], int(program[1])<<8|int(program[2])
		program = program[3:]
		nodes := collect(doc)
		if len(nodes) == 0 {
			break
		}
		l := nodes[at%len(nodes)]
		n := l.node
		switch op % 8 {
		case 0: // null
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		case 1: // empty string
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		case 2: // empty mapping
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		case 3: // empty sequence
			*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		case 4: // another scalar type
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"}
		case 5: // remove from its mapping or sequence
			if l.parent == nil {
				continue
			}
			if l.parent.Kind == yaml.MappingNode {
				l.parent.Content = slices.Delete(l.parent.Content, l.index-1, l.index+1)
			} else {
				l.parent.Content = slices.Delete(l.parent.Content, l.index, l.index+1)
			}
		case 6: // wrap in a sequence
			inner := *n
			*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{&inner}}
		case 7: // rename its key (mapping values only)
			if l.parent == nil || l.parent.Kind != yaml.MappingNode {
				continue
			}
			k := l.parent.Content[l.index-1]
			k.Value = strings.ToUpper(k.Value[:min(1, len(k.Value))]) + k.Value[min(1, len(k.Value)):] + "x"
		}
		touched = append(touched, l.path)
	}
	return touched
}

// collect lists every value node below the root with its path.
func collect(doc *yaml.Node) []located {
	var out []located
	var walk func(n, parent *yaml.Node, index int, path []string)
	walk = func(n, parent *yaml.Node, index int, path []string) {
		out = append(out, located{n, parent, index, path})
		switch n.Kind {
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i], n, i, append(slices.Clip(path), n.Content[i-1].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, n, i, append(slices.Clip(path), strconv.Itoa(i)))
			}
		}
	}
	if len(doc.Content) > 0 {
		walk(doc.Content[0], nil, 0, nil)
	}
	return out[1:] // never the root itself
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = cloneNode(child)
	}
	return &c
}
