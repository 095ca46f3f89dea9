package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

const (
	// DefaultAccessTTL is the lifetime of an access token unless configured.
	DefaultAccessTTL = 15 * time.Minute
	// MaxAccessTTL is the longest access token lifetime accepted.
	MaxAccessTTL = 24 * time.Hour
	// MaxLeeway is the largest clock skew tolerance accepted for exp and
	// iat. The stores keep a denial that long past its token's expiry.
	MaxLeeway = store.MaxLeeway
	// MaxTokenLength is the longest access token Verify looks at. Longer
	// strings are refused before any decoding, so a forged huge token costs
	// nothing (the JWT library decodes claims before checking signatures).
	MaxTokenLength = 8 << 10

	maxKIDLength     = 128
	maxJTILength     = 256
	maxSubjectLength = 1024
	defaultCacheSize = 10_000
	// refusedCacheSize bounds the tokens remembered as refused (see
	// refusedTokens): at most 8 MiB of tokens, in a cache of their own, so
	// that refused tokens evict no verified one.
	refusedCacheSize = 1024
	// refusedSightings is the number of hashes of tokens refused once
	// (refusedTokens.seen).
	refusedSightings = 4096
	// refusedTTL is how long a refused token is remembered; the keys
	// changing forgets it sooner.
	refusedTTL = 10 * time.Minute
	// accessTokenType is the JOSE typ of access tokens (RFC 9068 §2.1).
	accessTokenType = "at+jwt"
)

// TokenConfig configures access tokens.
type TokenConfig struct {
	Issuer    string        // iss, required
	Audience  string        // aud, required
	AccessTTL time.Duration // lifetime; DefaultAccessTTL if zero, at most MaxAccessTTL
	// Leeway tolerates clock skew between servers when checking exp and iat.
	// At most MaxLeeway; zero means none.
	Leeway time.Duration
	Now    func() time.Time // time.Now if nil; tests set a fixed clock
}

// AccessClaims are the claims of an access token that was just issued or
// verified. The slices may be shared with other callers: do not modify them.
type AccessClaims struct {
	Issuer    string
	Subject   string // sub: the user name or client id
	Audience  []string
	ClientID  string   // client_id, if the token was issued to a client
	Scope     string   // the scope claim: space-separated, sorted
	Scopes    []string // the same scopes as a sorted slice without duplicates
	IssuedAt  time.Time
	ExpiresAt time.Time
	ID        string // jti: what revocation and logs refer to
}

// Tokens issues and verifies access tokens (RFC 9068 JWTs). Verification
// applies every rule of the JWT BCP (RFC 8725), checks the revocation set on
// every call, and remembers tokens it verified so a token seen again costs a
// map lookup. Tokens is safe for concurrent use.
type Tokens struct {
	cfg       TokenConfig
	cfgErr    error // a configuration error: every Issue and Verify fails
	rev       *Revocations
	cacheSize int // entries kept; ≤ 0 disables the cache
	state     atomic.Pointer[tokenState]
}

// tokenState is everything that changes when the keys do, swapped as one.
type tokenState struct {
	keys    *KeySet
	parser  *jwt.Parser
	keyfunc jwt.Keyfunc
	early   *earlyCheck // refuses forged tokens before golang-jwt parses them
	cache   *tokenCache
	refused *refusedTokens

	// validator checks the claims as the parser does, for verifiedClaims.
	validator *jwt.Validator
}

// NewTokens returns a token service using keys and checking revocations in
// rev (a nil rev stands for a private, store-less set). A configuration that
// breaks a rule (no issuer or audience, a leeway over MaxLeeway, no keys) is
// not an error here, but every Issue and Verify then fails; NewGuard reports
// the problem at startup.
func NewTokens(cfg TokenConfig, keys *KeySet, rev *Revocations) *Tokens {
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if rev == nil {
		rev = NewRevocations(nil)
	}
	t := &Tokens{cfg: cfg, rev: rev, cacheSize: defaultCacheSize}
	switch {
	case cfg.Issuer == "":
		t.cfgErr = errors.New("auth: token issuer is not configured")
	case cfg.Audience == "":
		t.cfgErr = errors.New("auth: token audience is not configured")
	case cfg.AccessTTL < 0 || cfg.AccessTTL > MaxAccessTTL:
		t.cfgErr = fmt.Errorf("auth: access token lifetime %s is outside (0, %s]", cfg.AccessTTL, MaxAccessTTL)
	case cfg.Leeway < 0 || cfg.Leeway > MaxLeeway:
		t.cfgErr = fmt.Errorf("auth: token leeway %s is outside [0, %s]", cfg.Leeway, MaxLeeway)
	case keys == nil:
		t.cfgErr = errors.New("auth: no token signing keys")
	}
	t.SetKeys(keys)
	return t
}

