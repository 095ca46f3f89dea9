package model

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Request is a request for an operation that its parameters and body
// schemas accept, so generated tests that expect a 401 or 403 prove the
// security check ran first, and those that expect the handler prove the
// request got through.
type Request struct {
	Path        string            // the path with parameters filled in, escaped
	PathValues  map[string]string // each path parameter's value, unescaped
	Query       string            // encoded query string, without "?"
	Headers     map[string]string // required header parameters
	Cookies     map[string]string // required cookie parameters
	ContentType string            // of Body; empty without a body
	Body        string
	// Valid reports whether every value was checked against its schema.
	// When false, tests only assert that the request was not refused by
	// the security layer.
	Valid bool
}

// SampleRequest builds a request for op in doc.
func SampleRequest(doc *openapi3.T, op Operation) Request {
	r := Request{Path: op.Path, PathValues: map[string]string{}, Headers: map[string]string{}, Cookies: map[string]string{}, Valid: true}
	item := doc.Paths.Value(op.Path)
	if item == nil {
		r.Valid = false
		return r
	}
	o := item.GetOperation(op.Method)
	if o == nil {
		r.Valid = false
		return r
	}
	params := map[string]*openapi3.Parameter{}
	var order []string
	for _, list := range []openapi3.Parameters{item.Parameters, o.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			p := ref.Value
			key := p.In + ":" + p.Name
			if _, seen := params[key]; !seen {
				order = append(order, key)
			}
			params[key] = p // operation-level overrides path-level
		}
	}
	sort.Strings(order)
	query := url.Values{}
	for _, key := range order {
		p := params[key]
		if p.In != openapi3.ParameterInPath && !p.Required {
			continue
		}
		var schema *openapi3.Schema
		if p.Schema != nil {
			schema = p.Schema.Value
		}
		v := sampleValue(schema, 0)
		if p.Example != nil && fits(schema, p.Example) {
			v = p.Example
		}
		s, ok := scalarString(v)
		if !ok || !fits(schema, v) {
			r.Valid = false
		}
		if s == "" && p.In == openapi3.ParameterInPath {
			// An empty segment (/accounts//seats) reaches no route: the
			// router redirects it before security runs.
			s = "x"
		}
		switch p.In {
		case openapi3.ParameterInPath:
			r.Path = strings.ReplaceAll(r.Path, "{"+p.Name+"}", url.PathEscape(s))
			r.PathValues[p.Name] = s
		case openapi3.ParameterInQuery:
			query.Set(p.Name, s)
		case openapi3.ParameterInHeader:
			r.Headers[p.Name] = s
		case openapi3.ParameterInCookie:
			r.Cookies[p.Name] = s
		}
	}
	r.Query = query.Encode()
	// A body is sent even when optional: the generated handler wrappers
	// decode one whenever the operation declares it.
	if rb := o.RequestBody; rb != nil && rb.Value != nil && len(rb.Value.Content) > 0 {
		r.body(rb.Value)
	}
	return r
}

func (r *Request) body(rb *openapi3.RequestBody) {
	mt := rb.Content.Get("application/json")
	ct := "application/json"
	if mt == nil {
		for name, m := range rb.Content {
			if strings.HasSuffix(name, "+json") {
				mt, ct = m, name
				break
			}
		}
	}
	if mt == nil {
		// Form, multipart and other bodies: send an empty JSON document
		// with the first declared type; validation may refuse it.
		types := make([]string, 0, len(rb.Content))
		for name := range rb.Content {
			types = append(types, name)
		}
		sort.Strings(types)
		if len(types) > 0 {
			r.ContentType = types[0]
		}
		r.Valid = false
		return
	}
	var schema *openapi3.Schema
	if mt.Schema != nil {
		schema = mt.Schema.Value
	}
	v := sampleValue(schema, 0)
	if mt.Example != nil && fits(schema, mt.Example) {
		v = mt.Example
	}
	data, err := json.Marshal(v)
	if err != nil {
		r.Valid = false
		return
	}
	if !fits(schema, v) {
		r.Valid = false
	}
	r.ContentType, r.Body = ct, string(data)
}

