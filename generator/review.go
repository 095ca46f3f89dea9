package generator

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// This file is `gatehouse lint` as a security review: rules with stable ids
// that judge a spec from its effective security (model.API), each finding
// located in the spec and explained with a reference.

// Severity grades a finding. The order is error > warning > info.
type Severity int

// Severities, from least to most severe. SevOff turns a rule off.
const (
	SevOff Severity = iota
	SevInfo
	SevWarning
	SevError
)

func (s Severity) String() string {
	switch s {
	case SevInfo:
		return "info"
	case SevWarning:
		return "warning"
	case SevError:
		return "error"
	}
	return "off"
}

// ParseSeverity reads "error", "warning", "info" or "off".
func ParseSeverity(s string) (Severity, bool) {
	for _, v := range []Severity{SevOff, SevInfo, SevWarning, SevError} {
		if s == v.String() {
			return v, true
		}
	}
	return SevOff, false
}

// Rule is one check of the review.
type Rule struct {
	ID       string
	Severity Severity // default
	Summary  string   // one line: what it finds
	// Rationale says why it matters and cites where (OWASP API Security
	// Top 10 2023 item, RFC or BCP section).
	Rationale string
}

// Rules lists every rule of the review, in the order the README documents
// them. Ids are stable: configuration and x-gatehouse-lint-ignore name them.
var Rules = []Rule{
	{"state-change-public", SevError, "a state-changing operation (POST, PUT, PATCH, DELETE) is public or allows anonymous {}",
		"Anyone can change state through it; a write without a caller is almost always a missing requirement. OWASP API5:2023 Broken Function Level Authorization; OWASP API2:2023 Broken Authentication."},
	{"public-by-omission", SevWarning, "an operation has no security because neither it nor the root declares any",
		"Public by default is public by accident: an operation added later is open unless someone remembers to protect it. Declare root security and make public operations say security: [] on purpose. OWASP API8:2023 Security Misconfiguration; OWASP API5:2023."},
	{"apikey-in-query", SevWarning, "an apiKey scheme is sent in the query string",
		"URLs are written to proxy, server and browser logs and history, and leak through Referer. OWASP API2:2023 (authentication details sent in the URL); RFC 6750 §2.3 says the same of bearer tokens in the query (SHOULD NOT)."},
	{"http-basic", SevWarning, "an operation accepts HTTP Basic",
		"Basic sends the user's password, reversibly encoded, with every request: each request is a chance to leak it, and it cannot be scoped or revoked without changing the password. RFC 7617 §4 (Security Considerations); OWASP API2:2023."},
	{"scope-undeclared", SevError, "a requirement names an oauth2 scope that none of the scheme's flows declares",
		"A token can only carry scopes the authorization server issues (RFC 6749 §3.3); a scope missing from the flows is a typo or an undocumented privilege, and the operation either cannot be called or is guarded by a scope nobody reviews. OpenAPI 3.x, OAuth Flow Object (scopes)."},
	{"scope-unused", SevInfo, "an oauth2 flow declares a scope that no operation requires",
		"A declared scope that guards nothing suggests a function-level check that was meant and not written; clients asking for it get a privilege that means nothing. OWASP API5:2023."},
	{"scheme-unused", SevWarning, "a security scheme is declared and no operation uses it",
		"A scheme declared and never required is often a requirement that was forgotten on the operations it was meant for. OWASP API8:2023 Security Misconfiguration."},
	{"oauth2-implicit-flow", SevWarning, "an oauth2 scheme declares the implicit flow",
		"The implicit grant returns access tokens in the redirect, where they leak and can be replayed; RFC 9700 (OAuth 2.0 Security BCP) §2.1.2: clients SHOULD NOT use it; use the authorization code flow with PKCE."},
	{"oauth2-password-flow", SevInfo, "an oauth2 scheme declares the resource owner password flow",
		"RFC 9700 §2.4 says this grant MUST NOT be used, because it hands users' passwords to clients. gatehouse serves it itself as the API's own first-party login: the password goes only to the server that verifies it (as a login form would post it), failures are throttled per account and per address, and tokens are short-lived and revocable. Do not let third-party clients collect users' passwords: give them the authorization code flow of an identity provider."},
	{"plain-http-url", SevError, "a tokenUrl, authorizationUrl, refreshUrl, openIdConnectUrl or server URL uses plain http",
		"Credentials and tokens sent over plain http can be read and replayed by anyone on the path. RFC 6749 §3.1 and §3.2 require TLS for the authorization and token endpoints; RFC 6750 §5.3; OWASP API8:2023 (TLS missing). Loopback addresses are allowed for development."},
	{"missing-auth-responses", SevWarning, "a protected operation documents no 401, or one that requires scopes no 403",
		"Clients must tell missing or invalid credentials (401) from insufficient scope (403) to react correctly (re-authenticate, or ask for more scope); RFC 6750 §3.1 (invalid_token, insufficient_scope), RFC 9110 §15.5.2 and §15.5.4. A 4XX range counts; default does not."},
	{"token-endpoint-rate-limit", SevInfo, "the token endpoint documents no 429",
		"The token endpoint takes passwords and client secrets, so it is where credential stuffing and brute force happen; RFC 6749 §4.3.2 requires protecting it against brute force, and gatehouse answers 429 (RFC 6585 §4) when it throttles: document it so clients back off. OWASP API2:2023, API4:2023."},
	{"admin-shares-security", SevWarning, "an admin-looking operation can be called with the credentials an ordinary operation needs",
		"Administrative functions need their own scope or role: when the credentials of an ordinary operation also satisfy an admin one, every user is an administrator. OWASP API5:2023 Broken Function Level Authorization."},
	{"requirement-unsatisfiable", SevWarning, "a requirement object needs two credentials that both travel in the Authorization header",
		"A request has one Authorization header, so a requirement that ANDs a bearer token, a Basic login or an API key in that header with another of them can never be met: every call is refused (gatehouse enforces the spec as written, failing closed). It is usually an OR written as an AND: list the schemes as separate requirement objects. OpenAPI 3.x, Security Requirement Object; RFC 9110 §11.6.2 (one Authorization field)."},
	{"weaker-alternative", SevWarning, "an operation is reachable through an OR alternative that needs strictly less than a sibling alternative",
		"Alternatives are OR-ed: the weakest one is the operation's real requirement, and the scopes or extra schemes of the stronger sibling guard nothing (e.g. a write scope on a token, and an API key with no scope beside it on a DELETE). Reported for a subset on any operation, for an unscoped alternative beside a scoped one on writes. OWASP API5:2023."},
	{"credential-in-url", SevWarning, "a query or path parameter is named like a credential (password, token, secret, key)",
		"Credentials in URLs are logged by proxies and servers and leak through Referer and history. OWASP API2:2023 (authentication details sent in the URL); RFC 6750 §5.3."},
}

