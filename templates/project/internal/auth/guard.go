package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AccountVerifier checks the credentials kept in the user store: HTTP Basic
// user names and passwords, and API keys. Both methods return a principal
// with a non-empty Subject and its granted scopes, or an error:
// ErrInvalidCredentials (possibly wrapped) for credentials that do not
// authenticate, a *ThrottledError when too many attempts failed, and
// anything else for an internal failure (the request then gets a generic
// 503).
type AccountVerifier interface {
	VerifyBasic(r *http.Request, username, password string) (*Principal, error)
	VerifyAPIKey(r *http.Request, key string) (*Principal, error)
}

// CustomVerifier verifies a scheme gatehouse cannot verify itself (KindCustom:
// http digest, mutualTLS, ...). It returns (nil, nil) when the request
// carries no credential for the scheme, a principal when it authenticates,
// and errors as an AccountVerifier does. A custom scheme without a verifier
// never authenticates anyone.
type CustomVerifier func(r *http.Request, s Scheme) (*Principal, error)

// GuardConfig configures a Guard.
type GuardConfig struct {
	Schemes  []Scheme                  // components.securitySchemes
	Tokens   *Tokens                   // required when a scheme carries access tokens, unless External is set
	Accounts AccountVerifier           // required for basic and apiKey schemes
	Custom   map[string]CustomVerifier // by scheme name, for KindCustom schemes
	Realm    string                    // the realm of challenges; "api" if empty
	Logger   *slog.Logger              // authentication events; nil discards them
	// TrustedOrigins are origins ("https://app.example.com") allowed to send
	// cookie or Basic credentials with cross-origin unsafe requests. Other
	// browser cross-origin POST, PUT, PATCH and DELETE requests
	// authenticated by a cookie or by Basic, which browsers also send on
	// their own once a user has logged in, are refused (CSRF).
	TrustedOrigins []string
	// External verifies the access tokens of an external issuer instead of
	// Tokens (the resource-server template).
	External *ExternalTokens
	// ClientAddr gives a request's client address for logs (the same one
	// throttling uses, honouring TRUSTED_PROXIES); nil means the host of
	// r.RemoteAddr.
	ClientAddr func(*http.Request) string
}

// Guard enforces the security requirements of operations.
type Guard struct {
	schemes  map[string]Scheme
	tokens   *Tokens
	external *ExternalTokens
	accounts AccountVerifier
	custom   map[string]CustomVerifier
	realm    string
	log      *slog.Logger
	csrf     *http.CrossOriginProtection
	addr     func(*http.Request) string
	failures *failureLimiter // which authentication failures are logged
}