// check reports a configuration error, for NewGuard.
func (t *Tokens) check() error { return t.cfgErr }

// SetKeys replaces the signing and verification keys (rotation) and
// forgets every previously verified or refused token.
func (t *Tokens) SetKeys(keys *KeySet) {
	st := &tokenState{keys: keys, cache: newTokenCache(t.cacheSize), refused: newRefusedTokens(min(t.cacheSize, refusedCacheSize))}
	if keys != nil {
		st.early = newEarlyCheck(keys)
		opts := []jwt.ParserOption{
			jwt.WithValidMethods([]string{keys.alg}),
			jwt.WithIssuer(t.cfg.Issuer),
			jwt.WithAudience(t.cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithStrictDecoding(),
			jwt.WithLeeway(t.cfg.Leeway),
			jwt.WithTimeFunc(t.cfg.Now),
		}
		st.parser = jwt.NewParser(opts...)
		st.validator = jwt.NewValidator(opts...) // the parser's own, for verifiedClaims
	}
	st.keyfunc = st.key
	t.state.Store(st)
}

// JWKSHandler serves the JWKS document of the current keys, for
// /.well-known/jwks.json. It follows SetKeys.
func (t *Tokens) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc := []byte(`{"keys":[]}`)
		if ks := t.state.Load().keys; ks != nil {
			doc = ks.jwks
		}
		serveJWKS(w, r, doc)
	})
}

// Issue signs a new access token for subject, issued to clientID (may be
// empty) with scopes (each an RFC 6749 scope-token).
func (t *Tokens) Issue(subject, clientID string, scopes []string) (token string, claims AccessClaims, err error) {
	return t.issue(subject, clientID, scopes, t.newAccessID())
}

// accessID is what identifies an access token apart from its subject and
// scopes: jti, iat and exp. The refresh grant chooses it before the token
// is signed, so that the rotation records the jti in its transaction, and
// a retry within the grace period re-signs the very same token.
type accessID struct {
	jti      string
	iat, exp time.Time
}

// newAccessID returns the identity of a token issued now.
func (t *Tokens) newAccessID() accessID { return t.accessIDAt(t.cfg.Now()) }

// accessIDAt returns the identity of a token dated at. A login dates its
// tokens when it judged the account, which is not after now, so that a
// password change recorded in between ends them.
func (t *Tokens) accessIDAt(at time.Time) accessID {
	// iat is in whole seconds (strict parsers refuse fractions); a session
	// started right after a password change is still not mistaken for one
	// from before it, because not-before times are whole seconds too and
	// a login is refused until then (see Accounts.notBefore).
	iat := at.Truncate(time.Second)
	return accessID{
		jti: rand.Text(), // 26 base32 characters: 130 random bits
		iat: iat,
		exp: iat.Add(t.cfg.AccessTTL).Truncate(time.Second),
	}
}