// RuleByID returns the rule with id.
func RuleByID(id string) (Rule, bool) {
	i := slices.IndexFunc(Rules, func(r Rule) bool { return r.ID == id })
	if i < 0 {
		return Rule{}, false
	}
	return Rules[i], true
}

// Finding is one result of the review.
type Finding struct {
	Rule     string
	Severity Severity
	Pos      spec.Pos
	Message  string
	// Route is "METHOD /path" when the finding is about one operation.
	Route string
}

// Review is what `gatehouse lint` reports.
type Review struct {
	Spec     string // the spec's path as given
	API      *model.API
	Findings []Finding // by severity (most severe first), then place
	Notices  []string
	Warnings []string
}

// Count returns the number of findings at severity s.
func (r *Review) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Fails reports whether a finding is at least as severe as failOn.
func (r *Review) Fails(failOn Severity) bool {
	if failOn == SevOff {
		return false
	}
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Severity >= failOn })
}

// ReviewSpec loads the spec at specPath and runs the review with cfg's
// severities. It does not generate code: the review is about security, and
// stays fast on large specs.
func ReviewSpec(ctx context.Context, specPath string, cfg LintConfig) (*Review, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	doc, api, err := load(ctx, specPath)
	if err != nil {
		return nil, err
	}
	rv := &Review{Spec: specPath, API: api, Notices: doc.Notices, Warnings: slices.Concat(doc.Repairs, api.Warnings)}
	findings, err := runRules(doc, api)
	if err != nil {
		return nil, err
	}
	for _, f := range findings {
		sev := cfg.severity(f.Rule)
		if sev == SevOff {
			continue
		}
		f.Severity = sev
		rv.Findings = append(rv.Findings, f)
	}
	sort.SliceStable(rv.Findings, func(i, j int) bool {
		a, b := rv.Findings[i], rv.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	return rv, nil
}

// IgnoreExtension lists, on an operation or a security scheme, the rule ids
// the review does not report there.
const IgnoreExtension = "x-gatehouse-lint-ignore"

// reviewer holds what the rules share.
type reviewer struct {
	doc      *spec.Doc
	api      *model.API
	findings []Finding
	// ignored are the rule ids each operation ("METHOD /path") or scheme
	// ("scheme NAME") ignores.
	ignored map[string][]string
}

func runRules(doc *spec.Doc, api *model.API) ([]Finding, error) {
	r := &reviewer{doc: doc, api: api, ignored: map[string][]string{}}
	if err := r.readIgnores(); err != nil {
		return nil, err
	}
	r.operationRules()
	r.schemeRules()
	r.scopeRules()
	r.urlRules()
	r.adminRule()
	r.tokenEndpointRule()
	return r.findings, nil
}

func (r *reviewer) add(rule, key string, pos spec.Pos, route, format string, args ...any) {
	if slices.Contains(r.ignored[key], rule) {
		return
	}
	rl, _ := RuleByID(rule)
	r.findings = append(r.findings, Finding{Rule: rule, Severity: rl.Severity, Pos: pos, Route: route, Message: fmt.Sprintf(format, args...)})
}

// readIgnores reads x-gatehouse-lint-ignore on operations and schemes. A
// value that is not a list of known rule ids is an error: a typo would
// otherwise silently keep a finding, or hide nothing while seeming to.
func (r *reviewer) readIgnores() error {
	read := func(ext map[string]any, key string, where ...string) error {
		v, ok := ext[IgnoreExtension]
		if !ok {
			return nil
		}
		pos := r.doc.Locate(append(where, IgnoreExtension)...)
		list, ok := v.([]any)
		if !ok {
			return spec.Errorf(pos, "%s must be a list of rule ids, e.g. [http-basic]", IgnoreExtension)
		}
		for _, item := range list {
			id, _ := item.(string)
			if _, known := RuleByID(id); !known {
				return spec.Errorf(pos, "%s names %q, which is not a rule; rules are %s", IgnoreExtension, fmt.Sprint(item), ruleIDs())
			}
			r.ignored[key] = append(r.ignored[key], id)
		}
		return nil
	}
	if doc := r.doc; doc.Components != nil {
		for _, name := range sortedKeys(doc.Components.SecuritySchemes) {
			if ref := doc.Components.SecuritySchemes[name]; ref != nil && ref.Value != nil {
				if err := read(ref.Value.Extensions, "scheme "+name, "components", "securitySchemes", name); err != nil {
					return err
				}
			}
		}
	}
	for _, op := range r.allOperations() {
		if o := r.rawOp(op); o != nil {
			if err := read(o.Extensions, route(op), "paths", op.Path, strings.ToLower(op.Method)); err != nil {
				return err
			}
		}
	}
	return nil
}

func ruleIDs() string {
	ids := make([]string, len(Rules))
	for i, r := range Rules {
		ids[i] = r.ID
	}
	return strings.Join(ids, ", ")
}

func route(op model.Operation) string { return op.Method + " " + op.Path }

// allOperations are the operations of the spec, including those gatehouse
// serves itself (the token and revocation endpoints).
func (r *reviewer) allOperations() []model.Operation {
	return slices.Concat(r.api.Operations, r.api.Implemented, r.api.NotServed)
}

func (r *reviewer) rawOp(op model.Operation) *openapi3.Operation {
	if r.doc.Paths == nil {
		return nil
	}
	item := r.doc.Paths.Value(op.Path)
	if item == nil {
		return nil
	}
	return item.GetOperation(op.Method)
}

// opPos locates an operation, at its own security when it has one.
func (r *reviewer) opPos(op model.Operation, sub ...string) spec.Pos {
	return r.doc.Locate(append([]string{"paths", op.Path, strings.ToLower(op.Method)}, sub...)...)
}

func (r *reviewer) securityPos(op model.Operation) spec.Pos {
	if op.Security.Source == "operation" {
		return r.opPos(op, "security")
	}
	return r.opPos(op)
}

func stateChanging(method string) bool {
	switch method {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

func (r *reviewer) operationRules() {
	rootUnsatisfiable := false // reported once, at the root's security
	for _, op := range r.api.Operations {
		rt := route(op)
		sec := op.Security
		if stateChanging(op.Method) && (sec.Public() || sec.AllowsAnonymous()) {
			how := "is public"
			switch {
			case sec.AllowsAnonymous():
				how = "allows anonymous callers ({} among its alternatives)"
			case sec.Source == "none":
				how = "is public: it declares no security and the root declares none"
			case sec.Source == "operation":
				how = "is public (security: [])"
			}
			r.add("state-change-public", rt, r.securityPos(op), rt, "%s changes state and %s; require credentials, or add %s: [state-change-public] if anyone may call it on purpose", rt, how, IgnoreExtension)
		}
		if sec.Source == "none" {
			r.add("public-by-omission", rt, r.opPos(op), rt, "%s is public because neither it nor the root declares security; declare root security, and security: [] on operations meant to be public", rt)
		}
		r.weakerAlternative(op)
		r.unsatisfiable(op, &rootUnsatisfiable)
		r.authResponses(op)
		r.credentialParams(op)
	}
}

// unsatisfiable reports the requirements of op that no request can meet:
// those of the root's security once (reported says it was), an
// operation's own with the operation.
func (r *reviewer) unsatisfiable(op model.Operation, reported *bool) {
	for _, req := range op.Security.Alternatives {
		both := r.api.AuthorizationConflict(req)
		if both == nil {
			continue
		}
		why := fmt.Sprintf("which no request can carry (%s each need the Authorization header)", strings.Join(both, " and "))
		fix := "if either is meant to suffice, list them as separate requirement objects (OR)"
		if op.Security.Source == "root" {
			if !*reported {
				*reported = true
				r.add("requirement-unsatisfiable", "", r.doc.Locate("security"), "", "the root security requires %s, %s: every operation that inherits it refuses every call; %s", req, why, fix)
			}
			continue
		}
		rt := route(op)
		r.add("requirement-unsatisfiable", rt, r.securityPos(op), rt, "%s requires %s, %s: it refuses every call that way; %s", rt, req, why, fix)
	}
}

// implies reports whether a caller satisfying b also satisfies a: every
// scheme of a is in b, with a subset of b's scopes.
func implies(b, a model.Requirement) bool {
	for _, ua := range a {
		i := slices.IndexFunc(b, func(ub model.SchemeUse) bool { return ub.Scheme == ua.Scheme })
		if i < 0 {
			return false
		}
		for _, s := range ua.Scopes {
			if !slices.Contains(b[i].Scopes, s) {
				return false
			}
		}
	}
	return true
}

func scoped(req model.Requirement) bool {
	return slices.ContainsFunc(req, func(u model.SchemeUse) bool { return len(u.Scopes) > 0 })
}

// weakerAlternative finds, among an operation's alternatives, one that asks
// strictly less than a sibling: a subset of its schemes and scopes, or, on a
// state-changing operation, no scope at all beside a sibling that requires
// some (on reads, a full-access key beside scoped tokens is a common and
// deliberate design, and reporting every read buried the writes). {} is
// left to state-change-public.
func (r *reviewer) weakerAlternative(op model.Operation) {
	alts := op.Security.Alternatives
	if len(alts) < 2 || op.Security.AllowsAnonymous() {
		return
	}
	rt := route(op)
	for i, weak := range alts {
		for j, strong := range alts {
			if i == j {
				continue
			}
			switch {
			case implies(strong, weak) && !implies(weak, strong):
				r.add("weaker-alternative", rt, r.securityPos(op), rt, "%s accepts %s, which asks strictly less than its alternative %s: what the latter adds guards nothing; drop one, or make them equal", rt, weak, strong)
			case stateChanging(op.Method) && scoped(strong) && !scoped(weak) && !implies(strong, weak):
				r.add("weaker-alternative", rt, r.securityPos(op), rt, "%s accepts %s with no scope or role, beside %s, which requires some: any valid %s credential passes the check the scopes were meant to make; require scopes on it too", rt, weak, strong, strings.Join(schemeNames(weak), " + "))
			default:
				continue
			}
			break // one finding per weak alternative
		}
	}
}

func schemeNames(req model.Requirement) []string {
	out := make([]string, len(req))
	for i, u := range req {
		out[i] = u.Scheme
	}
	return out
}

// hasResponse reports whether op documents code, or its 4XX range.
func hasResponse(op *openapi3.Operation, code string) bool {
	if op == nil || op.Responses == nil {
		return false
	}
	for k := range op.Responses.Map() {
		if k == code || strings.EqualFold(k, code[:1]+"XX") {
			return true
		}
	}
	return false
}

func (r *reviewer) authResponses(op model.Operation) {
	sec := op.Security
	if !slices.ContainsFunc(sec.Alternatives, func(req model.Requirement) bool { return len(req) > 0 }) {
		return
	}
	raw := r.rawOp(op)
	var missing []string
	if !hasResponse(raw, "401") {
		missing = append(missing, "401 (missing or invalid credentials)")
	}
	if slices.ContainsFunc(sec.Alternatives, scoped) && !hasResponse(raw, "403") {
		missing = append(missing, "403 (insufficient scope or role)")
	}
	if len(missing) == 0 {
		return
	}
	rt := route(op)
	r.add("missing-auth-responses", rt, r.opPos(op, "responses"), rt, "%s checks credentials (%s) and documents no %s; add the response", rt, sec, strings.Join(missing, " and no "))
}

// credentialName matches parameter names that carry a secret.
func credentialName(name string) bool {
	n := strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(name))
	for _, w := range []string{"password", "passwd", "secret", "apikey", "accesstoken", "refreshtoken", "idtoken", "authtoken", "sessionid", "privatekey", "clientsecret"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return n == "token" || n == "key" || n == "auth" || n == "jwt"
}

func (r *reviewer) credentialParams(op model.Operation) {
	raw := r.rawOp(op)
	if raw == nil {
		return
	}
	params := raw.Parameters
	if item := r.doc.Paths.Value(op.Path); item != nil {
		params = append(slices.Clone(item.Parameters), params...)
	}
	rt := route(op)
	for i, p := range params {
		if p == nil || p.Value == nil || (p.Value.In != "query" && p.Value.In != "path") || !credentialName(p.Value.Name) {
			continue
		}
		if r.queryKeyParam(p.Value) {
			continue // the apiKey scheme's own parameter: apikey-in-query says it
		}
		pos := r.opPos(op, "parameters", strconv.Itoa(i-(len(params)-len(raw.Parameters))))
		if i < len(params)-len(raw.Parameters) {
			pos = r.doc.Locate("paths", op.Path, "parameters", strconv.Itoa(i))
		}
		r.add("credential-in-url", rt, pos, rt, "%s takes %q in the %s, which reads like a credential; send credentials in a header or the body", rt, p.Value.Name, p.Value.In)
	}
}

func (r *reviewer) queryKeyParam(p *openapi3.Parameter) bool {
	return p.In == "query" && slices.ContainsFunc(r.api.Schemes, func(s model.Scheme) bool {
		return s.Kind == model.KindAPIKey && s.In == "query" && s.Param == p.Name
	})
}

// used returns the schemes and the scopes, per scheme, that some operation
// requires.
func (r *reviewer) used() (schemes map[string]bool, scopes map[string]map[string]bool) {
	schemes, scopes = map[string]bool{}, map[string]map[string]bool{}
	for _, op := range r.allOperations() {
		for _, alt := range op.Security.Alternatives {
			for _, u := range alt {
				schemes[u.Scheme] = true
				if scopes[u.Scheme] == nil {
					scopes[u.Scheme] = map[string]bool{}
				}
				for _, s := range u.Scopes {
					scopes[u.Scheme][s] = true
				}
			}
		}
	}
	return schemes, scopes
}

// usersOf lists the routes whose effective security uses scheme.
func (r *reviewer) usersOf(scheme string) []string {
	var out []string
	for _, op := range r.api.Operations {
		if slices.ContainsFunc(op.Security.Alternatives, func(req model.Requirement) bool {
			return slices.ContainsFunc(req, func(u model.SchemeUse) bool { return u.Scheme == scheme })
		}) {
			out = append(out, route(op))
		}
	}
	return out
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func some(routes []string) string {
	if len(routes) <= 3 {
		return strings.Join(routes, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(routes[:3], ", "), len(routes)-3)
}

func (r *reviewer) rawScheme(name string) *openapi3.SecurityScheme {
	if r.doc.Components == nil {
		return nil
	}
	if ref := r.doc.Components.SecuritySchemes[name]; ref != nil {
		return ref.Value
	}
	return nil
}

func (r *reviewer) schemeRules() {
	usedSchemes, _ := r.used()
	for _, s := range r.api.Schemes {
		key := "scheme " + s.Name
		at := []string{"components", "securitySchemes", s.Name}
		pos := r.doc.Locate(at...)
		if !usedSchemes[s.Name] {
			r.add("scheme-unused", key, pos, "", "security scheme %q is declared and no operation requires it; apply it where it was meant, or remove it", s.Name)
		}
		switch s.Kind {
		case model.KindAPIKey:
			if s.In == "query" {
				r.add("apikey-in-query", key, r.doc.Locate(append(at, "in")...), "", "apiKey scheme %q is sent in the query parameter %q, where logs and Referer headers keep it; send it in a header", s.Name, s.Param)
			}
		case model.KindBasic:
			if users := r.usersOf(s.Name); len(users) > 0 {
				r.add("http-basic", key, pos, "", "HTTP Basic scheme %q sends a password with every request (%s: %s); prefer tokens from the token endpoint, or API keys", s.Name, count(len(users), "operation"), some(users))
			}
		case model.KindOAuth2:
			raw := r.rawScheme(s.Name)
			if raw == nil || raw.Flows == nil {
				continue
			}
			if raw.Flows.Implicit != nil {
				r.add("oauth2-implicit-flow", key, r.doc.Locate(append(at, "flows", "implicit")...), "", "oauth2 scheme %q declares the implicit flow, which the OAuth 2.0 Security BCP deprecates; use authorizationCode with PKCE", s.Name)
			}
			if raw.Flows.Password != nil {
				r.add("oauth2-password-flow", key, r.doc.Locate(append(at, "flows", "password")...), "", "oauth2 scheme %q declares the password flow; gatehouse serves it itself, at %s, as the API's first-party login (see the rule's rationale); do not give users' passwords to third-party clients", s.Name, r.api.TokenPath)
			}
		}
	}
}

// flows lists an oauth2 scheme's flows by their keys in the spec.
func flows(f *openapi3.OAuthFlows) []struct {
	key  string
	flow *openapi3.OAuthFlow
} {
	var out []struct {
		key  string
		flow *openapi3.OAuthFlow
	}
	for _, kf := range []struct {
		key  string
		flow *openapi3.OAuthFlow
	}{{"implicit", f.Implicit}, {"password", f.Password}, {"clientCredentials", f.ClientCredentials}, {"authorizationCode", f.AuthorizationCode}} {
		if kf.flow != nil {
			out = append(out, kf)
		}
	}
	return out
}

func (r *reviewer) scopeRules() {
	declared := map[string]map[string]bool{} // oauth2 scheme → declared scopes
	for _, s := range r.api.Schemes {
		if s.Kind != model.KindOAuth2 {
			continue
		}
		declared[s.Name] = map[string]bool{}
		if raw := r.rawScheme(s.Name); raw != nil && raw.Flows != nil {
			for _, f := range flows(raw.Flows) {
				for scope := range f.flow.Scopes {
					declared[s.Name][scope] = true
				}
			}
		}
	}
	// Requirements are checked where they are written: the root list once,
	// and each operation's own list.
	check := func(reqs openapi3.SecurityRequirements, key, rt string, where ...string) {
		for i, req := range reqs {
			for _, name := range sortedKeys(req) {
				d, ok := declared[name]
				if !ok {
					continue
				}
				var missing []string
				for _, scope := range req[name] {
					if !d[scope] {
						missing = append(missing, scope)
					}
				}
				if len(missing) == 0 {
					continue
				}
				slices.Sort(missing)
				missing = slices.Compact(missing)
				decl := "declares none"
				if len(d) > 0 {
					decl = "declare " + strings.Join(sortedKeys(d), ", ")
				}
				pos := r.doc.Locate(append(slices.Clone(where), strconv.Itoa(i), name)...)
				r.add("scope-undeclared", key, pos, rt, "%s requires scope %s of oauth2 scheme %q, which its flows do not declare (they %s); declare it under the flows' scopes, or fix the name", strings.TrimSpace(rt+" "), strings.Join(missing, ", "), name, decl)
			}
		}
	}
	check(r.doc.Security, "", "", "security")
	for _, op := range r.allOperations() {
		if raw := r.rawOp(op); raw != nil && raw.Security != nil {
			check(*raw.Security, route(op), route(op), "paths", op.Path, strings.ToLower(op.Method), "security")
		}
	}
	_, usedScopes := r.used()
	for _, name := range sortedKeys(declared) {
		raw := r.rawScheme(name)
		if raw == nil || raw.Flows == nil {
			continue
		}
		seen := map[string]bool{}
		for _, f := range flows(raw.Flows) {
			for _, scope := range sortedKeys(f.flow.Scopes) {
				if usedScopes[name][scope] || seen[scope] {
					continue
				}
				seen[scope] = true
				r.add("scope-unused", "scheme "+name, r.doc.Locate("components", "securitySchemes", name, "flows", f.key, "scopes", scope), "", "oauth2 scheme %q declares scope %q, which no operation requires; require it where it was meant, or remove it", name, scope)
			}
		}
	}
}

// plainHTTP reports whether raw is an http URL to a host other than a
// loopback address.
func plainHTTP(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return false
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return false
	}
	return true
}

func (r *reviewer) urlRules() {
	for _, s := range r.api.Schemes {
		raw := r.rawScheme(s.Name)
		if raw == nil {
			continue
		}
		key := "scheme " + s.Name
		at := []string{"components", "securitySchemes", s.Name}
		if s.Kind == model.KindOpenIDConnect && plainHTTP(raw.OpenIdConnectUrl) {
			r.add("plain-http-url", key, r.doc.Locate(append(at, "openIdConnectUrl")...), "", "openIdConnect scheme %q discovers its provider over plain http (%s); use https", s.Name, raw.OpenIdConnectUrl)
		}
		if s.Kind != model.KindOAuth2 || raw.Flows == nil {
			continue
		}
		for _, f := range flows(raw.Flows) {
			for _, u := range []struct{ field, url string }{{"authorizationUrl", f.flow.AuthorizationURL}, {"tokenUrl", f.flow.TokenURL}, {"refreshUrl", f.flow.RefreshURL}} {
				if plainHTTP(u.url) {
					r.add("plain-http-url", key, r.doc.Locate(append(at, "flows", f.key, u.field)...), "", "oauth2 scheme %q: the %s flow's %s is plain http (%s), which exposes credentials and tokens; use https", s.Name, f.key, u.field, u.url)
				}
			}
		}
	}
	for i, srv := range r.doc.Servers {
		if srv != nil && plainHTTP(srv.URL) {
			r.add("plain-http-url", "", r.doc.Locate("servers", strconv.Itoa(i), "url"), "", "server %s is plain http: every credential sent to it can be read on the way; use https", srv.URL)
		}
	}
}

// adminWords name an administrative function when a path segment is one
// of them, or starts with one and a separator ("admin", "admin.users.list",
// "internal-tools"). Suffixes are not matched: "change-management" is a
// feature, not an administration.
var adminWords = []string{"admin", "admins", "administration", "administrator", "internal", "manage", "management", "superuser", "sudo", "backoffice"}

func adminWord(seg string) bool {
	for _, a := range adminWords {
		if rest, ok := strings.CutPrefix(seg, a); ok && (rest == "" || strings.ContainsAny(rest[:1], "-_.")) {
			return true
		}
	}
	return false
}

func adminPath(p string) bool {
	for _, seg := range strings.Split(strings.ToLower(p), "/") {
		if adminWord(strings.TrimPrefix(seg, "_")) {
			return true
		}
	}
	return false
}

// adminScoped reports whether a requirement asks for a scope or role that
// names an administrative privilege ("admin", "users:admin", "manage"), or
// uses a scheme named for administrators.
func adminScoped(req model.Requirement) bool {
	for _, u := range req {
		if strings.HasPrefix(strings.ToLower(u.Scheme), "admin") {
			return true // a scheme of its own for administrators (AdminApiKeyAuth)
		}
		for _, s := range u.Scopes {
			for _, part := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ':' || r == '.' || r == '/' || r == '-' || r == '_' }) {
				if adminWord(part) || strings.HasPrefix(part, "admin") {
					return true
				}
			}
		}
	}
	return false
}

// adminRule reports admin-looking operations that an alternative of an
// ordinary operation satisfies, unless that alternative asks for an
// admin-looking scope or role: then its callers are the ordinary callers.
func (r *reviewer) adminRule() {
	var ordinary []model.Operation
	for _, op := range r.api.Operations {
		if !adminPath(op.Path) {
			ordinary = append(ordinary, op)
		}
	}
	for _, op := range r.api.Operations {
		if !adminPath(op.Path) || op.Security.Public() || op.Security.AllowsAnonymous() {
			continue // public ones are state-change-public's or public-by-omission's
		}
		rt := route(op)
	search:
		for _, alt := range op.Security.Alternatives {
			if adminScoped(alt) {
				continue // the admin privilege is its own
			}
			for _, o := range ordinary {
				for _, oalt := range o.Security.Alternatives {
					if len(oalt) > 0 && implies(oalt, alt) {
						r.add("admin-shares-security", rt, r.securityPos(op), rt, "%s looks administrative, and a caller of %s (%s) may call it too (%s); give it a scope or role of its own", rt, route(o), oalt, alt)
						break search
					}
				}
			}
		}
	}
}

func (r *reviewer) tokenEndpointRule() {
	for _, op := range r.api.Implemented {
		if op.Path != r.api.TokenPath {
			continue
		}
		if !hasResponse(r.rawOp(op), "429") {
			rt := route(op)
			r.add("token-endpoint-rate-limit", rt, r.opPos(op, "responses"), rt, "the token endpoint %s documents no 429 Too Many Requests, which gatehouse answers when it throttles failed logins; add it so clients back off", rt)
		}
	}
}