// NewGuard checks cfg and returns a guard. It is an error for a scheme kind
// in use to have no verifier at all (a token scheme without Tokens, a basic
// or apiKey scheme without Accounts), for Tokens to be misconfigured, and
// for schemes to be malformed. Custom schemes without a verifier are not an
// error: they deny every request (fail closed).
func NewGuard(cfg GuardConfig) (*Guard, error) {
	g := &Guard{
		schemes:  make(map[string]Scheme, len(cfg.Schemes)),
		tokens:   cfg.Tokens,
		external: cfg.External,
		accounts: cfg.Accounts,
		custom:   cfg.Custom,
		realm:    cfg.Realm,
		log:      cfg.Logger,
		csrf:     http.NewCrossOriginProtection(),
		addr:     cfg.ClientAddr,
		failures: newFailureLimiter(failureLogWindow, maxFailureAddrs, nil),
	}
	if g.realm == "" {
		g.realm = "api"
	}
	g.log = orDiscard(g.log)
	for _, o := range cfg.TrustedOrigins {
		if err := g.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("auth: trusted origin: %w", err)
		}
	}
	for _, s := range cfg.Schemes {
		if s.Name == "" {
			return nil, errors.New("auth: security scheme without a name")
		}
		if _, dup := g.schemes[s.Name]; dup {
			return nil, fmt.Errorf("auth: security scheme %q declared twice", s.Name)
		}
		switch {
		case s.Kind.IsToken():
			if cfg.Tokens == nil && cfg.External == nil {
				return nil, fmt.Errorf("auth: security scheme %q needs access tokens but no token service is configured", s.Name)
			}
		case s.Kind == KindBasic:
			if cfg.Accounts == nil {
				return nil, fmt.Errorf("auth: security scheme %q needs an account verifier", s.Name)
			}
		case s.Kind == KindAPIKey:
			if cfg.Accounts == nil {
				return nil, fmt.Errorf("auth: security scheme %q needs an account verifier", s.Name)
			}
			if s.In != "header" && s.In != "query" && s.In != "cookie" {
				return nil, fmt.Errorf("auth: apiKey scheme %q: in must be header, query or cookie, not %q", s.Name, s.In)
			}
			if s.Param == "" || strings.ContainsFunc(s.Param, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
				return nil, fmt.Errorf("auth: apiKey scheme %q: invalid parameter name %q", s.Name, s.Param)
			}
		case s.Kind == KindCustom:
		default:
			return nil, fmt.Errorf("auth: security scheme %q has unknown kind %d", s.Name, s.Kind)
		}
		g.schemes[s.Name] = s
	}
	for name := range cfg.Custom {
		if s, ok := g.schemes[name]; !ok || s.Kind != KindCustom {
			return nil, fmt.Errorf("auth: custom verifier for %q, which is not a custom security scheme", name)
		}
	}
	if cfg.Tokens != nil {
		if err := cfg.Tokens.check(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Protect returns next guarded by policy p. Everything about p is worked out
// here, once; the request path only reads it.
//
// An empty policy is public: next is returned as is and credentials are not
// looked at. Otherwise a request must satisfy one requirement of p (OR):
// every scheme of it authenticated, all by the same subject, with every
// scope it lists granted by that scheme (AND). The principal is then
// attached to the request context.
//
// A credential that is sent and fails is always refused (401; 400 if sent
// twice; 429 if throttled; 503 if it could not be checked), even when
// another requirement is met and even when p allows anonymous access with
// `{}`. With `{}`, a request whose credentials are all valid but satisfy no
// other requirement passes as anonymous, without a principal.
//
// A policy naming a scheme the guard does not know cannot be enforced: the
// returned handler refuses every request with a 500, and the problem is
// logged now.
func (g *Guard) Protect(p Policy, next http.Handler) http.Handler {
	if p.Public() {
		return next
	}
	pl, err := g.compile(p)
	if err != nil {
		g.log.LogAttrs(context.Background(), slog.LevelError, "security policy cannot be enforced; the operation refuses every request",
			slog.String("error", err.Error()))
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			WriteError(w, http.StatusInternalServerError, "server_error", "the server is misconfigured")
		})
	}
	return &protected{g: g, plan: pl, next: next}
}

type sourceKind uint8

const (
	sourceToken  sourceKind = iota + 1 // Authorization: Bearer, shared by all token schemes
	sourceBasic                        // Authorization: Basic, shared by all basic schemes
	sourceAPIKey                       // one per API key location
	sourceCustom                       // one per custom scheme
)

// source is one credential a request may carry. Schemes reading the same
// credential share a source, so it is verified once per request.
type source struct {
	kind   sourceKind
	scheme Scheme // the first scheme reading it
	header string // apiKey: the parameter as a canonical header name
	// apiKey: locations where another API key scheme of the policy takes a
	// parameter of the same name, so a key found there is not misplaced.
	alsoIn [3]bool
	custom CustomVerifier
}

const (
	inHeader = iota
	inQuery
	inCookie
)

func locationIndex(in string) int {
	switch in {
	case "query":
		return inQuery
	case "cookie":
		return inCookie
	}
	return inHeader
}

// plan is a compiled policy.
type plan struct {
	sources   []source
	reqs      []reqPlan
	anonymous bool
	// WWW-Authenticate challenges for a 401: plain, with the bearer
	// challenge saying error="invalid_token", and for a 400.
	challenges, challengesBadToken, challengesBadRequest []string
}