// issue signs the access token with identity id. The same arguments give
// the same claims, and with a deterministic algorithm (HS256, EdDSA, RS256)
// the same token.
func (t *Tokens) issue(subject, clientID string, scopes []string, id accessID) (token string, claims AccessClaims, err error) {
	if t.cfgErr != nil {
		return "", AccessClaims{}, t.cfgErr
	}
	keys := t.state.Load().keys
	if keys == nil {
		return "", AccessClaims{}, errors.New("auth: issuing access token: no signing keys")
	}
	if subject == "" || len(subject) > maxSubjectLength {
		return "", AccessClaims{}, errors.New("auth: issuing access token: subject is empty or too long")
	}
	scopes, err = normalizeScopes(scopes)
	if err != nil {
		return "", AccessClaims{}, fmt.Errorf("auth: issuing access token: %w", err)
	}
	iat, exp := id.iat, id.exp
	claims = AccessClaims{
		Issuer:    t.cfg.Issuer,
		Subject:   subject,
		Audience:  []string{t.cfg.Audience},
		ClientID:  clientID,
		Scope:     strings.Join(scopes, " "),
		Scopes:    scopes,
		IssuedAt:  iat,
		ExpiresAt: exp,
		ID:        id.jti,
	}

	payload, err := json.Marshal(struct {
		Issuer    string `json:"iss"`
		Subject   string `json:"sub"`
		Audience  string `json:"aud"`
		ExpiresAt int64  `json:"exp"`
		IssuedAt  int64  `json:"iat"`
		ID        string `json:"jti"`
		Scope     string `json:"scope,omitempty"`
		ClientID  string `json:"client_id,omitempty"`
	}{claims.Issuer, subject, t.cfg.Audience, exp.Unix(), iat.Unix(), claims.ID, claims.Scope, clientID})
	if err != nil {
		return "", AccessClaims{}, fmt.Errorf("auth: issuing access token: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := accessHeaderSegment(keys.alg, keys.signKID) + "." + enc.EncodeToString(payload)
	sig, err := keys.method.Sign(signing, keys.signKey)
	if err != nil {
		return "", AccessClaims{}, fmt.Errorf("auth: signing access token: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), claims, nil
}

// Verify checks an access token and returns its claims. Every failure
// returns an error wrapping ErrInvalidCredentials, except one: when the
// revocation state is too stale to tell whether a genuine token was
// revoked (see Revocations), the error wraps ErrRevocationsStale. The
// reason is for logs only and never names the token's content.
func (t *Tokens) Verify(ctx context.Context, token string) (AccessClaims, error) {
	e, err := t.authentic(token)
	if err != nil {
		return AccessClaims{}, err
	}
	if reason := t.rev.check(&e.claims); reason != "" {
		return AccessClaims{}, &tokenError{reason: reason, jti: e.claims.ID, subject: e.claims.Subject}
	}
	return e.claims, nil
}

// authentic checks everything about a token but revocation: signature,
// header and claims. It remembers the tokens that pass, so a token seen
// again costs a map lookup.
func (t *Tokens) authentic(token string) (*cacheEntry, error) {
	if t.cfgErr != nil {
		return nil, &tokenError{reason: rejectMisconfigured}
	}
	if len(token) == 0 || len(token) > MaxTokenLength {
		return nil, &tokenError{reason: rejectLength}
	}
	st := t.state.Load()
	if st.keys == nil {
		return nil, &tokenError{reason: rejectMisconfigured}
	}
	now := t.cfg.Now()
	if e := st.cache.get(token); e != nil && now.Before(e.deadline) {
		return e, nil
	}
	if reason := st.refused.reason(token, now); reason != "" {
		return nil, &tokenError{reason: reason}
	}
	reason, verified := st.early.check(st, token)
	if reason != "" {
		st.refused.add(token, reason, now)
		return nil, &tokenError{reason: reason}
	}
	var wc wireClaims
	if verified {
		if reason := st.verifiedClaims(token, &wc); reason != "" {
			return nil, &tokenError{reason: reason}
		}
	} else if _, err := st.parser.ParseWithClaims(token, &wc, st.keyfunc); err != nil {
		// The claims of a token that failed are never looked at.
		reason := reasonFor(err)
		st.refused.add(token, reason, now)
		return nil, &tokenError{reason: reason}
	}
	e := &cacheEntry{claims: wc.accessClaims()}
	e.deadline = e.claims.ExpiresAt.Add(t.cfg.Leeway)
	st.cache.put(token, e, now)
	return e, nil
}

// key is the jwt.Keyfunc: it checks the JOSE header and selects the key by
// kid from the configured set only. Nothing a token names is ever fetched.
func (st *tokenState) key(tok *jwt.Token) (any, error) {
	h := tok.Header
	if typ, _ := h["typ"].(string); !isAccessTokenType(typ) {
		return nil, rejectType
	}
	if _, ok := h["crit"]; ok {
		return nil, rejectCrit // no extension is understood (RFC 7515 §4.1.11)
	}
	for _, name := range [...]string{"jku", "jwk", "x5u", "x5c"} {
		if _, ok := h[name]; ok {
			return nil, rejectKeyHeader // tokens we issue never carry keys
		}
	}
	kid, _ := h["kid"].(string)
	if kid == "" || len(kid) > maxKIDLength {
		return nil, rejectKID
	}
	key, ok := st.keys.verify[kid]
	if !ok || tok.Method.Alg() != st.keys.alg {
		return nil, rejectKID
	}
	return key, nil
}

// isAccessTokenType reports whether typ is at+jwt, compared
// case-insensitively and with an optional "application/" prefix (RFC 9068
// §2.1, RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	const prefix = "application/"
	if len(typ) > len(prefix) && strings.EqualFold(typ[:len(prefix)], prefix) {
		typ = typ[len(prefix):]
	}
	return strings.EqualFold(typ, accessTokenType)
}

// rejection is why a token was refused. It is logged, never sent.
type rejection string

func (r rejection) Error() string { return string(r) }

const (
	rejectMisconfigured rejection = "token service is misconfigured"
	rejectLength        rejection = "token is empty or longer than the limit"
	rejectMalformed     rejection = "token is malformed"
	rejectSignature     rejection = "signature is invalid or algorithm not allowed"
	rejectUnverifiable  rejection = "algorithm is unknown"
	rejectType          rejection = "typ is not at+jwt"
	rejectCrit          rejection = "crit header is not supported"
	rejectKeyHeader     rejection = "header carries key parameters"
	rejectKID           rejection = "kid is missing or unknown"
	rejectExpired       rejection = "token has expired"
	rejectFuture        rejection = "token is issued in the future"
	rejectNotYetValid   rejection = "token is not valid yet"
	rejectIssuer        rejection = "issuer is wrong"
	rejectAudience      rejection = "audience is wrong"
	rejectMissingClaim  rejection = "a required claim is missing"
	rejectClaimType     rejection = "a claim has the wrong JSON type"
	rejectScopeClaim    rejection = "scope claim is malformed"
	rejectDenied        rejection = "token was revoked"
	rejectNotBefore     rejection = "session ended by a password change or disabled account"
	rejectClient        rejection = "the client it was issued to was removed or its tokens revoked"
	rejectStale         rejection = "revocation state is stale: cannot tell whether the token was revoked"
	rejectOther         rejection = "token is invalid"
)

// tokenError is every Verify failure.
type tokenError struct {
	reason  rejection
	jti     string // known only when the signature verified
	subject string // likewise
}

func (e *tokenError) Error() string { return "auth: access token rejected: " + string(e.reason) }

func (e *tokenError) Unwrap() error {
	if e.reason == rejectStale {
		return ErrRevocationsStale
	}
	return ErrInvalidCredentials
}

// reasonFor maps a golang-jwt error to a fixed reason, so that library text
// (which can quote parts of the token) never reaches a log.
func reasonFor(err error) rejection {
	var r rejection
	switch {
	case errors.As(err, &r):
		return r
	case errors.Is(err, jwt.ErrTokenMalformed):
		return rejectMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return rejectSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return rejectExpired
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return rejectFuture
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return rejectNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return rejectIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return rejectAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return rejectMissingClaim
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return rejectUnverifiable
	}
	return rejectOther
}

// wireClaims is the JSON payload of an access token as decoded for
// verification. Its field types record what JSON type each claim had, so
// Validate can refuse what golang-jwt lets through (such as an exp written
// as a string).
type wireClaims struct {
	registeredClaims
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

var _ jwt.ClaimsValidator = (*wireClaims)(nil)

// registeredClaims are the RFC 7519 claims as a token carries them, for
// this server's tokens and an external issuer's alike: times keep the JSON
// kind they arrived with, so Validate can refuse "exp" written as a string,
// which golang-jwt's own RegisteredClaims accepts.
type registeredClaims struct {
	Issuer    string      `json:"iss"`
	Subject   string      `json:"sub"`
	Audience  audience    `json:"aud"`
	ExpiresAt numericDate `json:"exp"`
	IssuedAt  numericDate `json:"iat"`
	NotBefore numericDate `json:"nbf"`
	ID        string      `json:"jti"`
}

func (r *registeredClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return r.ExpiresAt.get(), nil
}
func (r *registeredClaims) GetIssuedAt() (*jwt.NumericDate, error)  { return r.IssuedAt.get(), nil }
func (r *registeredClaims) GetNotBefore() (*jwt.NumericDate, error) { return r.NotBefore.get(), nil }
func (r *registeredClaims) GetIssuer() (string, error)              { return r.Issuer, nil }
func (r *registeredClaims) GetSubject() (string, error)             { return r.Subject, nil }
func (r *registeredClaims) GetAudience() (jwt.ClaimStrings, error)  { return r.Audience.values(), nil }

// Validate checks what the library does not: claim JSON types and the
// claims RFC 9068 requires besides exp, iss and aud (which the parser
// options require). golang-jwt calls it after the signature and the
// registered claims were verified.
//
// String claims (iss, sub, jti, scope, client_id) need no kind check here:
// decoding a number, object or array into them already fails the parse,
// and null leaves them empty, which is refused below where it matters.
func (w *wireClaims) Validate() error {
	switch {
	case w.ExpiresAt.kind == kindWrong, w.IssuedAt.kind == kindWrong, w.NotBefore.kind == kindWrong:
		return rejectClaimType
	case w.IssuedAt.kind == kindAbsent, w.Subject == "", w.ID == "":
		return rejectMissingClaim
	case len(w.ID) > maxJTILength, len(w.Subject) > maxSubjectLength:
		return rejectMalformed
	case !validScopeClaim(w.Scope):
		return rejectScopeClaim
	}
	return nil
}

func (w *wireClaims) accessClaims() AccessClaims {
	scopes := splitScope(w.Scope)
	return AccessClaims{
		Issuer:    w.Issuer,
		Subject:   w.Subject,
		Audience:  slices.Clone(w.Audience.values()),
		ClientID:  w.ClientID,
		Scope:     strings.Join(scopes, " "),
		Scopes:    scopes,
		IssuedAt:  w.IssuedAt.t.Time,
		ExpiresAt: w.ExpiresAt.t.Time,
		ID:        w.ID,
	}
}

type claimKind uint8

const (
	kindAbsent claimKind = iota
	kindNumber
	kindWrong // present but not a usable number: a string, null, bool, out of range...
)

// numericDate is a NumericDate claim that remembers its JSON kind.
// jwt.NumericDate accepts "exp": "1700000000"; this type does not.
type numericDate struct {
	t    jwt.NumericDate
	kind claimKind
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are nonsense and
// would overflow time arithmetic.
const maxNumericDate = 253402300799

func (d *numericDate) UnmarshalJSON(b []byte) error {
	d.kind = kindWrong
	// Only a JSON number (which never starts with a quote, brace, bracket
	// or letter) is accepted; negative dates are refused too.
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return nil
	}
	sec, frac := math.Modf(f)
	d.t = jwt.NumericDate{Time: time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond))}
	d.kind = kindNumber
	return nil
}

func (d *numericDate) get() *jwt.NumericDate {
	if d.kind != kindNumber {
		return nil
	}
	return &d.t
}

// audience is the aud claim: one string or an array of strings.
type audience struct {
	one  [1]string
	list []string
}

func (a *audience) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0:
		// The decoder has validated the literal; without escapes its
		// content is the string.
		a.one[0] = string(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &a.one[0])
	case string(b) == "null":
	default:
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		a.list = list
	}
	return nil
}

