// Package model computes, once, what the templates render: every operation
// with its effective security (OR of AND-sets with scopes), and every scheme
// with how the runtime verifies it.
package model

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// Scheme kinds, as named by the runtime's auth.SchemeKind constants.
const (
	KindBearer        = "Bearer"
	KindOAuth2        = "OAuth2"
	KindOpenIDConnect = "OpenIDConnect"
	KindBasic         = "Basic"
	KindAPIKey        = "APIKey"
	KindCustom        = "Custom"
)

// API is the security-relevant model of one spec.
type API struct {
	Title      string
	Schemes    []Scheme    // sorted by name
	Operations []Operation // sorted by path, then method
	// TokenPath serves the token endpoint: the password flow's tokenUrl,
	// else /auth/token.
	TokenPath string
	// RevokePath serves RFC 7009 revocation.
	RevokePath string
	// ClientCredentials is set when an oauth2 scheme has that flow.
	ClientCredentials bool
	// ProviderLogin names the first scheme (in name order) that asks for
	// login through an external provider: an oauth2 scheme with the
	// authorizationCode flow, or an openIdConnect scheme; "" if none.
	ProviderLogin string
	// Implemented are operations the spec declares at the token or revoke
	// path: gatehouse serves them itself and leaves them out of the user's
	// interface.
	Implemented []Operation
	// Unnamed are operations ("METHOD /path") whose operationId repeats an
	// earlier one's: code generation names them from method and path.
	Unnamed map[string]bool
	// NotServed are operations whose route another operation already
	// serves (a path template that differs only in parameter names); they
	// are left out of the server, the security table and the tests.
	NotServed []Operation
	Warnings  []string
}

// Scheme is a declared security scheme.
type Scheme struct {
	Name        string
	Kind        string // one of the Kind constants
	In          string // apiKey: header, query or cookie
	Param       string // apiKey: the parameter name
	Description string // for custom schemes: what the spec declared
}

// Operation is one path item operation.
type Operation struct {
	Method      string // upper case
	Path        string // as in the spec
	OperationID string // as in the spec; may be empty
	GoName      string // the strict server method name, set by the renderer
	Tags        []string
	Summary     string
	Security    Security
	// Client is the signature of the typed client's method, set with
	// GoName.
	Client ClientCall
}

// ClientCall is what the typed client's method for an operation takes
// after its context.
type ClientCall struct {
	// PathParams are the path parameters, in path order.
	PathParams []ClientParam
	// Params is set when the method takes a *Params struct: the operation
	// has query, header or cookie parameters. RequiredParams is set when
	// one of them is required.
	Params, RequiredParams bool
	// Body is set when the method takes a content type and a body.
	Body bool
}

// ClientParam is a path parameter of a client call: its name in the spec,
// and the basic Go type its Go type is, or is defined on ("string",
// "int64", "float64", "bool", ...); "" when it is none (a UUID, a date, a
// struct), so no literal can be written for it.
type ClientParam struct {
	Name  string
	Basic string
}

// Security is an operation's effective security requirements.
type Security struct {
	// Alternatives are OR-ed; empty means public.
	Alternatives []Requirement
	// Source says where the requirements came from: "operation", "root" or
	// "none".
	Source string
}

// Public reports whether no credentials are looked at.
func (s Security) Public() bool { return len(s.Alternatives) == 0 }

// AllowsAnonymous reports whether the {} alternative is present.
func (s Security) AllowsAnonymous() bool {
	return slices.ContainsFunc(s.Alternatives, func(r Requirement) bool { return len(r) == 0 })
}

// Requirement is one requirement object: every scheme must pass (AND).
// Empty means anonymous access.
type Requirement []SchemeUse

// SchemeUse is a scheme with the scopes (or roles) it must grant.
type SchemeUse struct {
	Scheme string
	Scopes []string
}

// String renders a requirement as in the docs: "a[x y] + b", or "{}".
func (r Requirement) String() string {
	if len(r) == 0 {
		return "{}"
	}
	parts := make([]string, len(r))
	for i, u := range r {
		parts[i] = u.Scheme
		if len(u.Scopes) > 0 {
			parts[i] += "[" + strings.Join(u.Scopes, " ") + "]"
		}
	}
	return strings.Join(parts, " + ")
}