type reqPlan struct {
	parts       []partPlan
	schemes     []string // Principal.Schemes
	schemesText string   // the same, space-separated, for logs
	single      bool     // every part reads the same source
}

type partPlan struct {
	source int
	scopes []string
	token  bool
}

func (g *Guard) compile(p Policy) (*plan, error) {
	pl := &plan{}
	sourceOf := func(s Scheme) int {
		for i, src := range pl.sources {
			switch {
			case s.Kind.IsToken() && src.kind == sourceToken,
				s.Kind == KindBasic && src.kind == sourceBasic,
				s.Kind == KindAPIKey && src.kind == sourceAPIKey && src.scheme.In == s.In && strings.EqualFold(src.scheme.Param, s.Param),
				s.Kind == KindCustom && src.kind == sourceCustom && src.scheme.Name == s.Name:
				return i
			}
		}
		src := source{scheme: s}
		switch {
		case s.Kind.IsToken():
			src.kind = sourceToken
		case s.Kind == KindBasic:
			src.kind = sourceBasic
		case s.Kind == KindAPIKey:
			src.kind = sourceAPIKey
			src.header = textproto.CanonicalMIMEHeaderKey(s.Param)
		default:
			src.kind = sourceCustom
			src.custom = g.custom[s.Name]
		}
		pl.sources = append(pl.sources, src)
		return len(pl.sources) - 1
	}

	for _, req := range p {
		if len(req) == 0 {
			pl.anonymous = true
			continue
		}
		var rp reqPlan
		for _, sr := range req {
			s, ok := g.schemes[sr.Scheme]
			if !ok {
				return nil, fmt.Errorf("auth: security requirement names unknown scheme %q", sr.Scheme)
			}
			src := sourceOf(s)
			scopes := slices.Clone(sr.Scopes)
			// The same scheme listed twice in one requirement: merge.
			if i := slices.IndexFunc(rp.schemes, func(n string) bool { return n == s.Name }); i >= 0 {
				rp.parts[i].scopes = append(rp.parts[i].scopes, scopes...)
				continue
			}
			rp.parts = append(rp.parts, partPlan{source: src, scopes: scopes, token: s.Kind.IsToken()})
			rp.schemes = append(rp.schemes, s.Name)
		}
		rp.single = true
		for i := range rp.parts {
			slices.Sort(rp.parts[i].scopes)
			rp.parts[i].scopes = slices.Compact(rp.parts[i].scopes)
			rp.single = rp.single && rp.parts[i].source == rp.parts[0].source
		}
		rp.schemesText = strings.Join(rp.schemes, " ")
		pl.reqs = append(pl.reqs, rp)
	}

	for i := range pl.sources {
		a := &pl.sources[i]
		if a.kind != sourceAPIKey {
			continue
		}
		for _, b := range pl.sources {
			if b.kind == sourceAPIKey && b.scheme.In != a.scheme.In && strings.EqualFold(a.scheme.Param, b.scheme.Param) {
				a.alsoIn[locationIndex(b.scheme.In)] = true
			}
		}
	}

	realm := quote(g.realm)
	for _, src := range pl.sources {
		var plain, badToken, badRequest string
		switch src.kind {
		case sourceToken:
			plain = "Bearer realm=" + realm
			badToken = plain + `, error="invalid_token"`
			badRequest = plain + `, error="invalid_request"`
		case sourceBasic:
			plain = "Basic realm=" + realm + `, charset="UTF-8"`
		case sourceAPIKey:
			// Not a registered HTTP authentication scheme, but it tells a
			// client where the key goes and is harmless to others.
			plain = "APIKey realm=" + realm + ", in=" + quote(src.scheme.In) + ", name=" + quote(src.scheme.Param)
		case sourceCustom:
			plain = src.scheme.Name + " realm=" + realm
		}
		if badToken == "" {
			badToken, badRequest = plain, plain
		}
		pl.challenges = appendUnique(pl.challenges, plain)
		pl.challengesBadToken = appendUnique(pl.challengesBadToken, badToken)
		pl.challengesBadRequest = appendUnique(pl.challengesBadRequest, badRequest)
	}
	return pl, nil
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// quote returns s as an HTTP quoted-string (RFC 9110 §5.6.4).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < ' ' || r == 0x7f:
			// Control characters cannot be quoted; drop them.
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// credState is the outcome of verifying one credential. The failure states
// are ordered by which answer wins when several credentials fail.
type credState uint8

const (
	credAbsent      credState = iota // not sent
	credOK                           // authenticated
	credInvalid                      // sent and refused: 401
	credThrottled                    // 429
	credInternal                     // the verifier failed: 503
	credCrossOrigin                  // cookie or Basic credential on a cross-origin unsafe request: 403
	credDuplicate                    // sent more than once or in two places: 400
)

// outcome is what one source yielded for a request.
type outcome struct {
	state    credState
	scheme   string // the scheme the credential was read for, for logs
	subject  string
	scopes   []string // sorted
	tokenID  string
	clientID string
	reason   string        // for logs
	retry    time.Duration // credThrottled
	err      error         // credInternal, for logs
}

// requestCreds gives access to a request's credentials, parsing the query
// and cookies at most once.
type requestCreds struct {
	r             *http.Request
	query         url.Values
	cookies       []*http.Cookie
	parsedQuery   bool
	parsedCookies bool
}

func (rc *requestCreds) queryValues() url.Values {
	if !rc.parsedQuery {
		rc.query, rc.parsedQuery = rc.r.URL.Query(), true
	}
	return rc.query
}

func (rc *requestCreds) cookieList() []*http.Cookie {
	if !rc.parsedCookies {
		rc.cookies, rc.parsedCookies = rc.r.Cookies(), true
	}
	return rc.cookies
}

type protected struct {
	g    *Guard
	plan *plan
	next http.Handler
}

func (h *protected) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pl := h.plan
	var buf [4]outcome
	outs := buf[:0]
	if n := len(pl.sources); n > len(buf) {
		outs = make([]outcome, 0, n)
	}
	rc := requestCreds{r: r}
	worst := credAbsent
	for i := range pl.sources {
		o := h.g.verify(&rc, &pl.sources[i])
		o.scheme = pl.sources[i].scheme.Name
		outs = append(outs, o)
		worst = max(worst, o.state)
	}
	if worst > credOK {
		h.refuse(w, r, outs, worst)
		return
	}

	closest, fewest := -1, 0
	for i := range pl.reqs {
		q := &pl.reqs[i]
		authenticated, missing := q.evaluate(outs)
		if !authenticated {
			continue
		}
		if missing == 0 {
			p := q.principal(outs)
			noteAuthenticated(w, requestAuth{principal: p, schemes: q.schemesText})
			h.g.logSuccess(r, q, p)
			// The key is canonical already: skip Header.Set's
			// canonicalisation. Harden has set it already, usually.
			if h := w.Header(); !slices.Equal(h["Cache-Control"], noStore[:]) {
				h["Cache-Control"] = []string{"no-store"}
			}
			h.next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
			return
		}
		if closest < 0 || missing < fewest {
			closest, fewest = i, missing
		}
	}
	if pl.anonymous {
		// `{}` is satisfied by every request whose credentials, if any,
		// are valid. Nothing of them is attached.
		h.next.ServeHTTP(w, r)
		return
	}
	if closest >= 0 {
		h.forbidden(w, r, &pl.reqs[closest], outs)
		return
	}
	// No credential was sent (or none this operation reads): routine, and
	// the access log has the 401 already.
	h.g.logFailure(r, slog.LevelDebug, http.StatusUnauthorized, "no requirement satisfied", nil)
	setChallenges(w, pl.challenges)
	errAuthenticationRequired.write(w)
}

