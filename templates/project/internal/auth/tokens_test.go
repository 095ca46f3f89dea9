package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

const (
	tkIssuer   = "https://issuer.example"
	tkAudience = "https://api.example"
	tkLeeway   = 30 * time.Second
)

// tkClock is a settable clock shared by a test's token service and
// revocation set.
type tkClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tkClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *tkClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func tkSecret(fill byte) []byte { return []byte(strings.Repeat(string(rune(fill)), 32)) }

type tkFixture struct {
	clock  *tkClock
	secret []byte
	keys   *KeySet
	rev    *Revocations
	tokens *Tokens
}

func tkSetup(t testing.TB) *tkFixture {
	t.Helper()
	f := &tkFixture{
		clock:  &tkClock{now: time.Date(2031, 5, 6, 7, 8, 9, 250_000_000, time.UTC)},
		secret: tkSecret('s'),
	}
	var err error
	if f.keys, err = NewHMACKeySet(f.secret); err != nil {
		t.Fatal(err)
	}
	f.rev = NewRevocations(nil)
	f.rev.now = f.clock.Now
	f.tokens = NewTokens(TokenConfig{Issuer: tkIssuer, Audience: tkAudience, Leeway: tkLeeway, Now: f.clock.Now}, f.keys, f.rev)
	return f
}

func (f *tkFixture) issue(t testing.TB, subject string, scopes ...string) (string, AccessClaims) {
	t.Helper()
	tok, claims, err := f.tokens.Issue(subject, "cli", scopes)
	if err != nil {
		t.Fatal(err)
	}
	return tok, claims
}

// header and claims are those of a good token, as maps a test can break.
func (f *tkFixture) header() map[string]any {
	return map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": f.keys.signKID}
}

func (f *tkFixture) claims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{
		"iss": tkIssuer, "aud": tkAudience, "sub": "alice", "client_id": "cli",
		"exp": now + 600, "iat": now, "jti": "jti-1", "scope": "read write",
	}
}

// forge signs header and claims (maps or raw JSON) with method and key.
func tkSign(t testing.TB, header, claims any, method jwt.SigningMethod, key any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	part := func(v any) string {
		if raw, ok := v.(string); ok {
			return enc.EncodeToString([]byte(raw))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return enc.EncodeToString(b)
	}
	signing := part(header) + "." + part(claims)
	sig, err := method.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// forge returns a good token after mutate has changed its header or claims.
func (f *tkFixture) forge(t testing.TB, mutate func(h, c map[string]any)) string {
	t.Helper()
	h, c := f.header(), f.claims()
	if mutate != nil {
		mutate(h, c)
	}
	return tkSign(t, h, c, jwt.SigningMethodHS256, f.secret)
}

// wantRejected checks that Verify refuses token with an error wrapping
// ErrInvalidCredentials and the given reason.
func (f *tkFixture) wantRejected(t *testing.T, token string, reason rejection) {
	t.Helper()
	claims, err := f.tokens.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("token accepted (sub %q), want rejection %q", claims.Subject, reason)
	}
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("error %v does not wrap ErrInvalidCredentials", err)
	}
	var te *tokenError
	if !errors.As(err, &te) || te.reason != reason {
		t.Fatalf("rejected for %v, want %q", err, reason)
	}
	if claims.Subject != "" || claims.ID != "" {
		t.Fatalf("claims of a rejected token were returned: %+v", claims)
	}
}

func (f *tkFixture) wantAccepted(t *testing.T, token string) AccessClaims {
	t.Helper()
	claims, err := f.tokens.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("token rejected: %v", err)
	}
	return claims
}