// String renders the security as "public" or "a | b + c".
func (s Security) String() string {
	if s.Public() {
		return "public"
	}
	parts := make([]string, len(s.Alternatives))
	for i, r := range s.Alternatives {
		parts[i] = r.String()
	}
	return strings.Join(parts, " | ")
}

// Options tune the model.
type Options struct {
	DefaultTokenPath  string // "/auth/token" when empty
	DefaultRevokePath string // "/auth/revoke" when empty
}

// Build computes the model of doc. It fails, with the place, on a reference
// to an undeclared scheme.
func Build(doc *spec.Doc, opts Options) (*API, error) {
	api := &API{TokenPath: opts.DefaultTokenPath, RevokePath: opts.DefaultRevokePath}
	if api.TokenPath == "" {
		api.TokenPath = "/auth/token"
	}
	if api.RevokePath == "" {
		api.RevokePath = "/auth/revoke"
	}
	if doc.Info != nil {
		api.Title = doc.Info.Title
	}
	if err := api.buildSchemes(doc); err != nil {
		return nil, err
	}
	declared := make(map[string]bool, len(api.Schemes))
	for _, s := range api.Schemes {
		declared[s.Name] = true
	}

	if pos, ok := doc.NullSecurity(); ok {
		return nil, spec.Errorf(pos, "security is empty (null); write the requirements it needs, [] to make the operations it governs public on purpose, or remove the key to inherit the root requirements")
	}
	if err := misplacedSecurity(doc); err != nil {
		return nil, err
	}
	root, err := requirements(doc, doc.Security, declared, "security")
	if err != nil {
		return nil, err
	}
	rootSource := "root"
	if len(doc.Security) == 0 {
		rootSource = "none"
	}

	ids := map[string]string{} // operationId → "METHOD /path" of its first use
	if doc.Paths != nil {
		paths := doc.Paths.Keys()
		sort.Strings(paths)
		for _, path := range paths {
			item := doc.Paths.Value(path)
			if item == nil {
				continue
			}
			ops := item.Operations()
			methods := make([]string, 0, len(ops))
			for m := range ops {
				methods = append(methods, m)
			}
			sort.Slice(methods, func(i, j int) bool { return methodOrder(methods[i]) < methodOrder(methods[j]) })
			for _, m := range methods {
				op := ops[m]
				o := Operation{
					Method:      strings.ToUpper(m),
					Path:        path,
					OperationID: op.OperationID,
					Tags:        op.Tags,
					Summary:     op.Summary,
					Security:    Security{Alternatives: root, Source: rootSource},
				}
				if op.Security != nil {
					alts, err := requirements(doc, *op.Security, declared, "paths", path, strings.ToLower(m), "security")
					if err != nil {
						return nil, err
					}
					o.Security = Security{Alternatives: alts, Source: "operation"}
				}
				if id := op.OperationID; id != "" {
					if first, dup := ids[id]; dup {
						if api.Unnamed == nil {
							api.Unnamed = map[string]bool{}
						}
						api.Unnamed[o.Method+" "+path] = true
						api.Warnings = append(api.Warnings, fmt.Sprintf("%s: operationId %q is already used by %s, and operationIds must be unique; this operation's handler is named from its method and path instead: give it its own operationId", doc.Locate("paths", path, strings.ToLower(m), "operationId"), id, first))
					} else {
						ids[id] = o.Method + " " + path
					}
				}
				if o.Method == http.MethodPost && (path == api.TokenPath || path == api.RevokePath) {
					api.Implemented = append(api.Implemented, o)
					api.warnImplemented(o, op)
					continue
				}
				api.Operations = append(api.Operations, o)
			}
		}
	}
	api.warnUncallable(doc, Security{Alternatives: root, Source: rootSource})
	return api, nil
}