// evaluate reports whether every scheme of q authenticated the same subject,
// and how many of the scopes q lists are not granted.
func (q *reqPlan) evaluate(outs []outcome) (authenticated bool, missing int) {
	subject := outs[q.parts[0].source].subject
	for _, part := range q.parts {
		o := &outs[part.source]
		if o.state != credOK || o.subject != subject {
			return false, 0
		}
		for _, s := range part.scopes {
			if _, ok := slices.BinarySearch(o.scopes, s); !ok {
				missing++
			}
		}
	}
	return true, missing
}

// missingScopes lists the scopes q lists that are not granted.
func (q *reqPlan) missingScopes(outs []outcome) []string {
	var missing []string
	for _, part := range q.parts {
		for _, s := range part.scopes {
			if _, ok := slices.BinarySearch(outs[part.source].scopes, s); !ok {
				missing = append(missing, s)
			}
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}

// principal builds the principal of a satisfied requirement: its subject,
// the scopes its schemes granted, and its schemes. Its slices are its own,
// so a handler may do as it likes with them.
func (q *reqPlan) principal(outs []outcome) *Principal {
	first := &outs[q.parts[0].source]
	scopes := first.scopes
	if !q.single {
		for _, part := range q.parts[1:] {
			scopes = append(slices.Clip(scopes), outs[part.source].scopes...)
		}
		slices.Sort(scopes)
		scopes = slices.Compact(scopes)
	}
	// One allocation holds the principal and, usually, both its slices.
	box := &principalBox{p: Principal{Subject: first.subject}}
	backing := box.strings[:0]
	if n := len(scopes) + len(q.schemes); n > len(box.strings) {
		backing = make([]string, 0, n)
	}
	backing = append(append(backing, scopes...), q.schemes...)
	p := &box.p
	p.Scopes = backing[:len(scopes):len(scopes)]
	p.Schemes = backing[len(scopes):]
	for _, part := range q.parts {
		o := &outs[part.source]
		if p.TokenID == "" {
			p.TokenID = o.tokenID
		}
		if p.ClientID == "" {
			p.ClientID = o.clientID
		}
	}
	return p
}

type principalBox struct {
	p       Principal
	strings [4]string
}

// verify reads and verifies the credential of one source.
func (g *Guard) verify(rc *requestCreds, src *source) outcome {
	switch src.kind {
	case sourceToken:
		return g.verifyToken(rc.r)
	case sourceBasic:
		return g.verifyBasic(rc.r)
	case sourceAPIKey:
		return g.verifyAPIKey(rc, src)
	default:
		if src.custom == nil {
			return outcome{} // fail closed: nothing can satisfy the scheme
		}
		p, err := src.custom(rc.r, src.scheme)
		if p == nil && err == nil {
			return outcome{}
		}
		return fromPrincipal(p, err)
	}
}

// authorization returns the request's single Authorization value, or a
// duplicate outcome if it has several.
func authorization(r *http.Request) (string, credState) {
	switch v := r.Header["Authorization"]; len(v) {
	case 0:
		return "", credAbsent
	case 1:
		return v[0], credOK
	}
	return "", credDuplicate
}

// isStandardCredential reports whether an Authorization value is a Bearer
// token or a Basic login rather than an API key.
func isStandardCredential(v string) bool {
	_, bearer := credentialOf(v, "Bearer")
	_, basic := credentialOf(v, "Basic")
	return bearer || basic
}

// credentialOf returns what follows the auth-scheme name in an
// Authorization value if the name is scheme (case-insensitive).
func credentialOf(v, scheme string) (rest string, ok bool) {
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	rest = v[len(scheme):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", false // another scheme whose name starts the same
	}
	return rest, true
}

func (g *Guard) verifyToken(r *http.Request) outcome {
	v, st := authorization(r)
	if st != credOK {
		return outcome{state: st, reason: "Authorization header sent more than once"}
	}
	rest, ok := credentialOf(v, "Bearer")
	if !ok {
		return outcome{}
	}
	// RFC 6750 §2.1: exactly one space, then a b64token.
	if len(rest) < 2 || rest[0] != ' ' {
		return outcome{state: credInvalid, reason: "malformed bearer credential"}
	}
	token := rest[1:]
	var claims AccessClaims
	var err error
	if g.external != nil {
		claims, err = g.external.Verify(r.Context(), token)
	} else {
		claims, err = g.tokens.Verify(r.Context(), token)
	}
	if err != nil {
		if errors.Is(err, ErrRevocationsStale) {
			// A genuine token this process cannot check: 503, not 401.
			return outcome{state: credInternal, reason: "revocation state is stale", err: err}
		}
		// Only now is the syntax worth checking: a token that verifies is
		// base64url segments joined by dots, always a b64token.
		if !isB64Token(token) {
			return outcome{state: credInvalid, reason: "malformed bearer credential"}
		}
		o := outcome{state: credInvalid}
		var te *tokenError
		if errors.As(err, &te) {
			o.reason, o.tokenID, o.subject = string(te.reason), te.jti, te.subject
		} else {
			o.reason = err.Error()
		}
		return o
	}
	return outcome{state: credOK, subject: claims.Subject, scopes: claims.Scopes, tokenID: claims.ID, clientID: claims.ClientID}
}

// isB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !b64TokenChar[s[i]] {
			return false
		}
	}
	return true
}

