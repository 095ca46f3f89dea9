package generator

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
)

// This file is `gatehouse diff`: every change to effective security
// between two versions of a spec, each classified for CI. Operations in both
// versions are compared with model.CompareSecurity, as `generate` does.

// Classes of a security change.
const (
	Loosening  = "loosening"  // someone may now call what they could not
	Tightening = "tightening" // someone who could call no longer can
	// New is an operation added with required credentials: nobody could
	// call it before, and it lets in only callers with credentials.
	New = "new"
)

// SecurityDiffItem is one change.
type SecurityDiffItem struct {
	Kind   string `json:"kind"`  // operation-added, operation-removed, now-public, now-protected, alternative-added, alternative-removed, scopes-added, scopes-dropped, scheme-changed
	Class  string `json:"class"` // Loosening, Tightening or New
	Route  string `json:"operation,omitempty"`
	Scheme string `json:"scheme,omitempty"`
	Detail string `json:"detail"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
}

// SecurityDiff lists the changes from Old to New.
type SecurityDiff struct {
	OldSpec, NewSpec string
	Items            []SecurityDiffItem
}

// Loosens reports whether a change lets in a caller who was refused.
func (d *SecurityDiff) Loosens() bool {
	return slices.ContainsFunc(d.Items, func(i SecurityDiffItem) bool { return i.Class == Loosening })
}

// DiffSpecs loads both specs and compares their effective security.
// oldName and newName are how the specs are named in the output (a git
// revision's spec is loaded from a temporary copy).
func DiffSpecs(ctx context.Context, oldPath, oldName, newPath, newName string) (*SecurityDiff, error) {
	_, oldAPI, err := load(ctx, oldPath)
	if err != nil {
		return nil, err
	}
	_, newAPI, err := load(ctx, newPath)
	if err != nil {
		return nil, err
	}
	d := DiffAPIs(oldAPI, newAPI)
	d.OldSpec, d.NewSpec = oldName, newName
	return d, nil
}

// DiffAPIs compares two models.
func DiffAPIs(oldAPI, newAPI *model.API) *SecurityDiff {
	d := &SecurityDiff{}
	byRoute := func(api *model.API) (map[string]model.Security, []string) {
		m := map[string]model.Security{}
		var order []string
		for _, op := range api.Operations {
			m[route(op)] = op.Security
			order = append(order, route(op))
		}
		return m, order
	}
	oldOps, oldOrder := byRoute(oldAPI)
	newOps, newOrder := byRoute(newAPI)
	for _, rt := range oldOrder {
		if _, ok := newOps[rt]; !ok {
			d.Items = append(d.Items, SecurityDiffItem{Kind: "operation-removed", Class: Tightening, Route: rt, Detail: "operation removed", Old: oldOps[rt].String()})
		}
	}
	for _, rt := range newOrder {
		if _, ok := oldOps[rt]; ok {
			continue
		}
		s := newOps[rt]
		class := New
		if s.Public() || s.AllowsAnonymous() {
			class = Loosening
		}
		d.Items = append(d.Items, SecurityDiffItem{Kind: "operation-added", Class: class, Route: rt, Detail: "operation added", New: s.String()})
	}
	for _, c := range model.CompareSecurity(oldOps, newOps) {
		d.Items = append(d.Items, changeItems(c)...)
	}
	d.Items = append(d.Items, schemeChanges(oldAPI, newAPI)...)
	slices.SortStableFunc(d.Items, func(a, b SecurityDiffItem) int {
		if a.Route == "" || b.Route == "" {
			return strings.Compare(b.Route, a.Route) // schemes last
		}
		return compareRoutes(a.Route, b.Route)
	})
	return d
}

// compareRoutes orders "METHOD /path" by path, then method.
func compareRoutes(a, b string) int {
	am, ap, _ := strings.Cut(a, " ")
	bm, bp, _ := strings.Cut(b, " ")
	if c := strings.Compare(ap, bp); c != 0 {
		return c
	}
	return strings.Compare(methodRank(am), methodRank(bm))
}

func methodRank(m string) string {
	i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}, m)
	return fmt.Sprintf("%02d%s", i+1, m)
}

// changeItems details one operation's change.
func changeItems(c model.SecurityChange) []SecurityDiffItem {
	item := func(kind, class, detail string) SecurityDiffItem {
		return SecurityDiffItem{Kind: kind, Class: class, Route: c.Route, Detail: detail, Old: c.Old.String(), New: c.New.String()}
	}
	switch {
	case c.Old.Public():
		return []SecurityDiffItem{item("now-protected", Tightening, "public → protected")}
	case c.New.Public():
		return []SecurityDiffItem{item("now-public", Loosening, "protected → public")}
	}
	var out []SecurityDiffItem
	removed := missingFrom(c.Old.Alternatives, c.New.Alternatives)
	added := missingFrom(c.New.Alternatives, c.Old.Alternatives)
	// An alternative with the same schemes on both sides changed scopes.
	for _, n := range slices.Clone(added) {
		i := slices.IndexFunc(removed, func(o model.Requirement) bool { return slices.Equal(schemeNames(o), schemeNames(n)) && len(n) > 0 })
		if i < 0 {
			continue
		}
		o := removed[i]
		removed = slices.Delete(removed, i, i+1)
		added = slices.DeleteFunc(added, func(r model.Requirement) bool { return r.String() == n.String() })
		for k, u := range n {
			more, less := diffScopes(o[k].Scopes, u.Scopes)
			if len(more) > 0 {
				out = append(out, item("scopes-added", Tightening, fmt.Sprintf("%s now also requires %s (in %s)", u.Scheme, strings.Join(more, " "), n)))
			}
			if len(less) > 0 {
				out = append(out, item("scopes-dropped", Loosening, fmt.Sprintf("%s no longer requires %s (in %s)", u.Scheme, strings.Join(less, " "), n)))
			}
		}
	}
	for _, r := range removed {
		out = append(out, item("alternative-removed", Tightening, "alternative removed: "+r.String()))
	}
	for _, r := range added {
		out = append(out, item("alternative-added", Loosening, "alternative added: "+r.String()))
	}
	return out
}

// missingFrom lists the alternatives of a that b does not have.
func missingFrom(a, b []model.Requirement) []model.Requirement {
	var out []model.Requirement
	for _, r := range a {
		if !slices.ContainsFunc(b, func(o model.Requirement) bool { return o.String() == r.String() }) {
			out = append(out, r)
		}
	}
	return out
}

func diffScopes(old, new []string) (added, dropped []string) {
	for _, s := range new {
		if !slices.Contains(old, s) {
			added = append(added, s)
		}
	}
	for _, s := range old {
		if !slices.Contains(new, s) {
			dropped = append(dropped, s)
		}
	}
	return added, dropped
}

// exposed reports whether a scheme sends a reusable secret where it leaks
// (a query string) or a password with every request (Basic).
func exposed(s model.Scheme) bool {
	return s.Kind == model.KindBasic || (s.Kind == model.KindAPIKey && s.In == "query")
}

func schemeForm(s model.Scheme) string {
	switch s.Kind {
	case model.KindAPIKey:
		return fmt.Sprintf("apiKey in %s %q", s.In, s.Param)
	case model.KindCustom:
		return "custom " + s.Description
	}
	return s.Kind
}

// schemeChanges lists schemes of both versions whose type or location
// changed. A change to a form that exposes the credential more (Basic, a
// query string) is a loosening, one away from it a tightening; any other
// change of type is a loosening too: the operations now accept a credential
// of a kind they did not.
func schemeChanges(oldAPI, newAPI *model.API) []SecurityDiffItem {
	var out []SecurityDiffItem
	for _, n := range newAPI.Schemes {
		o := oldAPI.Scheme(n.Name)
		if !slices.ContainsFunc(oldAPI.Schemes, func(s model.Scheme) bool { return s.Name == n.Name }) {
			continue
		}
		if schemeForm(o) == schemeForm(n) {
			continue
		}
		class := Loosening
		if exposed(o) && !exposed(n) {
			class = Tightening
		}
		out = append(out, SecurityDiffItem{Kind: "scheme-changed", Class: class, Scheme: n.Name, Detail: schemeForm(o) + " → " + schemeForm(n), Old: schemeForm(o), New: schemeForm(n)})
	}
	return out
}

func (i SecurityDiffItem) where() string {
	if i.Route != "" {
		return i.Route
	}
	return "scheme " + i.Scheme
}

// WriteText writes one line per change; nothing when there is none.
func (d *SecurityDiff) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, i := range d.Items {
		fmt.Fprintf(&b, "%-10s %s: %s", i.Class, i.where(), i.Detail)
		if i.Route != "" && (i.Old != "" || i.New != "") {
			fmt.Fprintf(&b, " (%s → %s)", orNone(i.Old), orNone(i.New))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}

// WriteMarkdown writes the changes as a pull-request comment; nothing when
// there is none.
func (d *SecurityDiff) WriteMarkdown(w io.Writer) error {
	if len(d.Items) == 0 {
		return nil
	}
	var b strings.Builder
	loose := 0
	for _, i := range d.Items {
		if i.Class == Loosening {
			loose++
		}
	}
	fmt.Fprintf(&b, "### Security changes: %s → %s\n\n%d changes, %d loosening.\n\n", mdCell(d.OldSpec), mdCell(d.NewSpec), len(d.Items), loose)
	b.WriteString("| | operation | change | before | after |\n|---|---|---|---|---|\n")
	for _, i := range d.Items {
		mark := map[string]string{Loosening: "⚠️ loosening", Tightening: "tightening", New: "new"}[i.Class]
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", mark, mdCell(i.where()), mdCell(i.Detail), mdCode(i.Old), mdCode(i.New))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + mdCell(s) + "`"
}

// WriteJSON writes the changes as JSON.
func (d *SecurityDiff) WriteJSON(w io.Writer) error {
	items := d.Items
	if items == nil {
		items = []SecurityDiffItem{}
	}
	return writeJSON(w, struct {
		Old     string             `json:"old"`
		New     string             `json:"new"`
		Loosens bool               `json:"loosens"`
		Changes []SecurityDiffItem `json:"changes"`
	}{d.OldSpec, d.NewSpec, d.Loosens(), items})
}
