package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
)

// This file is the runtime of the "resource-server" template: access tokens
// are issued by an external identity provider and verified here with the
// public keys of its JWKS document, which the server fetches from the
// configured URL only, never from anything a token names.

// Defaults and limits of ExternalConfig.
const (
	DefaultJWKSCacheTTL   = time.Hour
	DefaultJWKSMinRefresh = time.Minute
	// MinJWKSMinRefresh is the smallest MinRefresh accepted: below it,
	// tokens with forged kids could make every instance fetch the issuer's
	// keys many times a second.
	MinJWKSMinRefresh = 10 * time.Second
	// DefaultJWKSFetchWait bounds how long a verification waits for a
	// fetch of keys it does not have.
	DefaultJWKSFetchWait      = 5 * time.Second
	externalFetchTimeout      = 10 * time.Second
	jwksFetchKey              = "jwks" // the single key of ExternalTokens.fetches
	maxExternalDocumentBytes  = 1 << 20
	maxJWKSKeys               = 100
	discoveryPath             = "/.well-known/openid-configuration"
	maxExternalRedirects      = 3
	externalTypeJWT           = "jwt"
	rejectExternalType        = rejection("typ is neither at+jwt nor JWT")
	rejectKeyAlg              = rejection("algorithm does not match the key")
	rejectNoKeys              = rejection("the issuer's keys are not available")
	defaultExternalAlgorithms = "RS256"
)