// b64TokenChar marks the characters of a b64token but "=".
var b64TokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// maxBasicLength bounds a Basic credential, so no oversized password is
// ever hashed.
const maxBasicLength = 4096

func (g *Guard) verifyBasic(r *http.Request) outcome {
	v, st := authorization(r)
	if st != credOK {
		return outcome{state: st, reason: "Authorization header sent more than once"}
	}
	rest, ok := credentialOf(v, "Basic")
	if !ok {
		return outcome{}
	}
	user, pass, ok := parseBasic(rest)
	if !ok {
		return outcome{state: credInvalid, reason: "malformed basic credential"}
	}
	// Browsers resend Basic credentials a user once typed with every
	// request to the site, cross-site ones included, as they do cookies.
	if g.csrf.Check(r) != nil {
		return outcome{state: credCrossOrigin, reason: "basic credential on a cross-origin request"}
	}
	return fromPrincipal(g.accounts.VerifyBasic(r, user, pass))
}

// parseBasic decodes an RFC 7617 credential (what follows "Basic"): one
// space, base64 of user-id ":" password, split at the first colon. Bad
// base64, no colon, an empty user-id, invalid UTF-8 or control characters
// make it malformed.
func parseBasic(rest string) (user, pass string, ok bool) {
	if len(rest) < 2 || rest[0] != ' ' || len(rest) > maxBasicLength {
		return "", "", false
	}
	raw, err := decodeBasic(rest[1:])
	if err != nil {
		return "", "", false
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found || user == "" || !printableUTF8(user) || !printableUTF8(pass) {
		return "", "", false
	}
	return user, pass, true
}

// decodeBasic decodes the base64 of a Basic credential strictly: padded,
// canonical, and nothing but the alphabet (Go's decoder would skip line
// breaks).
func decodeBasic(cred string) ([]byte, error) {
	if i := strings.IndexFunc(cred, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '+' || r == '/' || r == '=')
	}); i >= 0 {
		return nil, errors.New("not base64")
	}
	return base64.StdEncoding.Strict().DecodeString(cred)
}