func TestIssueWritesRFC9068AccessToken(t *testing.T) {
	f := tkSetup(t)
	tok, claims := f.issue(t, "alice", "write", "read", "write")

	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header map[string]any
	var payload map[string]any
	for i, v := range []any{&header, &payload} {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	if header["typ"] != "at+jwt" || header["alg"] != "HS256" || header["kid"] != f.keys.signKID {
		t.Errorf("header = %v", header)
	}
	now := f.clock.Now()
	wantExp := float64(now.Add(DefaultAccessTTL).Unix())
	if payload["iss"] != tkIssuer || payload["aud"] != tkAudience || payload["sub"] != "alice" ||
		payload["client_id"] != "cli" || payload["scope"] != "read write" || payload["exp"] != wantExp {
		t.Errorf("payload = %v", payload)
	}
	// RFC 7519 NumericDate without a fraction (strict parsers refuse one).
	rawPayload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if iat, _ := payload["iat"].(float64); iat != 1935817689 || !strings.Contains(string(rawPayload), `"iat":1935817689,`) {
		t.Errorf("iat = %v, want whole seconds", payload["iat"])
	}
	// jti: at least 128 random bits, different every time.
	if len(claims.ID) < 26 || payload["jti"] != claims.ID {
		t.Errorf("jti = %q", claims.ID)
	}
	_, other := f.issue(t, "alice")
	if other.ID == claims.ID {
		t.Error("two tokens share a jti")
	}
	if !slices.Equal(claims.Scopes, []string{"read", "write"}) || claims.Scope != "read write" {
		t.Errorf("scopes = %q / %q", claims.Scopes, claims.Scope)
	}
	got := f.wantAccepted(t, tok)
	if got.Subject != "alice" || got.ID != claims.ID || !slices.Equal(got.Scopes, claims.Scopes) ||
		!got.IssuedAt.Equal(claims.IssuedAt) || !got.ExpiresAt.Equal(claims.ExpiresAt) || got.ClientID != "cli" {
		t.Errorf("verified claims %+v differ from issued %+v", got, claims)
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	f := tkSetup(t)
	for _, tc := range []struct {
		name    string
		subject string
		scopes  []string
	}{
		{"empty subject", "", nil},
		{"scope with space", "alice", []string{"read write"}},
		{"scope with quote", "alice", []string{`re"ad`}},
		{"empty scope", "alice", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := f.tokens.Issue(tc.subject, "", tc.scopes); err == nil {
				t.Fatal("issued")
			}
		})
	}
}

// tkAttack is a token the fixture's verifier must refuse, and why.
type tkAttack struct {
	name   string
	token  string
	reason rejection
}

// tkAttacks are the attacks on the fixture's HS256 tokens: forged and
// confused algorithms, headers, claims and encodings.
func tkAttacks(t testing.TB, f *tkFixture) []tkAttack {
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := f.forge(t, nil)
	cut := strings.LastIndexByte(good, '.')
	return []tkAttack{
		{"alg none", tkSign(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": f.keys.signKID}, f.claims(), jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), rejectSignature},
		{"stripped signature", good[:cut+1], rejectSignature},
		{"no signature part", good[:cut], rejectMalformed},
		{"altered signature", good[:cut+1] + flipChar(good[cut+1:], 5), rejectSignature},
		{"wrong key", tkSign(t, f.header(), f.claims(), jwt.SigningMethodHS256, tkSecret('x')), rejectSignature},
		{"HS512 with our secret", f.forge(t, func(h, _ map[string]any) { h["alg"] = "HS512" }), rejectSignature},
		{"EdDSA token against an HMAC set", tkSign(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": f.keys.signKID}, f.claims(), jwt.SigningMethodEdDSA, edPriv), rejectSignature},
		{"unknown alg", f.forge(t, func(h, _ map[string]any) { h["alg"] = "XX999" }), rejectUnverifiable},
		{"typ JWT", f.forge(t, func(h, _ map[string]any) { h["typ"] = "JWT" }), rejectType},
		{"typ missing", f.forge(t, func(h, _ map[string]any) { delete(h, "typ") }), rejectType},
		{"typ of another token kind", f.forge(t, func(h, _ map[string]any) { h["typ"] = "rt+jwt" }), rejectType},
		{"typ not a string", f.forge(t, func(h, _ map[string]any) { h["typ"] = 1 }), rejectType},
		{"kid unknown", f.forge(t, func(h, _ map[string]any) { h["kid"] = "hs-unknown" }), rejectKID},
		{"kid missing", f.forge(t, func(h, _ map[string]any) { delete(h, "kid") }), rejectKID},
		{"kid too long", f.forge(t, func(h, _ map[string]any) { h["kid"] = strings.Repeat("k", 200) }), rejectKID},
		{"crit header", f.forge(t, func(h, _ map[string]any) { h["crit"] = []string{"exp"} }), rejectCrit},
		{"jku header", f.forge(t, func(h, _ map[string]any) { h["jku"] = "https://evil.example/jwks" }), rejectKeyHeader},
		{"embedded jwk", f.forge(t, func(h, _ map[string]any) {
			h["jwk"] = map[string]any{"kty": "OKP", "x": base64.RawURLEncoding.EncodeToString(edPub)}
		}), rejectKeyHeader},
		{"exp missing", f.forge(t, func(_, c map[string]any) { delete(c, "exp") }), rejectMissingClaim},
		{"exp as string", f.forge(t, func(_, c map[string]any) { c["exp"] = "2000000000" }), rejectClaimType},
		{"exp null", f.forge(t, func(_, c map[string]any) { c["exp"] = nil }), rejectClaimType},
		{"iat as string", f.forge(t, func(_, c map[string]any) { c["iat"] = "1935817689" }), rejectClaimType},
		{"nbf as string", f.forge(t, func(_, c map[string]any) { c["nbf"] = "1935817689" }), rejectClaimType},
		{"iat negative", f.forge(t, func(_, c map[string]any) { c["iat"] = -1 }), rejectClaimType},
		{"iat missing", f.forge(t, func(_, c map[string]any) { delete(c, "iat") }), rejectMissingClaim},
		{"iat in the future", f.forge(t, func(_, c map[string]any) { c["iat"] = c["iat"].(int64) + 31 }), rejectFuture},
		{"nbf in the future", f.forge(t, func(_, c map[string]any) { c["nbf"] = c["iat"].(int64) + 31 }), rejectNotYetValid},
		{"expired beyond leeway", f.forge(t, func(_, c map[string]any) { c["exp"] = c["iat"].(int64) - 30 }), rejectExpired},
		{"wrong issuer", f.forge(t, func(_, c map[string]any) { c["iss"] = "https://evil.example" }), rejectIssuer},
		{"issuer missing", f.forge(t, func(_, c map[string]any) { delete(c, "iss") }), rejectMissingClaim},
		{"wrong audience", f.forge(t, func(_, c map[string]any) { c["aud"] = "https://other.example" }), rejectAudience},
		{"audience missing", f.forge(t, func(_, c map[string]any) { delete(c, "aud") }), rejectMissingClaim},
		{"audience of wrong type", f.forge(t, func(_, c map[string]any) { c["aud"] = 7 }), rejectMalformed},
		{"subject missing", f.forge(t, func(_, c map[string]any) { delete(c, "sub") }), rejectMissingClaim},
		{"subject not a string", f.forge(t, func(_, c map[string]any) { c["sub"] = 42 }), rejectMalformed},
		{"jti missing", f.forge(t, func(_, c map[string]any) { delete(c, "jti") }), rejectMissingClaim},
		{"scope as array", f.forge(t, func(_, c map[string]any) { c["scope"] = []string{"admin"} }), rejectMalformed},
		{"scope with a quote", f.forge(t, func(_, c map[string]any) { c["scope"] = `ad"min` }), rejectScopeClaim},
		{"claims not JSON", tkSign(t, f.header(), "not json", jwt.SigningMethodHS256, f.secret), rejectMalformed},
		{"opaque refresh token", base64.RawURLEncoding.EncodeToString(tkSecret('r')), rejectMalformed},
		{"empty", "", rejectLength},
		{"oversized", good + strings.Repeat("A", MaxTokenLength), rejectLength},
	}
}

func TestVerifyRejects(t *testing.T) {
	f := tkSetup(t)
	f.wantAccepted(t, f.forge(t, nil))
	for _, tc := range tkAttacks(t, f) {
		t.Run(tc.name, func(t *testing.T) { f.wantRejected(t, tc.token, tc.reason) })
	}
}

// flipChar replaces the character at i of a base64url string by another.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestVerifyAcceptsWhatTheRulesAllow(t *testing.T) {
	f := tkSetup(t)
	for _, tc := range []struct {
		name   string
		mutate func(h, c map[string]any)
	}{
		{"typ in capitals", func(h, _ map[string]any) { h["typ"] = "AT+JWT" }},
		{"typ with application/ prefix", func(h, _ map[string]any) { h["typ"] = "application/at+jwt" }},
		{"audience array containing ours", func(_, c map[string]any) { c["aud"] = []string{"https://other.example", tkAudience} }},
		{"expired within leeway", func(_, c map[string]any) { c["exp"] = c["iat"].(int64) - 29 }},
		{"iat ahead within leeway", func(_, c map[string]any) { c["iat"] = c["iat"].(int64) + 29 }},
		{"iat with a fraction", func(_, c map[string]any) { c["iat"] = 1935817688.5 }},
		{"no scope", func(_, c map[string]any) { delete(c, "scope") }},
	} {
		t.Run(tc.name, func(t *testing.T) { f.wantAccepted(t, f.forge(t, tc.mutate)) })
	}
}

// A signature whose last base64url character differs only in the unused
// low bits decodes to the same bytes unless decoding is strict. Without
// WithStrictDecoding the altered token would verify.
func TestVerifyRejectsSignatureMalleability(t *testing.T) {
	f := tkSetup(t)
	tok, _ := f.issue(t, "alice")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	// An HS256 signature is 32 bytes: 43 characters, the last two bits unused.
	altered := tok[:len(tok)-1] + string(alphabet[last^1])

	lenient := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(f.clock.Now))
	if _, err := lenient.Parse(altered, func(*jwt.Token) (any, error) { return f.secret, nil }); err != nil {
		t.Fatalf("the altered token is not a malleability case: %v", err)
	}
	f.wantRejected(t, altered, rejectMalformed)
}

// The classic algorithm confusion: an HS256 token whose "secret" is the
// public key of an asymmetric set, and the reverse.
func TestVerifyRejectsAlgorithmConfusion(t *testing.T) {
	dir := t.TempDir()
	kid, err := GenerateKey(dir, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	edKeys, err := LoadKeyDir(dir, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	f := tkSetup(t)
	f.tokens.SetKeys(edKeys)
	pub := edKeys.verify[kid].(ed25519.PublicKey)
	var jwks struct{ Keys []map[string]string }
	if err := json.Unmarshal(edKeys.JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string][]byte{
		"raw public key":  pub,
		"JWK x parameter": []byte(jwks.Keys[0]["x"]),
		"JWKS document":   edKeys.JWKS(),
	} {
		t.Run("HS256 signed with "+name, func(t *testing.T) {
			h := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}
			f.wantRejected(t, tkSign(t, h, f.claims(), jwt.SigningMethodHS256, secret), rejectSignature)
		})
	}

	t.Run("EdDSA token against an HMAC set", func(t *testing.T) {
		g := tkSetup(t)
		h := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": g.keys.signKID}
		g.wantRejected(t, tkSign(t, h, g.claims(), jwt.SigningMethodEdDSA, edKeys.signKey), rejectSignature)
	})
	t.Run("own EdDSA token verifies", func(t *testing.T) {
		tok, _ := f.issue(t, "alice")
		f.wantAccepted(t, tok)
	})
}

func TestVerifyRefusesOversizedTokenCheaply(t *testing.T) {
	f := tkSetup(t)
	huge := strings.Repeat("A", 1<<20) + "." + strings.Repeat("A", 1<<20) + ".sig"
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := f.tokens.Verify(context.Background(), huge); err == nil {
			t.Fatal("accepted")
		}
	})
	if allocs > 1 {
		t.Fatalf("refusing a 2 MiB token cost %v allocations; it must not be decoded", allocs)
	}
	f.wantRejected(t, huge, rejectLength)
	f.wantRejected(t, f.forge(t, func(_, c map[string]any) { c["pad"] = strings.Repeat("p", MaxTokenLength) }), rejectLength)
}

func TestVerifyDeniedJTI(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "first seen", true: "cache hit"}[cached], func(t *testing.T) {
			f := tkSetup(t)
			tok, claims := f.issue(t, "alice")
			other, _ := f.issue(t, "alice")
			if cached {
				f.wantAccepted(t, tok)
			}
			f.rev.Deny(store.DeniedToken{JTI: claims.ID, ExpiresAt: claims.ExpiresAt})
			f.wantRejected(t, tok, rejectDenied)
			f.wantAccepted(t, other) // only that token
		})
	}
}