// externalAlgorithms returns the algorithms an external issuer may use:
// public key signatures only. none and HMAC are never accepted (an HMAC
// "verified" with a public key is the classic algorithm confusion attack).
func externalAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// ExternalConfig configures the verification of an external issuer's
// access tokens.
type ExternalConfig struct {
	// Issuer is the exact iss of the tokens. When JWKSURL is empty, the
	// JWKS URL is discovered from Issuer + /.well-known/openid-configuration
	// (OpenID Connect Discovery), whose issuer must equal Issuer.
	Issuer string
	// JWKSURL is the issuer's JWKS document; it skips discovery.
	JWKSURL string
	// Audience must be one of the tokens' aud values: this API's identifier
	// at the identity provider.
	Audience string
	// Algorithms are the accepted signature algorithms (default RS256),
	// from RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA.
	Algorithms []string
	// RequireATJWT accepts only tokens of JOSE typ at+jwt (RFC 9068).
	// Otherwise a typ of JWT, or none, is accepted too, as many identity
	// providers send; any other typ is refused either way.
	RequireATJWT bool
	// Leeway tolerates clock skew for exp, nbf and iat, at most MaxLeeway.
	Leeway time.Duration
	// CacheTTL is how long fetched keys are fresh (DefaultJWKSCacheTTL if
	// zero). After it, a token signed with a known key still verifies at
	// once with the key in hand while one fetch in the background renews
	// them. Keys are kept when a fetch fails.
	CacheTTL time.Duration
	// MinRefresh is the least time between the end of a fetch and the start
	// of the next (DefaultJWKSMinRefresh if zero, at least
	// MinJWKSMinRefresh): a token with an unknown kid triggers a fetch at
	// most that often, so forged kids cannot make the server hammer the
	// issuer.
	MinRefresh time.Duration
	// FetchWait is how long a verification that needs keys the server does
	// not have (an unknown kid, or none fetched yet) waits for the fetch
	// that may bring them (DefaultJWKSFetchWait if zero); the token is
	// refused if the fetch has not ended by then.
	FetchWait time.Duration
	// AllowHTTP accepts http:// URLs, for development against a local
	// issuer; otherwise only https:// is used, redirects included.
	AllowHTTP bool
	// Client fetches the documents (a client with a 10s timeout if nil).
	Client *http.Client
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// ExternalTokens verifies access tokens of an external issuer. It is safe
// for concurrent use.
//
// The issuer's keys are fetched by one fetch at a time, whose result every
// request waiting for it shares (singleflight): however many requests find
// the keys stale or a kid unknown, the issuer sees one request.
type ExternalTokens struct {
	cfg    ExternalConfig
	parser *jwt.Parser
	client *http.Client

	keys    atomic.Pointer[externalKeySet]
	fetches singleflight.Group

	mu        sync.Mutex // guards fetching and lastFetch
	fetching  bool       // a fetch is in flight in fetches
	lastFetch time.Time  // when the last fetch ended, successful or not

	jwksURL string // known once configured or discovered; used by the fetch in flight only
}

// externalKeySet is one fetched JWKS document, and the tokens checked
// with its keys: verified ones until they expire, and those refused for
// their form or signature (see refusedTokens). A token is so verified
// once per key set: new keys (a fetch) start with empty caches, so a key
// the issuer withdrew verifies nothing from then on.
type externalKeySet struct {
	keys     map[string]externalKey
	fetched  time.Time
	verified *tokenCache
	refused  *refusedTokens
}

func newExternalKeySet(keys map[string]externalKey, fetched time.Time) *externalKeySet {
	return &externalKeySet{keys: keys, fetched: fetched,
		verified: newTokenCache(defaultCacheSize), refused: newRefusedTokens(refusedCacheSize)}
}

// externalKey is one verification key and the algorithms it may be used
// with (the JWK's alg when it has one, else every accepted algorithm of its
// key type).
type externalKey struct {
	pub  crypto.PublicKey
	algs []string
}

// NewExternalTokens checks cfg and returns a verifier. It fetches nothing:
// call Refresh to load the keys (the server does at start-up).
func NewExternalTokens(cfg ExternalConfig) (*ExternalTokens, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: external issuer is not configured")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: external token audience is not configured")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{defaultExternalAlgorithms}
	}
	for _, alg := range cfg.Algorithms {
		if !slices.Contains(externalAlgorithms(), alg) {
			return nil, fmt.Errorf("auth: algorithm %q is not accepted for external tokens; use %s",
				alg, strings.Join(externalAlgorithms(), ", "))
		}
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("auth: token leeway %s is outside [0, %s]", cfg.Leeway, MaxLeeway)
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultJWKSCacheTTL
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = DefaultJWKSMinRefresh
	}
	if cfg.MinRefresh < MinJWKSMinRefresh {
		return nil, fmt.Errorf("auth: the least time between two fetches of the issuer's keys is %s, under the floor of %s: "+
			"forged kids could then make the server fetch them many times a second", fmtDuration(cfg.MinRefresh), fmtDuration(MinJWKSMinRefresh))
	}
	if cfg.FetchWait <= 0 {
		cfg.FetchWait = DefaultJWKSFetchWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := cfg.Issuer
	if cfg.JWKSURL != "" {
		base = cfg.JWKSURL
	}
	if err := checkFetchURL(base, cfg.AllowHTTP); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	x := &ExternalTokens{cfg: cfg, jwksURL: cfg.JWKSURL}
	x.client = cfg.Client
	if x.client == nil {
		x.client = &http.Client{Timeout: externalFetchTimeout}
	}
	// Redirects are followed only to URLs that would be accepted directly.
	client := *x.client
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxExternalRedirects {
			return errors.New("too many redirects")
		}
		return checkFetchURL(req.URL.String(), cfg.AllowHTTP)
	}
	x.client = &client
	x.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return x, nil
}

// checkFetchURL accepts absolute https URLs (http too when allowHTTP)
// without user information.
func checkFetchURL(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute https:// URL", s)
	}
	if u.Scheme == "http" && !allowHTTP {
		return fmt.Errorf("%q is not https: keys are only fetched over HTTPS (http:// is allowed only in development)", s)
	}
	return nil
}