func (a *audience) values() []string {
	switch {
	case a.list != nil:
		return a.list
	case a.one[0] != "":
		return a.one[:]
	}
	return nil
}

// isScopeChar reports whether c may appear in an RFC 6749 §3.3 scope-token
// (NQCHAR: %x21 / %x23-5B / %x5D-7E).
func isScopeChar(c byte) bool {
	return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)
}

func validScopeClaim(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && !isScopeChar(c) {
			return false
		}
	}
	return true
}

// splitScope turns a scope claim into a sorted slice without duplicates.
func splitScope(s string) []string {
	if s == "" {
		return nil
	}
	scopes := strings.Fields(s)
	slices.Sort(scopes)
	return slices.Clip(slices.Compact(scopes))
}

// normalizeScopes validates scope-tokens and returns them sorted without
// duplicates, in a new slice.
func normalizeScopes(scopes []string) ([]string, error) {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if s == "" {
			return nil, errors.New("empty scope")
		}
		for i := 0; i < len(s); i++ {
			if !isScopeChar(s[i]) {
				return nil, fmt.Errorf("scope %q has a character RFC 6749 does not allow", s)
			}
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Clip(slices.Compact(out)), nil
}

// tokenCache remembers tokens by their exact string until their
// deadline: verified ones, or refused ones (refusedTokens). It holds at
// most max entries: when full, expired entries are dropped and, if that is
// not enough, an arbitrary eighth of the rest.
type tokenCache struct {
	max     int
	mu      sync.RWMutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	claims   AccessClaims
	deadline time.Time // exp plus leeway; for a refused token, when it is forgotten
	refused  rejection // why the token was refused, in refusedTokens
}

func newTokenCache(max int) *tokenCache {
	c := &tokenCache{max: max}
	if max > 0 {
		c.entries = make(map[string]*cacheEntry)
	}
	return c
}

func (c *tokenCache) get(token string) *cacheEntry {
	if c.max <= 0 {
		return nil
	}
	c.mu.RLock()
	e := c.entries[token]
	c.mu.RUnlock()
	return e
}

func (c *tokenCache) put(token string, e *cacheEntry, now time.Time) {
	if c.max <= 0 {
		return
	}
	token = strings.Clone(token) // do not pin the request's memory
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, old := range c.entries {
			if !now.Before(old.deadline) {
				delete(c.entries, k)
			}
		}
		// Map iteration starts at a random place: this evicts arbitrary
		// entries, which is good enough for a cache of short-lived tokens.
		for k := range c.entries {
			if len(c.entries) <= c.max-c.max/8-1 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[token] = e
}

// refusedTokens remembers tokens refused for what depends only on their
// bytes and the keys: malformed, or signed by no key. A client repeating
// one (a stale or mangled token in a retry loop, or an attacker replaying
// a forgery) then costs a map lookup, as a verified token does, instead of
// an HMAC or a signature check each time. Refusals for claims are never
// remembered: time can change them (a token used before its iat).
//
// A token is remembered the second time it is refused. The first refusal
// only stores a hash of it in seen, without a lock or an allocation, so a
// flood of distinct forgeries, each seen once, costs what it cost without
// this memory. Two tokens with the same hash (a chance of 2^-64) make the
// second remembered one refusal early, which changes no answer. The keys
// changing forgets everything: each key set has its own.
type refusedTokens struct {
	cache *tokenCache
	seed  maphash.Seed
	seen  [refusedSightings]atomic.Uint64
}

// newRefusedTokens remembers up to max tokens; max ≤ 0 remembers none.
func newRefusedTokens(max int) *refusedTokens {
	return &refusedTokens{cache: newTokenCache(max), seed: maphash.MakeSeed()}
}

// reason returns why token was refused when it is remembered, else "".
func (r *refusedTokens) reason(token string, now time.Time) rejection {
	if e := r.cache.get(token); e != nil && now.Before(e.deadline) {
		return e.refused
	}
	return ""
}

// add records that token was refused for reason, which it remembers for
// refusedTTL from the second time on, when reason depends only on the
// token and the keys.
func (r *refusedTokens) add(token string, reason rejection, now time.Time) {
	if r.cache.max <= 0 || reason != rejectMalformed && reason != rejectSignature {
		return
	}
	h := maphash.String(r.seed, token)
	slot := &r.seen[h%refusedSightings]
	if slot.Load() != h {
		slot.Store(h)
		return
	}
	r.cache.put(token, &cacheEntry{refused: reason, deadline: now.Add(refusedTTL)}, now)
}
