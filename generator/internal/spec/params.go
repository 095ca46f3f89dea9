package spec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// typeParams gives a type to the parameter schemas that declare none ({},
// a description or an example alone), on their own or as a member of an
// allOf (Cloudflare's allOf: [$ref: identifier, {example: ...}]): the
// request validator reads no value from a parameter whose schema has no
// type, and refuses every request that carries it ("empty value is not
// allowed"). Such a schema gets the type of the allOf's typed members, or
// string, which is how every parameter arrives; the component schemas it
// refers to are left as they are. It returns a repair for each parameter,
// located at its schema.
func (d *Doc) typeParams() []string {
	var repairs []Repair
	done := map[*openapi3.Parameter]bool{}
	visit := func(ref *openapi3.ParameterRef, path []string) {
		if ref == nil || ref.Value == nil || done[ref.Value] {
			return
		}
		p := ref.Value
		done[p] = true
		if name, ok := strings.CutPrefix(ref.Ref, "#/components/parameters/"); ok {
			path = []string{"components", "parameters", name}
		}
		typed, what, typ := typedParamSchema(p.Schema)
		if typed == nil {
			return
		}
		p.Schema = typed
		pos := d.Locate(append(path, "schema")...)
		repairs = append(repairs, Repair{pos, fmt.Sprintf("%s parameter %q: %s declares no type, so the request validator reads no value from it and would refuse every request that carries it; gatehouse validates it as a %s: declare its type", p.In, p.Name, what, typ)})
	}
	if d.Paths != nil {
		paths := d.Paths.Keys()
		sort.Strings(paths)
		for _, path := range paths {
			item := d.Paths.Value(path)
			if item == nil {
				continue
			}
			for i, ref := range item.Parameters {
				visit(ref, []string{"paths", path, "parameters", strconv.Itoa(i)})
			}
			ops := item.Operations()
			methods := make([]string, 0, len(ops))
			for m := range ops {
				methods = append(methods, m)
			}
			sort.Strings(methods)
			for _, m := range methods {
				for i, ref := range ops[m].Parameters {
					visit(ref, []string{"paths", path, strings.ToLower(m), "parameters", strconv.Itoa(i)})
				}
			}
		}
	}
	if d.Components != nil {
		names := make([]string, 0, len(d.Components.Parameters))
		for name := range d.Components.Parameters {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			visit(d.Components.Parameters[name], []string{"components", "parameters", name})
		}
	}
	sortRepairs(repairs)
	out := make([]string, len(repairs))
	for i, r := range repairs {
		out[i] = r.String()
	}
	return out
}

// typedParamSchema returns a copy of a parameter's schema in which the
// schema, or each member of its allOf, that declares no type has one, what
// lacked a type, and the type given; or nil when nothing lacks a type.
func typedParamSchema(ref *openapi3.SchemaRef) (*openapi3.SchemaRef, string, string) {
	if ref == nil || ref.Value == nil {
		return nil, "", ""
	}
	s := ref.Value
	if untyped(s) {
		return retyped(s, "string"), "its schema", "string"
	}
	if len(s.AllOf) == 0 {
		return nil, "", ""
	}
	typ := "string"
	for _, m := range s.AllOf {
		if m != nil && m.Value != nil && len(m.Value.Type.Slice()) == 1 {
			typ = m.Value.Type.Slice()[0]
			break
		}
	}
	members := make(openapi3.SchemaRefs, len(s.AllOf))
	var untypedAt []string
	for i, m := range s.AllOf {
		members[i] = m
		if m != nil && m.Value != nil && untyped(m.Value) {
			members[i] = retyped(m.Value, typ)
			untypedAt = append(untypedAt, strconv.Itoa(i))
		}
	}
	if len(untypedAt) == 0 {
		return nil, "", ""
	}
	c := *s
	c.AllOf = members
	return &openapi3.SchemaRef{Value: &c}, "its allOf/" + strings.Join(untypedAt, ", allOf/"), typ
}

// untyped reports whether the validator decodes no value for a parameter
// with schema s: it declares no type, and nothing (an enum, a constant, a
// composition) the validator decodes instead.
func untyped(s *openapi3.Schema) bool {
	return len(s.Type.Slice()) == 0 && len(s.Enum) == 0 && s.Const == nil &&
		len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0 && s.Not == nil
}

// retyped is a copy of s with type typ.
func retyped(s *openapi3.Schema, typ string) *openapi3.SchemaRef {
	c := *s
	c.Type = &openapi3.Types{typ}
	return &openapi3.SchemaRef{Value: &c}
}