// Refresh fetches the issuer's keys now, whatever MinRefresh says
// (discovering the JWKS URL first if needed), or waits for the fetch in
// flight. On failure the keys already known are kept.
func (x *ExternalTokens) Refresh(ctx context.Context) error {
	select {
	case res := <-x.startFetch(true):
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startFetch returns the channel that delivers the result of the fetch in
// flight, starting one if none is, unless (and force is false) the last
// one ended less than MinRefresh ago: then it returns nil.
func (x *ExternalTokens) startFetch(force bool) <-chan singleflight.Result {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.fetching {
		if !force && !x.lastFetch.IsZero() && x.cfg.Now().Sub(x.lastFetch) < x.cfg.MinRefresh {
			return nil
		}
		x.fetching = true
	}
	return x.fetches.DoChan(jwksFetchKey, x.fetch)
}

// awaitFetch waits for the fetch in flight, or a new one if MinRefresh
// allows, for at most FetchWait and never after ctx ends. The fetch goes on
// if the wait ends first; its keys serve the requests after.
func (x *ExternalTokens) awaitFetch(ctx context.Context) {
	done := x.startFetch(false)
	if done == nil {
		return
	}
	wait := time.NewTimer(x.cfg.FetchWait)
	defer wait.Stop()
	select {
	case <-done:
	case <-wait.C:
	case <-ctx.Done():
	}
}

// fetch is the one fetch in flight. It runs on its own goroutine, with a
// deadline of its own: it serves every waiting request, so it must not end
// with the request that happened to start it.
func (x *ExternalTokens) fetch() (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), externalFetchTimeout)
	defer cancel()
	err := x.fetchKeys(ctx)
	x.mu.Lock()
	// From now on startFetch starts a new fetch instead of joining this
	// one, which has ended; the requests already waiting get its result.
	x.fetches.Forget(jwksFetchKey)
	x.fetching, x.lastFetch = false, x.cfg.Now()
	x.mu.Unlock()
	return nil, err
}

func (x *ExternalTokens) fetchKeys(ctx context.Context) error {
	if x.jwksURL == "" {
		u, err := x.discover(ctx)
		if err != nil {
			return err
		}
		x.jwksURL = u
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := x.getJSON(ctx, x.jwksURL, &doc); err != nil {
		return fmt.Errorf("auth: JWKS: %w", err)
	}
	keys, err := parseExternalJWKS(doc.Keys, x.cfg.Algorithms)
	if err != nil {
		return fmt.Errorf("auth: JWKS %s: %w", x.jwksURL, err)
	}
	x.keys.Store(newExternalKeySet(keys, x.cfg.Now()))
	return nil
}

// discover reads the issuer's OpenID Connect discovery document and returns
// its jwks_uri.
func (x *ExternalTokens) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(x.cfg.Issuer, "/") + discoveryPath
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := x.getJSON(ctx, u, &doc); err != nil {
		return "", fmt.Errorf("auth: OpenID Connect discovery: %w", err)
	}
	// OpenID Connect Discovery §4.3: the issuer must be exactly the one
	// configured, or the document is someone else's.
	if doc.Issuer != x.cfg.Issuer {
		return "", fmt.Errorf("auth: OpenID Connect discovery at %s names the issuer %q, not %q", u, doc.Issuer, x.cfg.Issuer)
	}
	if err := checkFetchURL(doc.JWKSURI, x.cfg.AllowHTTP); err != nil {
		return "", fmt.Errorf("auth: OpenID Connect discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// getJSON fetches a JSON document of at most 1 MiB.
func (x *ExternalTokens) getJSON(ctx context.Context, u string, v any) error {
	if err := checkFetchURL(u, x.cfg.AllowHTTP); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := x.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: status %d", u, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxExternalDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u, err)
	}
	if len(data) > maxExternalDocumentBytes {
		return fmt.Errorf("fetch %s: the document is larger than %d bytes", u, maxExternalDocumentBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("fetch %s: not a JSON document of the expected shape", u)
	}
	return nil
}

// jwkJSON is the part of a JWK (RFC 7517, 7518, 8037) that is read.
type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseExternalJWKS returns the usable signing keys of a JWKS by kid. Keys
// that are not for signatures, of a type no accepted algorithm uses, or
// malformed are skipped; a kid listed twice is ambiguous and dropped.
func parseExternalJWKS(raw []json.RawMessage, accepted []string) (map[string]externalKey, error) {
	if len(raw) > maxJWKSKeys {
		return nil, fmt.Errorf("more than %d keys", maxJWKSKeys)
	}
	keys := map[string]externalKey{}
	dup := map[string]bool{}
	for _, r := range raw {
		var j jwkJSON
		if json.Unmarshal(r, &j) != nil || j.Kid == "" || len(j.Kid) > maxKIDLength || (j.Use != "" && j.Use != "sig") {
			continue
		}
		pub, algs := publicKeyOf(j)
		if pub == nil {
			continue
		}
		if j.Alg != "" {
			if !slices.Contains(algs, j.Alg) {
				continue // an alg that does not fit the key type
			}
			algs = []string{j.Alg}
		}
		algs = slices.DeleteFunc(algs, func(a string) bool { return !slices.Contains(accepted, a) })
		if len(algs) == 0 {
			continue
		}
		if _, ok := keys[j.Kid]; ok || dup[j.Kid] {
			delete(keys, j.Kid)
			dup[j.Kid] = true
			continue
		}
		keys[j.Kid] = externalKey{pub: pub, algs: algs}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable signing key for the algorithms %s", strings.Join(accepted, ", "))
	}
	return keys, nil
}

// publicKeyOf decodes a JWK's public key and the algorithms its type allows,
// or returns nil.
func publicKeyOf(j jwkJSON) (crypto.PublicKey, []string) {
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		return b
	}
	switch j.Kty {
	case "RSA":
		n, e := b64(j.N), b64(j.E)
		if len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, nil
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return nil, nil
		}
		return pub, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case "EC":
		var curve elliptic.Curve
		var alg string
		switch j.Crv {
		case "P-256":
			curve, alg = elliptic.P256(), "ES256"
		case "P-384":
			curve, alg = elliptic.P384(), "ES384"
		case "P-521":
			curve, alg = elliptic.P521(), "ES512"
		default:
			return nil, nil
		}
		size := (curve.Params().BitSize + 7) / 8
		x, y := b64(j.X), b64(j.Y)
		if len(x) != size || len(y) != size {
			return nil, nil
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, nil
		}
		return pub, []string{alg}
	case "OKP":
		x := b64(j.X)
		if j.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, nil
		}
		return ed25519.PublicKey(x), []string{"EdDSA"}
	}
	return nil, nil
}

