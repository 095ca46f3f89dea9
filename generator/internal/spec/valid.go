package spec

import (
	"context"

	"github.com/getkin/kin-openapi/openapi3"
)

// validationOptions are the checks Validate and Valid run: kin-openapi's,
// without those that real-world specs routinely fail and that do not affect
// code generation (examples, defaults, patterns, formats).
func (d *Doc) validationOptions() []openapi3.ValidationOption {
	return []openapi3.ValidationOption{
		openapi3.DisableExamplesValidation(),
		openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation(),
		openapi3.DisableSchemaFormatValidation(),
		openapi3.AllowExtraSiblingFields("$recursiveRef", "$dynamicRef", "$dynamicAnchor", "$recursiveAnchor"),
	}
}

// Valid reports whether Validate finds nothing to say, at a fraction of its
// cost on a large spec, where it is most of a generation's time: kin-openapi
// validates a schema again, with all it reaches, from every place that
// refers to it (each response of each operation walks most of Stripe's
// schemas). Valid checks each schema once instead, with kin-openapi's own
// checks: every schema reachable from the document's components and paths
// is validated on its own, its subschemas replaced by an empty one, and
// then the document, whose schemas stop at that empty one.
//
// It gives Validate's answer because a schema's own checks (with examples
// and defaults not validated) read none of its subschemas, bar one: a
// boolean schema's, which keeps them; and the checks of a reference to a
// subschema (its siblings, whether it resolved) are made on a copy of the
// reference that differs only in what it points to. The document's other
// objects read only the top of their schemas. A false answer is not a
// verdict: Validate says what is wrong.
//
// The schemas are changed while it runs and restored before it returns, so
// nothing else may read the document meanwhile.
func (d *Doc) Valid(ctx context.Context) bool {
	opts := d.validationOptions()
	if d.T.IsOpenAPI31OrLater() {
		opts = append(opts, openapi3.IsOpenAPI31OrLater())
	}
	if d.T.IsOpenAPI32OrLater() {
		opts = append(opts, openapi3.IsOpenAPI32OrLater())
	}
	schemas := reachableSchemas(d.T)
	saved := make([]openapi3.Schema, len(schemas))
	for i, s := range schemas {
		saved[i] = *s
	}
	defer func() {
		for i, s := range schemas {
			*s = saved[i]
		}
	}()
	empty := &openapi3.Schema{}
	for _, s := range schemas {
		if s.Always == nil {
			cutSubschemas(s, empty)
		}
	}
	for _, s := range schemas {
		if s.Validate(ctx, opts...) != nil {
			return false
		}
	}
	return d.T.Validate(ctx, d.validationOptions()...) == nil
}

// reachableSchemas returns every schema reachable from the schemas of the
// document's components and operations, each once.
func reachableSchemas(t *openapi3.T) []*openapi3.Schema {
	seen := map[*openapi3.Schema]bool{}
	var out []*openapi3.Schema
	var visit func(ref *openapi3.SchemaRef)
	visit = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		out = append(out, s)
		forSubschemas(s, visit)
		if s.Discriminator != nil {
			for _, m := range s.Discriminator.Mapping {
				visit(&openapi3.SchemaRef{Value: m.Value})
			}
		}
	}
	content := func(c openapi3.Content) {
		for _, mt := range c {
			if mt != nil {
				visit(mt.Schema)
				visit(mt.ItemSchema)
			}
		}
	}
	param := func(p *openapi3.Parameter) {
		if p != nil {
			visit(p.Schema)
			content(p.Content)
		}
	}
	headers := func(hs openapi3.Headers) {
		for _, h := range hs {
			if h != nil && h.Value != nil {
				param(&h.Value.Parameter)
			}
		}
	}
	response := func(r *openapi3.ResponseRef) {
		if r != nil && r.Value != nil {
			content(r.Value.Content)
			headers(r.Value.Headers)
		}
	}
	if c := t.Components; c != nil {
		for _, s := range c.Schemas {
			visit(s)
		}
		for _, p := range c.Parameters {
			if p != nil {
				param(p.Value)
			}
		}
		headers(c.Headers)
		for _, b := range c.RequestBodies {
			if b != nil && b.Value != nil {
				content(b.Value.Content)
			}
		}
		for _, r := range c.Responses {
			response(r)
		}
	}
	if t.Paths != nil {
		for _, item := range t.Paths.Map() {
			if item == nil {
				continue
			}
			for _, p := range item.Parameters {
				if p != nil {
					param(p.Value)
				}
			}
			for _, op := range item.Operations() {
				for _, p := range op.Parameters {
					if p != nil {
						param(p.Value)
					}
				}
				if b := op.RequestBody; b != nil && b.Value != nil {
					content(b.Value.Content)
				}
				if op.Responses != nil {
					for _, r := range op.Responses.Map() {
						response(r)
					}
				}
			}
		}
	}
	return out
}

// forSubschemas calls f with each reference to a subschema of s.
func forSubschemas(s *openapi3.Schema, f func(*openapi3.SchemaRef)) {
	for _, list := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf, s.PrefixItems} {
		for _, r := range list {
			f(r)
		}
	}
	for _, m := range []openapi3.Schemas{s.Properties, s.PatternProperties, s.DependentSchemas, s.Defs} {
		for _, r := range m {
			f(r)
		}
	}
	for _, r := range []*openapi3.SchemaRef{s.Not, s.Items, s.AdditionalProperties.Schema, s.Contains, s.PropertyNames,
		s.UnevaluatedItems.Schema, s.UnevaluatedProperties.Schema, s.If, s.Then, s.Else, s.ContentSchema} {
		f(r)
	}
}

// cutSubschemas points every resolved reference to a subschema of s at
// empty instead, through new copies of the references and of the lists and
// maps that hold them, so that restoring *s undoes it.
func cutSubschemas(s *openapi3.Schema, empty *openapi3.Schema) {
	cut := func(r *openapi3.SchemaRef) *openapi3.SchemaRef {
		if r == nil || r.Value == nil {
			return r
		}
		c := *r
		c.Value = empty
		return &c
	}
	list := func(l openapi3.SchemaRefs) openapi3.SchemaRefs {
		if l == nil {
			return nil
		}
		out := make(openapi3.SchemaRefs, len(l))
		for i, r := range l {
			out[i] = cut(r)
		}
		return out
	}
	named := func(m openapi3.Schemas) openapi3.Schemas {
		if m == nil {
			return nil
		}
		out := make(openapi3.Schemas, len(m))
		for k, r := range m {
			out[k] = cut(r)
		}
		return out
	}
	s.OneOf, s.AnyOf, s.AllOf, s.PrefixItems = list(s.OneOf), list(s.AnyOf), list(s.AllOf), list(s.PrefixItems)
	s.Properties, s.PatternProperties = named(s.Properties), named(s.PatternProperties)
	s.DependentSchemas, s.Defs = named(s.DependentSchemas), named(s.Defs)
	s.Not, s.Items, s.AdditionalProperties.Schema = cut(s.Not), cut(s.Items), cut(s.AdditionalProperties.Schema)
	s.Contains, s.PropertyNames = cut(s.Contains), cut(s.PropertyNames)
	s.UnevaluatedItems.Schema, s.UnevaluatedProperties.Schema = cut(s.UnevaluatedItems.Schema), cut(s.UnevaluatedProperties.Schema)
	s.If, s.Then, s.Else, s.ContentSchema = cut(s.If), cut(s.Then), cut(s.Else), cut(s.ContentSchema)
}
