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

// unionMembers gives the inline members of an anyOf a schema of their own
// when oapi-codegen generates them into one Go type with the inline members
// of a oneOf (an allOf of a oneOf and an anyOf, or a schema with both):
// it names the members of both lists after the type and their index (X0,
// X1), and refuses the document for the duplicate type names. As schemas,
// the anyOf's members are named XAnyOf0, XAnyOf1; references replace them.
func (r *repairer) unionMembers(t tree) {
	type list struct {
		path  []string // of the anyOf list
		owner []string // of the schema whose Go type holds the union
	}
	var lists []list
	seen := map[string]bool{}
	walk(t, func(path []string, m tree) {
		var oneOf, anyOf [][]string
		collect := func(at []string, s tree) {
			if inlineMember(s["oneOf"]) {
				oneOf = append(oneOf, append(slices.Clone(at), "oneOf"))
			}
			if inlineMember(s["anyOf"]) {
				anyOf = append(anyOf, append(slices.Clone(at), "anyOf"))
			}
		}
		if members, _ := m["allOf"].([]any); len(members) >= 2 {
			// oapi-codegen generates the merged members, and ignores
			// what stands beside the allOf.
			mergedMembers(t, path, members, map[string]bool{}, 0, collect)
		} else if len(members) == 0 {
			collect(path, m)
		}
		if len(oneOf) == 0 || len(anyOf) == 0 {
			return
		}
		for _, p := range anyOf {
			if key := strings.Join(p, "\x00"); !seen[key] {
				seen[key] = true
				lists = append(lists, list{p, slices.Clone(path)})
			}
		}
	})
	if len(lists) == 0 {
		return
	}
	schemas := componentSchemas(t)
	for _, l := range lists {
		members, _ := pointer(t, l.path[:len(l.path)-1])["anyOf"].([]any)
		owner := typeNameAt(t, l.owner)
		for i, e := range members {
			m, _ := e.(tree)
			if m == nil || m["$ref"] != nil {
				continue
			}
			name := r.freshTypeName(t, owner+"AnyOf"+strconv.Itoa(i))
			schemas[name] = m
			members[i] = tree{"$ref": "#/components/schemas/" + escapePointer(name)}
			r.add(false, append(slices.Clone(l.path), strconv.Itoa(i)), "anyOf member %d: typed as %s, declared as a schema of its own, because oapi-codegen gives the inline members of the oneOf and the anyOf that %s merges into one Go type the same names (%s0, %s1, …), which it refuses",
				i, name, pointerString(l.owner), owner, owner)
		}
	}
}

// inlineMember reports whether v is a list of schemas with an inline one
// among them, which oapi-codegen declares a Go type for.
func inlineMember(v any) bool {
	list, _ := v.([]any)
	for _, e := range list {
		if m, _ := e.(tree); m != nil && m["$ref"] == nil {
			return true
		}
	}
	return false
}

// componentSchemas returns #/components/schemas of t, made if absent.
func componentSchemas(t tree) tree {
	c := at(t, "components")
	if c == nil {
		c = tree{}
		t["components"] = c
	}
	s := at(c, "schemas")
	if s == nil {
		s = tree{}
		c["schemas"] = s
	}
	return s
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

// allOfAccess makes the members of an allOf agree on readOnly and writeOnly
// in the copy: oapi-codegen refuses to merge members that differ ("merging
// two schemas with different ReadOnly"), as they do in the common
// decorator allOf: [$ref: X, {readOnly: true}]. The inline members take the
// value of the referenced ones, and the allOf itself says readOnly (or
// writeOnly) when a member did, which is where oapi-codegen reads it for a
// field: a required readOnly field stays optional in Go, as without the
// allOf. Referenced members that differ among themselves, or a member that
// is an allOf itself, are left to the degradation that follows.
func (r *repairer) allOfAccess(t tree) {
	walk(t, func(path []string, m tree) {
		list, _ := m["allOf"].([]any)
		if len(list) < 2 {
			return
		}
		for _, key := range []string{"readOnly", "writeOnly"} {
			var inline []tree
			fixed, some, differ := false, false, false
			seenFixed := false
			for _, e := range list {
				member := resolve(t, e)
				if member == nil || member["allOf"] != nil {
					return
				}
				v, _ := member[key].(bool)
				some = some || v
				if em, _ := e.(tree); em != nil && em["$ref"] == nil {
					inline = append(inline, member)
					continue
				}
				if seenFixed && v != fixed {
					differ = true
				}
				fixed, seenFixed = v, true
			}
			if differ || !some {
				continue
			}
			changed := false
			for _, member := range inline {
				if v, _ := member[key].(bool); v != fixed {
					changed = true
					if fixed {
						member[key] = true
					} else {
						delete(member, key)
					}
				}
			}
			if !changed {
				continue
			}
			m[key] = true
			r.add(false, path, "schema %s: its allOf members made to agree on %s (the allOf itself says %s), because oapi-codegen refuses to merge members that differ in it; the Go type is the one the members declare",
				pointerString(path), key, key)
		}
	})
}

// allOfFormats gives the inline members of an allOf that declare no format
// the one format its other members declare: oapi-codegen refuses to merge
// members whose formats differ ("can not merge incompatible formats"),
// though a member that says nothing of the format does not disagree, as in
// allOf: [$ref: timestamp, {readOnly: true}] (Cloudflare's). The Go type is
// the one the formatted member declares (time.Time for a date-time).
func (r *repairer) allOfFormats(t tree) {
	walk(t, func(path []string, m tree) {
		list, _ := m["allOf"].([]any)
		if len(list) < 2 {
			return
		}
		format := ""
		var missing []tree
		for _, e := range list {
			member := resolve(t, e)
			if member == nil || member["allOf"] != nil {
				return
			}
			f, _ := member["format"].(string)
			switch {
			case f == "":
				if em, _ := e.(tree); em == nil || em["$ref"] != nil {
					return // a referenced member is left as it is
				}
				missing = append(missing, member)
			case format != "" && f != format:
				return
			default:
				format = f
			}
		}
		if format == "" || len(missing) == 0 {
			return
		}
		for _, member := range missing {
			member["format"] = format
		}
		r.add(false, path, "schema %s: the members of its allOf that declare no format given its format %s, because oapi-codegen refuses to merge members whose formats differ; the Go type is the one the members declare",
			pointerString(path), format)
	})
}