// key returns the key of kid. A known key is returned at once; if the
// keys are older than CacheTTL, a fetch renews them in the background (at
// most once per MinRefresh). For an unknown kid, or before any key was
// fetched, it waits (see awaitFetch) for the fetch that may bring it.
func (x *ExternalTokens) key(ctx context.Context, kid string) (externalKey, bool) {
	if ks := x.keys.Load(); ks != nil {
		if k, ok := ks.keys[kid]; ok {
			if x.cfg.Now().Sub(ks.fetched) >= x.cfg.CacheTTL {
				x.startFetch(false) // nobody waits: the stale key serves meanwhile
			}
			return k, true
		}
	}
	x.awaitFetch(ctx)
	ks := x.keys.Load()
	if ks == nil {
		return externalKey{}, false
	}
	k, ok := ks.keys[kid]
	return k, ok
}

// Verify checks an access token of the external issuer and returns its
// claims. Every failure returns an error wrapping ErrInvalidCredentials.
func (x *ExternalTokens) Verify(ctx context.Context, token string) (AccessClaims, error) {
	if len(token) == 0 || len(token) > MaxTokenLength {
		return AccessClaims{}, &tokenError{reason: rejectLength}
	}
	now := x.cfg.Now()
	ks := x.keys.Load()
	if ks != nil {
		if e := ks.verified.get(token); e != nil && now.Before(e.deadline) {
			return e.claims, nil
		}
		if reason := ks.refused.reason(token, now); reason != "" {
			return AccessClaims{}, &tokenError{reason: reason}
		}
	}
	claims, reason := x.verify(ctx, token)
	// Remembered in the key set the check started with, unless the check
	// fetched other keys meanwhile (an unknown kid).
	if ks != nil && x.keys.Load() == ks {
		if reason == "" {
			ks.verified.put(token, &cacheEntry{claims: claims, deadline: claims.ExpiresAt.Add(x.cfg.Leeway)}, now)
		} else {
			ks.refused.add(token, reason, now)
		}
	}
	if reason != "" {
		return AccessClaims{}, &tokenError{reason: reason}
	}
	return claims, nil
}