// fits reports whether v validates against schema as a request would.
func fits(schema *openapi3.Schema, v any) bool {
	if schema == nil {
		return true
	}
	// Round-trip through JSON so numbers have the types validation expects.
	data, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var decoded any
	if err := json.Unmarshal(data, &decoded); err != nil {
		return false
	}
	return schema.VisitJSON(decoded, openapi3.VisitAsRequest(), openapi3.MultiErrors()) == nil
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64: // in decimal: fmt writes large numbers with an exponent
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool, int, int64:
		return fmt.Sprint(x), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// sampleValue returns a value the schema accepts, preferring what the spec
// itself offers (example, default, enum).
func sampleValue(s *openapi3.Schema, depth int) any {
	if s == nil || depth > 8 {
		return nil
	}
	// What the spec offers is used only when it fits the schema: real
	// specs give `example: "false"` for a boolean.
	for _, v := range []any{s.Example, s.Default} {
		if v != nil && fits(s, v) {
			return v
		}
	}
	if len(s.Enum) > 0 && fits(s, s.Enum[0]) {
		return s.Enum[0]
	}
	if len(s.AllOf) > 0 {
		merged := map[string]any{}
		// A plain value one member offers that fits the whole allOf
		// (Cloudflare's allOf: [$ref: identifier, {example: ...}]).
		var plain any
		for _, ref := range s.AllOf {
			if ref == nil {
				continue
			}
			v := sampleValue(ref.Value, depth+1)
			if m, ok := v.(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			} else if len(s.AllOf) == 1 {
				return v
			} else if plain == nil && v != nil && fits(s, v) {
				plain = v
			}
		}
		if len(merged) == 0 && len(s.Properties) == 0 && plain != nil {
			return plain
		}
		if len(s.Properties) == 0 {
			return merged
		}
		for k, v := range sampleObject(s, depth) {
			merged[k] = v
		}
		return merged
	}
	for _, alts := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		if len(alts) > 0 && alts[0] != nil {
			return sampleValue(alts[0].Value, depth+1)
		}
	}
	types := s.Type.Slice()
	typ := ""
	for _, t := range types {
		if t != "null" {
			typ = t
			break
		}
	}
	if typ == "" && len(s.Properties) > 0 {
		typ = "object"
	}
	switch typ {
	case "object":
		return sampleObject(s, depth)
	case "array":
		n := int(s.MinItems)
		items := make([]any, 0, n)
		for i := 0; i < n; i++ {
			var item *openapi3.Schema
			if s.Items != nil {
				item = s.Items.Value
			}
			items = append(items, sampleValue(item, depth+1))
		}
		return items
	case "integer":
		return sampleNumber(s, true)
	case "number":
		return sampleNumber(s, false)
	case "boolean":
		return true
	case "string":
		return sampleString(s)
	}
	return "x"
}

func sampleObject(s *openapi3.Schema, depth int) map[string]any {
	m := map[string]any{}
	for _, name := range s.Required {
		if ref := s.Properties[name]; ref != nil {
			if ref.Value != nil && ref.Value.ReadOnly {
				continue
			}
			m[name] = sampleValue(ref.Value, depth+1)
		} else {
			m[name] = "x"
		}
	}
	return m
}

func sampleNumber(s *openapi3.Schema, integer bool) any {
	v := 1.0
	if s.Min != nil {
		v = *s.Min
		if s.ExclusiveMin.IsTrue() {
			v++
		}
	} else if s.Max != nil && *s.Max < v {
		v = *s.Max
		if s.ExclusiveMax.IsTrue() {
			v--
		}
	}
	if s.MultipleOf != nil && *s.MultipleOf > 0 {
		v = math.Ceil(v / *s.MultipleOf) * *s.MultipleOf
	}
	if integer {
		return int64(math.Ceil(v))
	}
	return v
}

func sampleString(s *openapi3.Schema) string {
	var v string
	switch s.Format {
	case "uuid":
		v = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	case "date-time":
		v = "2024-01-02T03:04:05Z"
	case "date":
		v = "2024-01-02"
	case "time":
		v = "03:04:05"
	case "email":
		v = "user@example.com"
	case "uri", "url":
		v = "https://example.com/"
	case "hostname":
		v = "example.com"
	case "ipv4":
		v = "192.0.2.1"
	case "ipv6":
		v = "2001:db8::1"
	case "byte", "binary": // base64, as the generated Go types decode both
		v = "eA=="
	default:
		v = "x"
	}
	for uint64(len(v)) < s.MinLength {
		v += "x"
	}
	if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
		v = v[:*s.MaxLength]
	}
	return v
}