func TestVerifyNotBefore(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(map[bool]string{false: "first seen", true: "cache hit"}[cached], func(t *testing.T) {
			f := tkSetup(t)
			old, _ := f.issue(t, "alice")
			bob, _ := f.issue(t, "bob")
			if cached {
				f.wantAccepted(t, old)
			}
			// A password change 1 ms later: NotBefore is the next whole
			// second (Accounts.notBefore). A token dated in the second of
			// the change, even after it, is refused (its login may have
			// been judged before the change, and logins judged after it are
			// refused until NotBefore: TestSetPasswordEndsSessions); one
			// dated at NotBefore works.
			f.clock.Add(time.Millisecond)
			nb := notBeforeSecond(f.clock.Now().Add(time.Nanosecond))
			f.rev.SetNotBefore("alice", nb)
			f.clock.Add(time.Millisecond)
			sameSecond, _ := f.issue(t, "alice")
			f.clock.Add(nb.Sub(f.clock.Now()))
			fresh, _ := f.issue(t, "alice")
			f.wantRejected(t, old, rejectNotBefore)
			f.wantRejected(t, sameSecond, rejectNotBefore)
			f.wantAccepted(t, fresh)
			f.wantAccepted(t, bob)
			// A not-before time stored with milliseconds (an earlier
			// version) is rounded up, not down: it still ends the sessions
			// of its second.
			f.rev.SetNotBefore("alice", nb.Add(1500*time.Millisecond))
			f.clock.Add(2 * time.Second)
			late, _ := f.issue(t, "alice")
			f.wantRejected(t, fresh, rejectNotBefore)
			f.wantAccepted(t, late)
		})
	}
}