// verify checks token in full.
func (x *ExternalTokens) verify(ctx context.Context, token string) (AccessClaims, rejection) {
	var c externalClaims
	keyfunc := func(tok *jwt.Token) (any, error) {
		h := tok.Header
		typ, _ := h["typ"].(string)
		_, hasTyp := h["typ"]
		switch {
		case isAccessTokenType(typ):
		case x.cfg.RequireATJWT:
			return nil, rejectType
		case hasTyp && !strings.EqualFold(typ, externalTypeJWT) && !strings.EqualFold(typ, "application/jwt"):
			return nil, rejectExternalType
		}
		if _, ok := h["crit"]; ok {
			return nil, rejectCrit
		}
		for _, name := range [...]string{"jku", "jwk", "x5u", "x5c"} {
			if _, ok := h[name]; ok {
				return nil, rejectKeyHeader // keys come from the configured JWKS only
			}
		}
		kid, _ := h["kid"].(string)
		if kid == "" || len(kid) > maxKIDLength {
			return nil, rejectKID
		}
		k, ok := x.key(ctx, kid)
		if !ok {
			if x.keys.Load() == nil {
				return nil, rejectNoKeys
			}
			return nil, rejectKID
		}
		if !slices.Contains(k.algs, tok.Method.Alg()) {
			return nil, rejectKeyAlg
		}
		return k.pub, nil
	}
	if _, err := x.parser.ParseWithClaims(token, &c, keyfunc); err != nil {
		if r := reasonFor(err); r != "" {
			return AccessClaims{}, r
		}
		return AccessClaims{}, rejectOther
	}
	return c.accessClaims(), ""
}

// externalClaims is the payload of an external access token. Scopes come
// from scope (a space-separated string, RFC 9068 and RFC 8693) or, when it
// is absent, scp (a space-separated string or an array of strings, as some
// identity providers send).
type externalClaims struct {
	registeredClaims
	Scope    json.RawMessage `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID string          `json:"client_id"`
	AZP      string          `json:"azp"`

	scopes []string // set by Validate
}

var _ jwt.ClaimsValidator = (*externalClaims)(nil)

// Validate checks claim types and the claims the parser options do not: a
// subject, bounded lengths, well-formed scopes. iat and jti are optional
// (not every identity provider sends them); iat, when present, is checked.
func (c *externalClaims) Validate() error {
	switch {
	case c.ExpiresAt.kind == kindWrong, c.IssuedAt.kind == kindWrong, c.NotBefore.kind == kindWrong:
		return rejectClaimType
	case c.Subject == "":
		return rejectMissingClaim
	case len(c.ID) > maxJTILength, len(c.Subject) > maxSubjectLength, len(c.ClientID) > maxSubjectLength, len(c.AZP) > maxSubjectLength:
		return rejectMalformed
	}
	raw, arrayOK := c.Scope, false
	if isAbsentJSON(raw) {
		raw, arrayOK = c.Scp, true
	}
	scopes, ok := parseScopeClaim(raw, arrayOK)
	if !ok {
		return rejectScopeClaim
	}
	c.scopes = scopes
	return nil
}

func isAbsentJSON(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// parseScopeClaim reads a space-separated scope string or, if arrayOK, an
// array of scope strings, into a sorted slice without duplicates.
func parseScopeClaim(raw json.RawMessage, arrayOK bool) ([]string, bool) {
	if isAbsentJSON(raw) {
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if !validScopeClaim(s) {
			return nil, false
		}
		return splitScope(s), true
	}
	var list []string
	if !arrayOK || json.Unmarshal(raw, &list) != nil {
		return nil, false
	}
	for _, sc := range list {
		if sc == "" || strings.Contains(sc, " ") || !validScopeClaim(sc) {
			return nil, false
		}
	}
	slices.Sort(list)
	return slices.Clip(slices.Compact(list)), true
}

func (c *externalClaims) accessClaims() AccessClaims {
	client := c.ClientID
	if client == "" {
		client = c.AZP
	}
	var iat time.Time
	if c.IssuedAt.kind == kindNumber {
		iat = c.IssuedAt.t.Time
	}
	return AccessClaims{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		Audience:  slices.Clone(c.Audience.values()),
		ClientID:  client,
		Scope:     strings.Join(c.scopes, " "),
		Scopes:    c.scopes,
		IssuedAt:  iat,
		ExpiresAt: c.ExpiresAt.t.Time,
		ID:        c.ID,
	}
}