func printableUTF8(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

func (g *Guard) verifyAPIKey(rc *requestCreds, src *source) outcome {
	r := rc.r
	name := src.scheme.Param
	var (
		count int
		value string
		where = -1
		exact bool // found where the scheme says, under its exact name
	)
	if vs := r.Header[src.header]; len(vs) > 0 {
		count, value, where, exact = len(vs), vs[0], inHeader, true
	}
	for k, vs := range rc.queryValues() {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			count += len(vs)
			value, where, exact = vs[0], inQuery, k == name
		}
	}
	for _, c := range rc.cookieList() {
		if strings.EqualFold(c.Name, name) {
			count++
			value, where, exact = c.Value, inCookie, c.Name == name
		}
	}
	switch {
	case count == 0:
		return outcome{}
	case count > 1:
		return outcome{state: credDuplicate, reason: "API key sent more than once"}
	case where == inHeader && src.header == "Authorization" && isStandardCredential(value):
		// An API key scheme that uses the Authorization header (Discord's
		// "Bot …", PagerDuty's "Token …") shares it with bearer tokens and
		// Basic logins; those belong to their own schemes.
		return outcome{}
	case where != locationIndex(src.scheme.In) || !exact:
		if src.alsoIn[where] {
			return outcome{} // another scheme of the policy reads it there
		}
		return outcome{state: credInvalid, reason: "API key sent in the wrong place"}
	case value == "" || len(value) > maxPresentedAPIKey:
		return outcome{state: credInvalid, reason: "malformed API key"}
	case where == inCookie && g.csrf.Check(r) != nil:
		return outcome{state: credCrossOrigin, reason: "cookie credential on a cross-origin request"}
	}
	return fromPrincipal(g.accounts.VerifyAPIKey(r, value))
}