func TestVerifyCachedTokenStillExpires(t *testing.T) {
	f := tkSetup(t)
	tok, claims := f.issue(t, "alice")
	f.wantAccepted(t, tok)
	f.clock.Add(claims.ExpiresAt.Sub(f.clock.Now()) + tkLeeway - time.Millisecond)
	f.wantAccepted(t, tok)
	f.clock.Add(time.Millisecond)
	f.wantRejected(t, tok, rejectExpired)
}

func TestVerifyCacheIsBounded(t *testing.T) {
	f := tkSetup(t)
	f.tokens.cacheSize = 16
	f.tokens.SetKeys(f.keys)
	for range 100 {
		tok, _ := f.issue(t, "alice")
		f.wantAccepted(t, tok)
	}
	st := f.tokens.state.Load()
	if n := len(st.cache.entries); n > 16 {
		t.Fatalf("cache holds %d entries, limit 16", n)
	}
}

func TestKeyRotation(t *testing.T) {
	f := tkSetup(t)
	oldTok, _ := f.issue(t, "alice")
	f.wantAccepted(t, oldTok) // now cached

	// Rotate: a new current secret, the old one kept for verification.
	rotated, err := NewHMACKeySet(tkSecret('n'), f.secret)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens.SetKeys(rotated)
	newTok, _ := f.issue(t, "alice")
	if kidOf(t, newTok) == kidOf(t, oldTok) {
		t.Fatal("the new token was signed with the old key")
	}
	f.wantAccepted(t, oldTok)
	f.wantAccepted(t, newTok)

	// Drop the old secret: its tokens fail at once, cached or not.
	only, err := NewHMACKeySet(tkSecret('n'))
	if err != nil {
		t.Fatal(err)
	}
	f.tokens.SetKeys(only)
	// No remaining secret signed it, which the HMAC check finds before
	// the header (and its kid) is decoded.
	f.wantRejected(t, oldTok, rejectSignature)
	f.wantAccepted(t, newTok)
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Header["kid"].(string)
}

