package generator

import (
	"slices"
	"strconv"
	"strings"
)

// Repairs of what oapi-codegen does when it merges the members of an allOf
// into one Go type. Each is made before the first generation: a refusal of
// the merge would otherwise cost the whole document oapi-codegen's newer
// allOf merge (see rawAPI), whose older form embeds the members as structs
// that go vet rejects when two of them declare one property.

// allOfDefaults leaves out of the copy the defaults of the schemas an allOf
// merges: oapi-codegen refuses to merge any default ("merging two sets of
// defaults is undefined"), though a default never shapes a Go type. The
// project validates against the spec as written, defaults included.
func (r *repairer) allOfDefaults(t tree) {
	type site struct {
		path    []string
		members []string // the members with a default, as JSON pointers
		schemas []tree
	}
	var sites []site
	walk(t, func(path []string, m tree) {
		list, _ := m["allOf"].([]any)
		if len(list) < 2 {
			return
		}
		s := site{path: slices.Clone(path)}
		mergedMembers(t, path, list, map[string]bool{}, 0, func(at []string, member tree) {
			if _, ok := member["default"]; ok {
				s.members = append(s.members, pointerString(at))
				s.schemas = append(s.schemas, member)
			}
		})
		if len(s.schemas) > 0 {
			sites = append(sites, s)
		}
	})
	// The defaults go once every site is known: a member shared by two
	// sites is reported at both.
	for _, s := range sites {
		for _, m := range s.schemas {
			delete(m, "default")
		}
		what := "the default of "
		if len(s.members) > 1 {
			what = "the defaults of "
		}
		r.add(false, s.path, "schema %s: its allOf merged into one Go type without %s%s, because oapi-codegen refuses to merge defaults; a default does not change the Go type, and requests are still validated against the spec as written",
			pointerString(s.path), what, strings.Join(s.members, ", "))
	}
}

// mergedMembers calls visit for each schema oapi-codegen merges for the
// members of the allOf at path: each member, through its references, and
// the members of a member's own allOf, with its path in t.
func mergedMembers(t tree, path []string, list []any, seen map[string]bool, depth int, visit func(at []string, member tree)) {
	if depth > 8 {
		return
	}
	for i, e := range list {
		at := append(slices.Clone(path), "allOf", strconv.Itoa(i))
		member, _ := e.(tree)
		for range 8 {
			ref, ok := member["$ref"].(string)
			if !ok || !strings.HasPrefix(ref, "#/") {
				break
			}
			if seen[ref] {
				member = nil
				break
			}
			seen[ref] = true
			at = splitRef(ref)
			member = pointer(t, at)
		}
		if member == nil || member["$ref"] != nil {
			continue
		}
		visit(at, member)
		if nested, _ := member["allOf"].([]any); len(nested) > 0 {
			mergedMembers(t, at, nested, seen, depth+1, visit)
		}
	}
}
