package spec

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// dropUnfitDefaults removes the defaults that their own schema refuses (an
// integer with "default": "20 - incident_summary", a boolean with
// "default": "false"): the request validator fills a missing parameter or
// property with its default and then refuses every request that leaves it
// out. It returns a repair for each, located at the default.
func (d *Doc) dropUnfitDefaults() []string {
	type repair struct {
		pos Pos
		msg string
	}
	var repairs []repair
	seen := map[*openapi3.Schema]bool{}
	var visit func(ref *openapi3.SchemaRef, path []string)
	visit = func(ref *openapi3.SchemaRef, path []string) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		if ref.Ref != "" {
			// Judged where it is declared, and reported there.
			name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/")
			if !ok || d.Components == nil {
				return
			}
			ref, path = d.Components.Schemas[name], []string{"components", "schemas", name}
			if ref == nil || ref.Value == nil || seen[ref.Value] {
				return
			}
		}
		s := ref.Value
		seen[s] = true
		if s.Default != nil && s.VisitJSON(s.Default) != nil {
			shown, _ := json.Marshal(s.Default)
			pos := d.Locate(append(path, "default")...)
			repairs = append(repairs, repair{pos, fmt.Sprintf("%s: the default %s does not fit its own schema, so the server would refuse every request that leaves this value out; gatehouse dropped the default: fix it or remove it", pos, shown)})
			s.Default = nil
		}
		at := func(more ...string) []string { return append(slices.Clip(path), more...) }
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			visit(s.Properties[name], at("properties", name))
		}
		visit(s.Items, at("items"))
		visit(s.Not, at("not"))
		visit(s.AdditionalProperties.Schema, at("additionalProperties"))
		for key, list := range map[string]openapi3.SchemaRefs{"allOf": s.AllOf, "oneOf": s.OneOf, "anyOf": s.AnyOf} {
			for i, r := range list {
				visit(r, at(key, strconv.Itoa(i)))
			}
		}
	}
	content := func(c openapi3.Content, path []string) {
		types := make([]string, 0, len(c))
		for t := range c {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			if mt := c[t]; mt != nil {
				visit(mt.Schema, append(slices.Clip(path), "content", t, "schema"))
			}
		}
	}
	params := func(list openapi3.Parameters, path []string) {
		for i, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			where := append(slices.Clip(path), "parameters", strconv.Itoa(i))
			if name, ok := strings.CutPrefix(ref.Ref, "#/components/parameters/"); ok {
				where = []string{"components", "parameters", name}
			}
			visit(ref.Value.Schema, append(where, "schema"))
		}
	}
	if d.Paths != nil {
		paths := d.Paths.Keys()
		sort.Strings(paths)
		for _, p := range paths {
			item := d.Paths.Value(p)
			if item == nil {
				continue
			}
			params(item.Parameters, []string{"paths", p})
			ops := item.Operations()
			methods := make([]string, 0, len(ops))
			for m := range ops {
				methods = append(methods, m)
			}
			sort.Strings(methods)
			for _, m := range methods {
				op, where := ops[m], []string{"paths", p, strings.ToLower(m)}
				params(op.Parameters, where)
				if rb := op.RequestBody; rb != nil && rb.Value != nil {
					content(rb.Value.Content, append(slices.Clip(where), "requestBody"))
				}
			}
		}
	}
	if c := d.Components; c != nil {
		names := make([]string, 0, len(c.Schemas))
		for name := range c.Schemas {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			visit(c.Schemas[name], []string{"components", "schemas", name})
		}
	}
	// In file order, as the user reads them.
	sort.SliceStable(repairs, func(i, j int) bool {
		a, b := repairs[i].pos, repairs[j].pos
		return a.File < b.File || a.File == b.File && (a.Line < b.Line || a.Line == b.Line && a.Col < b.Col)
	})
	out := make([]string, len(repairs))
	for i, r := range repairs {
		out[i] = r.msg
	}
	return out
}