// warnUncallable warns about the operations that refuse every call because
// no alternative of their security can be satisfied by one request (see
// AuthorizationConflict): enforced as written, they fail closed, which is
// rarely what the spec meant. Operations inheriting the root's security
// share one warning, at the root.
func (api *API) warnUncallable(doc *spec.Doc, root Security) {
	uncallable := func(sec Security) bool {
		return !sec.Public() && !slices.ContainsFunc(sec.Alternatives, api.Satisfiable)
	}
	inherited := 0
	for _, op := range api.Operations {
		if !uncallable(op.Security) {
			continue
		}
		if op.Security.Source == "root" {
			inherited++
			continue
		}
		api.Warnings = append(api.Warnings, fmt.Sprintf("%s: %s %s refuses every call: no request can carry the credentials of its security (%s), which each need the Authorization header; see gatehouse lint (requirement-unsatisfiable)",
			doc.Locate("paths", op.Path, strings.ToLower(op.Method), "security"), op.Method, op.Path, op.Security))
	}
	if inherited > 0 {
		api.Warnings = append(api.Warnings, fmt.Sprintf("%s: %d operations inherit a root security no request can satisfy (%s: credentials that each need the Authorization header), and refuse every call; see gatehouse lint (requirement-unsatisfiable)",
			doc.Locate("security"), inherited, root))
	}
}

func (api *API) warnImplemented(o Operation, op *openapi3.Operation) {
	what := "token endpoint (RFC 6749)"
	if o.Path == api.RevokePath {
		what = "revocation endpoint (RFC 7009)"
	}
	api.Warnings = append(api.Warnings, fmt.Sprintf("%s %s is served by gatehouse's %s, not by a handler stub", o.Method, o.Path, what))
	if op.RequestBody != nil && op.RequestBody.Value != nil && op.RequestBody.Value.Content.Get("application/x-www-form-urlencoded") == nil {
		api.Warnings = append(api.Warnings, fmt.Sprintf("%s %s: the spec declares no application/x-www-form-urlencoded request body, but the %s takes one (and JSON); update the spec to match", o.Method, o.Path, what))
	}
}

func (api *API) buildSchemes(doc *spec.Doc) error {
	if doc.Components == nil {
		return nil
	}
	names := make([]string, 0, len(doc.Components.SecuritySchemes))
	for name := range doc.Components.SecuritySchemes {
		names = append(names, name)
	}
	sort.Strings(names)
	var passwordURLs, ccURLs []string
	for _, name := range names {
		ref := doc.Components.SecuritySchemes[name]
		if ref == nil || ref.Value == nil {
			return spec.Errorf(doc.Locate("components", "securitySchemes", name), "security scheme %q has no definition; define it or remove it", name)
		}
		if !componentNameRE.MatchString(name) {
			return spec.Errorf(doc.Locate("components", "securitySchemes", name), "security scheme name %q has characters OpenAPI does not allow in component names (letters, digits, '.', '-' and '_' only); rename it here and where requirements name it", name)
		}
		ss := ref.Value
		s := Scheme{Name: name}
		switch strings.ToLower(ss.Type) {
		case "http":
			switch strings.ToLower(ss.Scheme) {
			case "bearer":
				s.Kind = KindBearer
			case "basic":
				s.Kind = KindBasic
			default:
				s.Kind = KindCustom
				s.Description = "http " + ss.Scheme
			}
		case "oauth2":
			s.Kind = KindOAuth2
			if f := ss.Flows; f != nil {
				if f.Password != nil && f.Password.TokenURL != "" {
					passwordURLs = append(passwordURLs, f.Password.TokenURL)
				}
				if f.ClientCredentials != nil {
					api.ClientCredentials = true
					ccURLs = append(ccURLs, f.ClientCredentials.TokenURL)
				}
				if f.AuthorizationCode != nil && api.ProviderLogin == "" {
					api.ProviderLogin = name
				}
			}
		case "openidconnect":
			s.Kind = KindOpenIDConnect
			if api.ProviderLogin == "" {
				api.ProviderLogin = name
			}
		case "apikey":
			s.Kind = KindAPIKey
			s.In = strings.ToLower(ss.In)
			s.Param = ss.Name
			switch s.In {
			case "header", "query", "cookie":
			default:
				return spec.Errorf(doc.Locate("components", "securitySchemes", name, "in"), "apiKey scheme %q has in: %q; use header, query or cookie", name, ss.In)
			}
			if s.Param == "" {
				return spec.Errorf(doc.Locate("components", "securitySchemes", name), "apiKey scheme %q has no name; give the header, query parameter or cookie name", name)
			}
			if !validParamName(s.In, s.Param) {
				return spec.Errorf(doc.Locate("components", "securitySchemes", name, "name"), "apiKey scheme %q names the %s %q, which no client can send (%s); fix the name", name, paramNoun[s.In], s.Param, paramNameRule[s.In])
			}
			if s.In == "query" {
				api.Warnings = append(api.Warnings, fmt.Sprintf("%s: apiKey scheme %q is sent in the query string, where proxies and browsers log it; the server redacts it from its own logs, but prefer a header", doc.Locate("components", "securitySchemes", name), name))
			}
		default:
			s.Kind = KindCustom
			s.Description = ss.Type
		}
		if s.Kind == KindCustom {
			api.Warnings = append(api.Warnings, fmt.Sprintf("%s: security scheme %q (%s) cannot be verified by gatehouse; it denies every request until you implement its verifier in internal/handlers/verifiers.go", doc.Locate("components", "securitySchemes", name), name, s.Description))
		}
		api.Schemes = append(api.Schemes, s)
	}
	urls := passwordURLs
	if len(urls) == 0 {
		urls = ccURLs
	}
	if len(urls) > 0 {
		p, err := tokenPath(urls[0])
		if err != nil {
			api.Warnings = append(api.Warnings, fmt.Sprintf("oauth2 tokenUrl %q: %v; serving the token endpoint at %s", urls[0], err, api.TokenPath))
		} else {
			api.TokenPath = p
		}
		for _, u := range urls[1:] {
			if p2, _ := tokenPath(u); p2 != api.TokenPath {
				api.Warnings = append(api.Warnings, fmt.Sprintf("oauth2 flows name several token URLs; gatehouse serves one token endpoint, at %s", api.TokenPath))
				break
			}
		}
	}
	return nil
}

func tokenPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL")
	}
	p := u.EscapedPath()
	if p == "" || !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("has no absolute path")
	}
	if strings.ContainsAny(p, "{}") {
		return "", fmt.Errorf("has template variables")
	}
	if strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("has a path ending in /, which would cover every path below it")
	}
	return p, nil
}

// requirements converts a security requirement list, checking every scheme
// name. where is the path to the list in the document, for errors.
func requirements(doc *spec.Doc, reqs openapi3.SecurityRequirements, declared map[string]bool, where ...string) ([]Requirement, error) {
	out := make([]Requirement, 0, len(reqs))
	seen := make(map[string]bool, len(reqs))
	for i, req := range reqs {
		at := append(slices.Clone(where), strconv.Itoa(i))
		if req == nil {
			// What a half-edited list ("- " with nothing after it) parses
			// to. Read as {} it would open the operation to anonymous
			// callers, so it is refused rather than guessed.
			return nil, spec.Errorf(doc.Locate(at...), "security requirement %d is empty (null), which is not a requirement object; write the schemes it needs (- bearerAuth: []), or {} to allow anonymous access on purpose", i+1)
		}
		names := make([]string, 0, len(req))
		for name := range req {
			names = append(names, name)
		}
		sort.Strings(names)
		r := make(Requirement, 0, len(names))
		for _, name := range names {
			if !declared[name] {
				pos := doc.Locate(append(at, name)...)
				hint := "declare it under components.securitySchemes or fix the name"
				if len(declared) > 0 {
					hint = fmt.Sprintf("declared schemes are %s; declare it under components.securitySchemes or fix the name", quotedList(declared))
				}
				return nil, spec.Errorf(pos, "security requirement names scheme %q, which components.securitySchemes does not declare; %s", name, hint)
			}
			if req[name] == nil {
				return nil, spec.Errorf(doc.Locate(append(at, name)...), "security requirement names scheme %q with no list of scopes (null); write %s: [] when it needs no scopes, or list them", name, name)
			}
			for _, scope := range req[name] {
				if !validScope(scope) {
					return nil, spec.Errorf(doc.Locate(append(at, name)...), "scheme %q requires the scope %q, which no token can carry (RFC 6749 §3.3: a scope is one or more printable characters without spaces, quotes or backslashes); fix or remove it", name, scope)
				}
			}
			scopes := slices.Clone(req[name])
			sort.Strings(scopes)
			scopes = slices.Compact(scopes)
			r = append(r, SchemeUse{Scheme: name, Scopes: scopes})
		}
		key := r.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, r)
	}
	return out, nil
}

