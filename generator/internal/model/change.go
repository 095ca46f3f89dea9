package model

import (
	"fmt"
	"slices"
	"strings"
)

// This file compares the effective security of two versions of a spec's
// operations, for the report `gatehouse generate` prints when a
// regeneration changes who may call an operation.

// SecurityChange is an operation, present in both versions, whose callers
// differ.
type SecurityChange struct {
	Route    string // "GET /branches"
	Old, New Security
}

// String renders the change as "GET /branches: public → oauth2[accounts:read]".
func (c SecurityChange) String() string {
	return c.Route + ": " + c.Old.String() + " → " + c.New.String()
}

// SameCallers reports whether s and o let the same callers through: the same
// alternatives, in any order.
func (s Security) SameCallers(o Security) bool {
	return slices.Equal(s.canonical(), o.canonical())
}

// canonical lists the alternatives' renderings, sorted. A Requirement's
// rendering is already canonical: Build sorts its schemes and their scopes.
func (s Security) canonical() []string {
	out := make([]string, len(s.Alternatives))
	for i, r := range s.Alternatives {
		out[i] = r.String()
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CompareSecurity lists the routes ("METHOD /path") of both old and new whose
// callers differ, in the order of the model's operations (by path, then
// method). Routes only one side has are left out: they are operations added
// or removed, which are reported as such.
func CompareSecurity(old, new map[string]Security) []SecurityChange {
	var out []SecurityChange
	for route, n := range new {
		if o, ok := old[route]; ok && !o.SameCallers(n) {
			out = append(out, SecurityChange{Route: route, Old: o, New: n})
		}
	}
	slices.SortFunc(out, func(a, b SecurityChange) int { return compareRoutes(a.Route, b.Route) })
	return out
}

// compareRoutes orders "METHOD /path" routes by path, then method, as Build
// orders operations.
func compareRoutes(a, b string) int {
	am, ap, _ := strings.Cut(a, " ")
	bm, bp, _ := strings.Cut(b, " ")
	if c := strings.Compare(ap, bp); c != 0 {
		return c
	}
	if c := methodOrder(am) - methodOrder(bm); c != 0 {
		return c
	}
	return strings.Compare(am, bm)
}

// ParseSecurity reads back what Security.String wrote: "public", or
// alternatives separated by " | ", each "{}" or schemes joined by " + ",
// each with its scopes in brackets ("oauth2[read write]"). It reads the
// record a previous run left, so it checks what it reads: scheme names as
// components allow them, scopes as RFC 6749 does. "public" is read as no
// requirements, though a scheme may be named so: String cannot tell them
// apart either.
func ParseSecurity(s string) (Security, error) {
	if s == "public" {
		return Security{}, nil
	}
	var sec Security
	for _, alt := range strings.Split(s, " | ") {
		if alt == "{}" {
			sec.Alternatives = append(sec.Alternatives, Requirement{})
			continue
		}
		var r Requirement
		for _, use := range strings.Split(alt, " + ") {
			u, err := parseSchemeUse(use)
			if err != nil {
				return Security{}, fmt.Errorf("security %q: %v", s, err)
			}
			r = append(r, u)
		}
		sec.Alternatives = append(sec.Alternatives, r)
	}
	return sec, nil
}

// parseSchemeUse reads "name" or "name[scope scope]".
func parseSchemeUse(s string) (SchemeUse, error) {
	name, scopes, bracketed := strings.Cut(s, "[")
	if !componentNameRE.MatchString(name) {
		return SchemeUse{}, fmt.Errorf("%q is not a scheme name", name)
	}
	u := SchemeUse{Scheme: name}
	if !bracketed {
		return u, nil
	}
	list, ok := strings.CutSuffix(scopes, "]")
	if !ok || list == "" {
		return SchemeUse{}, fmt.Errorf("%q has no closing bracket after its scopes", s)
	}
	u.Scopes = strings.Split(list, " ")
	for _, scope := range u.Scopes {
		if !validScope(scope) {
			return SchemeUse{}, fmt.Errorf("%q is not a scope", scope)
		}
	}
	return u, nil
}
