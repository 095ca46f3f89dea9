package spec

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// dropUnfitDefaults removes parameter defaults that their own schema
// refuses (an integer parameter with "default": "20 - incident_summary"):
// the request validator applies a missing parameter's default and then
// refuses every request that leaves it out. It returns a repair for each.
func (d *Doc) dropUnfitDefaults() []string {
	var repairs []string
	check := func(ref *openapi3.ParameterRef, where ...string) {
		if ref == nil || ref.Value == nil || ref.Value.Schema == nil || ref.Value.Schema.Value == nil {
			return
		}
		s := ref.Value.Schema.Value
		if s.Default == nil || s.VisitJSON(s.Default) == nil {
			return
		}
		if ref.Ref != "" {
			if name, ok := strings.CutPrefix(ref.Ref, "#/components/parameters/"); ok {
				where = []string{"components", "parameters", name}
			}
		}
		pos := d.Locate(append(where, "schema", "default")...)
		shown, _ := json.Marshal(s.Default)
		repairs = append(repairs, fmt.Sprintf("%s: the default %s of parameter %q does not fit its own schema, so every request without the parameter would be refused; gatehouse dropped the default: fix it or remove it", pos, shown, ref.Value.Name))
		s.Default = nil
	}
	if d.Paths == nil {
		return nil
	}
	paths := d.Paths.Keys()
	sort.Strings(paths)
	for _, p := range paths {
		item := d.Paths.Value(p)
		if item == nil {
			continue
		}
		for i, ref := range item.Parameters {
			check(ref, "paths", p, "parameters", strconv.Itoa(i))
		}
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			for i, ref := range ops[m].Parameters {
				check(ref, "paths", p, strings.ToLower(m), "parameters", strconv.Itoa(i))
			}
		}
	}
	return repairs
}