func TestTokensConfigurationErrorsFailClosed(t *testing.T) {
	keys, err := NewHMACKeySet(tkSecret('s'))
	if err != nil {
		t.Fatal(err)
	}
	good := TokenConfig{Issuer: tkIssuer, Audience: tkAudience}
	for name, cfg := range map[string]TokenConfig{
		"no issuer":        {Audience: tkAudience},
		"no audience":      {Issuer: tkIssuer},
		"leeway too large": {Issuer: tkIssuer, Audience: tkAudience, Leeway: 2 * time.Minute},
		"negative ttl":     {Issuer: tkIssuer, Audience: tkAudience, AccessTTL: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			bad := NewTokens(cfg, keys, nil)
			if _, _, err := bad.Issue("alice", "", nil); err == nil {
				t.Error("issued")
			}
			tok, _, err := NewTokens(good, keys, nil).Issue("alice", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bad.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("verified: %v", err)
			}
			if _, err := NewGuard(GuardConfig{Tokens: bad}); err == nil {
				t.Error("NewGuard accepted a misconfigured token service")
			}
		})
	}
	if _, _, err := NewTokens(good, nil, nil).Issue("alice", "", nil); err == nil {
		t.Error("issued without keys")
	}
}

func TestVerifyConcurrentWithRotation(t *testing.T) {
	f := tkSetup(t)
	tok, _ := f.issue(t, "alice")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if _, err := f.tokens.Verify(context.Background(), tok); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			f.tokens.SetKeys(f.keys)
		}
	})
	wg.Wait()
}

