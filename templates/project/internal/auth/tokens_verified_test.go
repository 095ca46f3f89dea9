package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"reflect"
	"testing"
)

// checkVerifiedAgrees fails when the verifier's verdict on an HS256 token
// differs from golang-jwt's ParseWithClaims (with the verifier's options
// and key function): acceptance, the claims of an accepted token, and the
// reason of a refused one whose signature is genuine. It reports whether
// the token took the verified path (the early check verified its HMAC, so
// golang-jwt was not called).
func checkVerifiedAgrees(t testing.TB, f *tkFixture, name, token string) (verified bool) {
	t.Helper()
	st := f.tokens.state.Load()
	var want wireClaims
	_, parseErr := st.parser.ParseWithClaims(token, &want, st.keyfunc)
	r, verified := st.early.check(st, token)
	if verified && r != "" {
		t.Fatalf("%s: the early check verified a token and refused it (%s)", name, r)
	}
	e, err := f.tokens.authentic(token)
	switch {
	case (err == nil) != (parseErr == nil):
		t.Errorf("%s: the verifier says %v, golang-jwt says %v: %q", name, err, parseErr, token)
	case err == nil && !reflect.DeepEqual(e.claims, want.accessClaims()):
		t.Errorf("%s: claims %+v, golang-jwt's %+v", name, e.claims, want.accessClaims())
	case err != nil && verified && err.(*tokenError).reason != reasonFor(parseErr):
		t.Errorf("%s: refused as %q, golang-jwt's reason %q (%v)", name, err.(*tokenError).reason, reasonFor(parseErr), parseErr)
	}
	return verified
}

// signOurs signs claims (raw JSON) under the header this server writes,
// with the fixture's secret.
func signOurs(f *tkFixture, claims []byte) string {
	signing := accessHeaderSegment(AlgHS256, f.keys.signKID) + "." + base64.RawURLEncoding.EncodeToString(claims)
	m := hmac.New(sha256.New, f.secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Every HS256 attack and claim variant gets golang-jwt's verdict, claims
// and reason from the verified path; the genuine tokens and the claim
// attacks signed with the right key do take it (golang-jwt is not called
// for them), the forged ones do not.
func TestVerifiedClaimsAgreeWithParser(t *testing.T) {
	f := tkSetup(t)
	f.tokens.cacheSize = 0
	f.tokens.SetKeys(f.keys)
	genuine, _ := f.issue(t, "alice", "read", "write")
	if !checkVerifiedAgrees(t, f, "issued", genuine) {
		t.Error("an issued token did not take the verified path")
	}
	if !checkVerifiedAgrees(t, f, "forged by the fixture", f.forge(t, nil)) {
		t.Error("a token with our header and key did not take the verified path")
	}
	verified := 0
	for _, tc := range tkAttacks(t, f) {
		if checkVerifiedAgrees(t, f, tc.name, tc.token) {
			verified++
			if tc.reason != "" {
				if _, err := f.tokens.authentic(tc.token); err == nil {
					t.Errorf("%s: accepted", tc.name)
				}
			}
		}
	}
	if verified == 0 {
		t.Error("no attack took the verified path: the test checks nothing")
	}
	for _, claims := range verifiedClaimSeeds(f) {
		checkVerifiedAgrees(t, f, claims, signOurs(f, []byte(claims)))
	}
}

// verifiedClaimSeeds are claim sets golang-jwt and the verified path must
// judge alike: JSON edge cases, wrong types, times at the edges.
func verifiedClaimSeeds(f *tkFixture) []string {
	now := f.clock.Now().Unix()
	n := func(d int64) string { return itoa(now + d) }
	base := `"iss":"` + tkIssuer + `","aud":"` + tkAudience + `","sub":"alice","jti":"j"`
	return []string{
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `} `,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `}x`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `}{}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"exp":` + n(-600) + `}`,
		`{` + base + `,"exp":"` + n(600) + `","iat":` + n(0) + `}`,
		`{` + base + `,"exp":` + n(600) + `.5,"iat":` + n(0) + `.25}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(600) + `}`,
		`{` + base + `,"exp":` + n(-1000) + `,"iat":` + n(-2000) + `}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"nbf":` + n(300) + `}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"aud":["x","` + tkAudience + `"]}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"aud":[]}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"iss":null}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"scope":"a b a"}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"scope":7}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"SUB":"bob"}`,
		`{` + base + `,"exp":` + n(600) + `,"iat":` + n(0) + `,"sub":"\u0061lice"}`,
		`{` + base + `,"exp":1e400,"iat":` + n(0) + `}`,
		`{` + base + `}`,
		`null`, `[]`, `"x"`, `{}`, ``, `{"exp":`,
	}
}

func itoa(v int64) string {
	b := []byte{}
	if v == 0 {
		return "0"
	}
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

// FuzzVerifiedClaims signs arbitrary claims under this server's header
// and key: the verified path (which skips golang-jwt) always gives
// golang-jwt's verdict, claims and reason.
func FuzzVerifiedClaims(f *testing.F) {
	fx := tkSetup(f)
	fx.tokens.cacheSize = 0
	fx.tokens.SetKeys(fx.keys)
	for _, c := range verifiedClaimSeeds(fx) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, claims []byte) {
		token := signOurs(fx, claims)
		if len(token) > MaxTokenLength {
			return
		}
		if !checkVerifiedAgrees(t, fx, "fuzzed claims", token) {
			t.Fatalf("a token signed with our header and key did not take the verified path: %q", token)
		}
	})
}