// misplacedSecurity refuses a security list the loader would ignore: a
// misspelt key ("securty", "Security") on the root or an operation, or a
// security list on a path item, where OpenAPI has none. Ignored, each would
// leave the operations it was meant to protect open.
func misplacedSecurity(doc *spec.Doc) error {
	check := func(ext map[string]any, pathItem bool, where ...string) error {
		for _, k := range sortedKeys(ext) {
			if !securityLike(k) || (k == "security" && !pathItem) {
				continue
			}
			pos := doc.Locate(append(where, k)...)
			if pathItem && k == "security" {
				return spec.Errorf(pos, "security on a path item is not OpenAPI and would be ignored, leaving its operations without these requirements; move the list to each operation (or to the root)")
			}
			return spec.Errorf(pos, "unknown key %q reads like security (it is spelt like it, or has characters that look like letters of it); gatehouse refuses it rather than ignore requirements that may have been meant to apply; spell it security, or prefix it with x- if it is an extension", k)
		}
		return nil
	}
	if err := check(doc.Extensions, false); err != nil {
		return err
	}
	if doc.Paths == nil {
		return nil
	}
	for _, path := range sortedKeys(doc.Paths.Map()) {
		item := doc.Paths.Value(path)
		if item == nil {
			continue
		}
		if err := check(item.Extensions, true, "paths", path); err != nil {
			return err
		}
		ops := item.Operations()
		for _, m := range sortedKeys(ops) {
			if err := check(ops[m].Extensions, false, "paths", path, strings.ToLower(m)); err != nil {
				return err
			}
		}
	}
	return nil
}

// securityLike reports whether an unknown key was probably meant to be
// security: the same word in another case, or within two edits of it.
func securityLike(key string) bool {
	k := strings.ToLower(key)
	if strings.HasPrefix(k, "x-") {
		return false
	}
	for _, r := range k {
		// Look-alike letters (Cyrillic "е") and invisible characters
		// make a key read as security that is not: no OpenAPI key has them.
		if r >= utf8.RuneSelf {
			return true
		}
	}
	return strings.HasPrefix(k, "secur") || editDistance(k, "security") <= 2
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// componentNameRE is what OpenAPI allows as a key of components (3.0 and
// 3.1, "Components Object").
var componentNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// paramNameRule says, per apiKey location, which names can be sent.
var paramNameRule = map[string]string{
	"header": "a header name is a token of RFC 9110 §5.6.2: letters, digits and !#$%&'*+-.^_`|~",
	"cookie": "a cookie name is a token of RFC 9110 §5.6.2: letters, digits and !#$%&'*+-.^_`|~",
	"query":  "a query parameter name here is letters, digits and -._~[]",
}

var paramNoun = map[string]string{"header": "header", "cookie": "cookie", "query": "query parameter"}

// validParamName reports whether an API key's name can be sent where the
// scheme says: header and cookie names are RFC 9110 tokens; query names are
// held to URL-unreserved characters (and brackets), so no encoding makes the
// name the client sends differ from the one the server reads.
func validParamName(in, name string) bool {
	extra := "!#$%&'*+-.^_`|~"
	if in == "query" {
		extra = "-._~[]"
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return name != ""
}

// validScope reports whether s is a scope-token (RFC 6749 §3.3): printable
// ASCII without space, double quote or backslash. The runtime splits granted
// scopes at spaces, so any other requirement could never be met.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func quotedList(set map[string]bool) string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, strconv.Quote(n))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func methodOrder(m string) int {
	order := []string{"get", "head", "post", "put", "patch", "delete", "options", "trace", "connect"}
	if i := slices.Index(order, strings.ToLower(m)); i >= 0 {
		return i
	}
	return len(order)
}