// A token refused for its form or signature is remembered, with its
// reason, until the keys change; one refused for its claims is checked
// again, since time can make it valid.
func TestRefusedTokensRemembered(t *testing.T) {
	f := tkSetup(t)
	other := tkSecret('n')
	next, err := NewHMACKeySet(other, f.secret) // a rotation to come
	if err != nil {
		t.Fatal(err)
	}
	h := f.header()
	h["kid"] = next.signKID
	byOther := tkSign(t, h, f.claims(), jwt.SigningMethodHS256, other)
	for _, tc := range []struct {
		token  string
		reason rejection
	}{
		{byOther, rejectSignature},
		{"a.b.c", rejectMalformed},
	} {
		refused := f.tokens.state.Load().refused
		f.wantRejected(t, tc.token, tc.reason)
		if refused.cache.get(tc.token) != nil {
			t.Fatalf("%s: remembered at its first refusal", tc.token)
		}
		f.wantRejected(t, tc.token, tc.reason)
		if got := refused.reason(tc.token, f.clock.Now()); got != tc.reason {
			t.Fatalf("%s: remembered as %q, want %q", tc.token, got, tc.reason)
		}
		f.wantRejected(t, tc.token, tc.reason) // from memory, the same answer
	}

	// The keys change: what was refused is looked at again.
	f.tokens.SetKeys(next)
	f.wantAccepted(t, byOther)

	// Issued in the future: refused now, accepted once its time has come.
	early := f.forge(t, func(_, c map[string]any) {
		c["iat"], c["exp"] = f.clock.Now().Add(time.Hour).Unix(), f.clock.Now().Add(2*time.Hour).Unix()
	})
	f.wantRejected(t, early, rejectFuture)
	f.wantRejected(t, early, rejectFuture)
	if f.tokens.state.Load().refused.cache.get(early) != nil {
		t.Fatal("a token refused for its claims was remembered")
	}
	f.clock.Add(time.Hour)
	f.wantAccepted(t, early)

	// Forgotten after refusedTTL, and bounded.
	f.wantRejected(t, "x.y.z", rejectMalformed)
	f.wantRejected(t, "x.y.z", rejectMalformed)
	f.clock.Add(refusedTTL)
	if r := f.tokens.state.Load().refused.reason("x.y.z", f.clock.Now()); r != "" {
		t.Errorf("refused token remembered as %q after refusedTTL", r)
	}
	for i := range 3 * refusedCacheSize {
		f.wantRejected(t, "m."+strconv.Itoa(i)+".x", rejectMalformed)
		f.wantRejected(t, "m."+strconv.Itoa(i)+".x", rejectMalformed)
	}
	if n := len(f.tokens.state.Load().refused.cache.entries); n > refusedCacheSize {
		t.Errorf("%d refused tokens remembered, want at most %d", n, refusedCacheSize)
	}
	if n := len(f.tokens.state.Load().cache.entries); n == 0 {
		t.Error("refused tokens evicted the verified ones")
	}
}
