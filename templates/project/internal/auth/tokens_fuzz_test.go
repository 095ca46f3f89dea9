package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerifyToken gives arbitrary strings to both verifiers of access
// tokens: the server's own (HS256) and an external issuer's (EdDSA, its
// keys set in place, so nothing is fetched). Neither may panic, every
// refusal wraps ErrInvalidCredentials, and a token that verifies is one the
// issuer signed, byte for byte: no other spelling of a token (padding,
// unused bits, whitespace, reordered parts) is accepted.
//
// Each fuzzing process builds the same keys and tokens (fixed secret, seed,
// clock and claims), so what one signed is signed for all.
func FuzzVerifyToken(f *testing.F) {
	own := tkSetup(f)
	ownToken := own.forge(f, nil)

	edKey := ed25519.NewKeyFromSeed([]byte(strings.Repeat("e", ed25519.SeedSize)))
	x, err := NewExternalTokens(ExternalConfig{Issuer: tkIssuer, Audience: tkAudience, Algorithms: []string{"EdDSA"}, Now: own.clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	now := own.clock.Now()
	x.keys.Store(newExternalKeySet(map[string]externalKey{"k1": {pub: edKey.Public(), algs: []string{"EdDSA"}}}, now))
	x.lastFetch = now // the clock stands still: no fetch is ever allowed
	extHeader := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}
	extToken := tkSign(f, extHeader, own.claims(), jwt.SigningMethodEdDSA, edKey)

	signed := map[string]bool{ownToken: true, extToken: true}
	ctx := context.Background()
	if _, err := own.tokens.Verify(ctx, ownToken); err != nil {
		f.Fatalf("the server's own token: %v", err)
	}
	if _, err := x.Verify(ctx, extToken); err != nil {
		f.Fatalf("the external issuer's token: %v", err)
	}
	for _, seed := range []string{
		ownToken,
		extToken,
		ownToken[:len(ownToken)-1] + "A",
		ownToken + "=",
		strings.Replace(ownToken, ".", "..", 1),
		own.forge(f, func(h, c map[string]any) { h["alg"] = "none" }),
		own.forge(f, func(h, c map[string]any) { h["crit"] = []string{"exp"} }),
		own.forge(f, func(h, c map[string]any) { c["exp"] = "9999999999" }),
		own.forge(f, func(h, c map[string]any) { h["kid"] = strings.Repeat("k", 200) }),
		tkSign(f, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "k1", "jku": "https://evil.example/keys"}, own.claims(), jwt.SigningMethodEdDSA, edKey),
		tkSign(f, extHeader, `{"sub":"alice","exp":1e400}`, jwt.SigningMethodEdDSA, edKey),
		"",
		".",
		"a.b.c",
		"eyJhbGciOiJub25lIn0.e30.",
		strings.Repeat("a", MaxTokenLength+1),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		for name, verify := range map[string]func(context.Context, string) (AccessClaims, error){
			"own": own.tokens.Verify, "external": x.Verify,
		} {
			claims, err := verify(ctx, token)
			switch {
			case err != nil && !errors.Is(err, ErrInvalidCredentials):
				t.Fatalf("%s verifier: %v does not wrap ErrInvalidCredentials", name, err)
			case err == nil && !signed[token]:
				t.Fatalf("%s verifier accepted %q, which the issuer never signed", name, token)
			case err == nil && claims.Subject == "":
				t.Fatalf("%s verifier accepted %q without a subject", name, token)
			}
		}
	})
}