// maxPresentedAPIKey bounds an API key read from a request; longer values
// are refused without asking the verifier.
const maxPresentedAPIKey = 512

// fromPrincipal turns a verifier's answer into an outcome.
func fromPrincipal(p *Principal, err error) outcome {
	var throttled *ThrottledError
	switch {
	case err == nil && (p == nil || p.Subject == ""):
		return outcome{state: credInternal, err: errors.New("verifier returned no principal and no error")}
	case err == nil:
		scopes := p.Scopes
		if !slices.IsSorted(scopes) {
			scopes = slices.Sorted(slices.Values(scopes))
		}
		return outcome{state: credOK, subject: p.Subject, scopes: scopes, tokenID: p.TokenID, clientID: p.ClientID}
	case errors.Is(err, ErrInvalidCredentials):
		return outcome{state: credInvalid, reason: "credentials refused"}
	case errors.As(err, &throttled):
		return outcome{state: credThrottled, retry: throttled.RetryAfter, reason: "too many failed attempts"}
	}
	return outcome{state: credInternal, err: err}
}

// refuse answers a request one of whose credentials failed.
func (h *protected) refuse(w http.ResponseWriter, r *http.Request, outs []outcome, worst credState) {
	var failed *outcome
	tokenFailed := false
	for i := range outs {
		if outs[i].state == worst && failed == nil {
			failed = &outs[i]
		}
		if h.plan.sources[i].kind == sourceToken && outs[i].state == credInvalid {
			tokenFailed = true
		}
	}
	switch worst {
	case credDuplicate:
		h.g.logFailure(r, slog.LevelWarn, http.StatusBadRequest, failed.reason, failed)
		setChallenges(w, h.plan.challengesBadRequest)
		WriteError(w, http.StatusBadRequest, "invalid_request", "a credential was sent more than once")
	case credCrossOrigin:
		h.g.logFailure(r, slog.LevelWarn, http.StatusForbidden, failed.reason, failed)
		WriteError(w, http.StatusForbidden, "cross_origin_request", "cross-origin requests may not use the credentials browsers send on their own (cookies, Basic)")
	case credInternal:
		level := slog.LevelError
		if errors.Is(failed.err, ErrRevocationsStale) {
			// Reported once when the state went stale, not per request.
			level = slog.LevelDebug
		}
		h.g.logFailure(r, level, http.StatusServiceUnavailable, "credential verification failed", failed)
		WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the service is temporarily unavailable")
	case credThrottled:
		h.g.logFailure(r, slog.LevelWarn, http.StatusTooManyRequests, failed.reason, failed)
		secs := int64(max(1, (failed.retry+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		WriteError(w, http.StatusTooManyRequests, "too_many_requests", "too many failed attempts; retry later")
	default:
		h.g.logFailure(r, slog.LevelWarn, http.StatusUnauthorized, failed.reason, failed)
		if tokenFailed {
			setChallenges(w, h.plan.challengesBadToken)
			errInvalidToken.write(w)
			return
		}
		setChallenges(w, h.plan.challenges)
		errInvalidCredentials.write(w)
	}
}

// forbidden answers an authenticated request lacking scopes.
func (h *protected) forbidden(w http.ResponseWriter, r *http.Request, q *reqPlan, outs []outcome) {
	missing := strings.Join(q.missingScopes(outs), " ")
	if attrs, ok := h.g.failureAttrs(r, slog.LevelWarn); ok {
		h.g.log.LogAttrs(r.Context(), slog.LevelWarn, "authorization failed",
			append(attrs,
				slog.Int("status", http.StatusForbidden),
				slog.String("subject", outs[q.parts[0].source].subject),
				slog.String("schemes", q.schemesText),
				slog.String("missing_scope", missing))...)
	}
	if slices.ContainsFunc(q.parts, func(p partPlan) bool { return p.token }) {
		w.Header().Set("WWW-Authenticate", "Bearer realm="+quote(h.g.realm)+`, error="insufficient_scope", scope=`+quote(missing))
	}
	WriteError(w, http.StatusForbidden, "insufficient_scope", "the credentials do not grant the required scope")
}

func setChallenges(w http.ResponseWriter, challenges []string) {
	h := w.Header()
	for _, c := range challenges {
		h.Add("WWW-Authenticate", c)
	}
}

var noStore = [...]string{"no-store"}

// maxRequestIDLength bounds the client-supplied request id in logs.
const maxRequestIDLength = 128

// requestAttrs are the attributes every authentication event carries.
// Credentials are never among them; slog's handlers escape the
// client-supplied strings.
func (g *Guard) requestAttrs(r *http.Request, addr string) []slog.Attr {
	id := r.Header.Get("X-Request-Id")
	if len(id) > maxRequestIDLength {
		id = id[:maxRequestIDLength]
	}
	return []slog.Attr{
		slog.String("remote_addr", addr),
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
}

func (g *Guard) clientAddr(r *http.Request) string {
	if g.addr != nil {
		return g.addr(r)
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// logSuccess logs an authentication at DEBUG; at INFO the access log says
// who the request authenticated as.
func (g *Guard) logSuccess(r *http.Request, q *reqPlan, p *Principal) {
	if !g.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	g.log.LogAttrs(r.Context(), slog.LevelDebug, "authentication succeeded",
		append(g.requestAttrs(r, g.clientAddr(r)),
			slog.String("schemes", q.schemesText),
			slog.String("subject", p.Subject),
			slog.String("token_id", p.TokenID),
			slog.String("client_id", p.ClientID))...)
}

// failureAttrs reports whether a failure event at level is logged and, if
// so, returns its request attributes. Above DEBUG, failures are logged at
// most once per client address per window: the line then counts the
// failures of that address that were not logged ("unlogged"), and
// "unlogged_shared" marks the count as that of all the addresses the
// limiter had no room to remember.
func (g *Guard) failureAttrs(r *http.Request, level slog.Level) ([]slog.Attr, bool) {
	if !g.log.Enabled(r.Context(), level) {
		return nil, false
	}
	addr := g.clientAddr(r)
	if level <= slog.LevelDebug {
		return g.requestAttrs(r, addr), true
	}
	ok, unlogged, shared := g.failures.allow(failureKey(addr))
	if !ok {
		return nil, false
	}
	attrs := g.requestAttrs(r, addr)
	if unlogged > 0 {
		attrs = append(attrs, slog.Int("unlogged", unlogged))
		if shared {
			attrs = append(attrs, slog.Bool("unlogged_shared", true))
		}
	}
	return attrs, true
}

// logFailure logs a refused request. o, when given, is the credential that
// failed; a subject and token id are known only for a genuine token that
// was revoked.
func (g *Guard) logFailure(r *http.Request, level slog.Level, status int, reason string, o *outcome) {
	attrs, ok := g.failureAttrs(r, level)
	if !ok {
		return
	}
	attrs = append(attrs, slog.Int("status", status), slog.String("reason", reason))
	if o != nil {
		attrs = append(attrs, slog.String("scheme", o.scheme))
		if o.tokenID != "" {
			attrs = append(attrs, slog.String("token_id", o.tokenID), slog.String("subject", o.subject))
		}
		if o.err != nil {
			attrs = append(attrs, slog.String("error", o.err.Error()))
		}
	}
	g.log.LogAttrs(r.Context(), level, "authentication failed", attrs...)
}
