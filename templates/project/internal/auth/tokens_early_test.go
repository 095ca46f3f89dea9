package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// parserAccepts is golang-jwt's verdict alone, with the options and key
// function the verifier gives it.
func parserAccepts(st *tokenState, token string) bool {
	var wc wireClaims
	_, err := st.parser.ParseWithClaims(token, &wc, st.keyfunc)
	return err == nil
}

// checkEarlyAgrees fails when the early check refuses a token golang-jwt
// accepts, or when the verifier's verdict differs from golang-jwt's.
func checkEarlyAgrees(t testing.TB, f *tkFixture, name, token string) {
	t.Helper()
	st := f.tokens.state.Load()
	accepts := parserAccepts(st, token)
	if r := st.early.refuse(st, token); r != "" && accepts {
		t.Errorf("%s: the early check refuses (%s) a token golang-jwt accepts: %q", name, r, token)
	}
	if _, err := f.tokens.authentic(token); (err == nil) != accepts {
		t.Errorf("%s: the verifier says %v, golang-jwt accepts %v: %q", name, err, accepts, token)
	}
}

// earlySet is a key set and the private key that signs its tokens.
type earlySet struct {
	alg  string
	priv crypto.Signer
	keys *KeySet
}

// earlyKeySet loads priv as the only key of an alg key set.
func earlyKeySet(t testing.TB, alg string, priv crypto.Signer) earlySet {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writePEM(t, dir, "k.pem", "PRIVATE KEY", der)
	ks, err := LoadKeyDir(dir, alg)
	if err != nil {
		t.Fatal(err)
	}
	return earlySet{alg: alg, priv: priv, keys: ks}
}

func earlyAsymmetricSets(t testing.TB) []earlySet {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return []earlySet{
		earlyKeySet(t, AlgEdDSA, ed25519.NewKeyFromSeed([]byte(strings.Repeat("e", ed25519.SeedSize)))),
		earlyKeySet(t, AlgES256, p256),
		earlyKeySet(t, AlgRS256, testRSAKey(t, 2048)),
	}
}

// asymmetricAttacks are tokens aimed at a verifier holding set: the
// genuine one first, then forgeries and confusions.
func asymmetricAttacks(t testing.TB, f *tkFixture, set earlySet) []tkAttack {
	good, _ := f.issue(t, "alice", "read")
	cut := strings.LastIndexByte(good, '.')
	method := jwt.GetSigningMethod(set.alg)
	kid := set.keys.signKID
	h := func(mutate func(map[string]any)) map[string]any {
		m := map[string]any{"alg": set.alg, "typ": "at+jwt", "kid": kid}
		if mutate != nil {
			mutate(m)
		}
		return m
	}
	other := earlyAsymmetricOther(t, set.alg)
	pubDER, err := x509.MarshalPKIXPublicKey(set.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return []tkAttack{
		{"genuine", good, ""},
		{"genuine header, other claims", tkSign(t, h(nil), f.claims(), method, set.priv), ""},
		{"altered signature", good[:cut+1] + flipChar(good[cut+1:], 5), rejectSignature},
		{"short signature", good[:cut+1] + strings.Repeat("A", 40), rejectSignature},
		{"long signature", good + "AAAA", rejectSignature},
		{"stripped signature", good[:cut+1], rejectSignature},
		{"signature not base64", good[:cut+1] + "!!!!", rejectMalformed},
		{"no signature part", good[:cut], rejectMalformed},
		{"extra part", good + ".e30", rejectMalformed},
		{"other key, our kid", tkSign(t, h(nil), f.claims(), method, other), rejectSignature},
		{"alg none", tkSign(t, h(func(m map[string]any) { m["alg"] = "none" }), f.claims(), jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), rejectSignature},
		{"HS256 keyed with the public key", tkSign(t, h(func(m map[string]any) { m["alg"] = "HS256" }), f.claims(), jwt.SigningMethodHS256, pubDER), rejectSignature},
		{"unknown alg", tkSign(t, h(func(m map[string]any) { m["alg"] = "XX999" }), f.claims(), jwt.SigningMethodHS256, pubDER), rejectUnverifiable},
		{"kid unknown", tkSign(t, h(func(m map[string]any) { m["kid"] = "nope" }), f.claims(), method, set.priv), rejectKID},
		{"kid path injection", tkSign(t, h(func(m map[string]any) { m["kid"] = "../../../../dev/null" }), f.claims(), method, set.priv), rejectKID},
		{"kid SQL injection", tkSign(t, h(func(m map[string]any) { m["kid"] = "x' OR '1'='1" }), f.claims(), method, set.priv), rejectKID},
		{"kid not a string", tkSign(t, h(func(m map[string]any) { m["kid"] = 7 }), f.claims(), method, set.priv), rejectKID},
		{"typ JWT", tkSign(t, h(func(m map[string]any) { m["typ"] = "JWT" }), f.claims(), method, set.priv), rejectType},
		{"jku", tkSign(t, h(func(m map[string]any) { m["jku"] = "https://evil.example/jwks" }), f.claims(), method, set.priv), rejectKeyHeader},
		{"crit", tkSign(t, h(func(m map[string]any) { m["crit"] = []string{"exp"} }), f.claims(), method, set.priv), rejectCrit},
		{"header not base64", "!!" + good[2:], rejectMalformed},
		{"header not JSON", tkSign(t, "not json", f.claims(), method, set.priv), rejectMalformed},
		{"claims not JSON", tkSign(t, h(nil), "not json", method, set.priv), rejectMalformed},
		{"expired", tkSign(t, h(nil), func() map[string]any { c := f.claims(); c["exp"] = c["iat"].(int64) - 60; return c }(), method, set.priv), rejectExpired},
	}
}

// earlyAsymmetricOther is a key of alg that is not in any set.
func earlyAsymmetricOther(t testing.TB, alg string) crypto.Signer {
	switch alg {
	case AlgEdDSA:
		return ed25519.NewKeyFromSeed([]byte(strings.Repeat("o", ed25519.SeedSize)))
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return testRSAKey(t, 2048)
}

// The early check and golang-jwt agree on every attack, for HS256 (one key
// and two) and for each asymmetric algorithm; the forgeries are refused
// early, before any JSON is decoded, and genuine tokens are not.
func TestEarlyCheckAgreesWithParser(t *testing.T) {
	t.Run(AlgHS256, func(t *testing.T) {
		f := tkSetup(t)
		for _, tc := range tkAttacks(t, f) {
			checkEarlyAgrees(t, f, tc.name, tc.token)
		}
		good := f.forge(t, nil)
		checkEarlyAgrees(t, f, "genuine", good)
		st := f.tokens.state.Load()
		if r := st.early.refuse(st, good); r != "" {
			t.Errorf("the early check refuses a genuine token: %s", r)
		}
		for _, forged := range []string{
			tkSign(t, f.header(), f.claims(), jwt.SigningMethodHS256, tkSecret('x')),
			good[:len(good)-3] + flipChar(good[len(good)-3:], 0),
			tkSign(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": f.keys.signKID}, f.claims(), jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		} {
			if st.early.refuse(st, forged) == "" {
				t.Errorf("the early check lets a forged token through to the parser: %q", forged)
			}
		}

		// Rotation: a token of the previous secret still passes.
		old := good
		rotated, err := NewHMACKeySet(tkSecret('n'), f.secret)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens.SetKeys(rotated)
		newTok, _ := f.issue(t, "alice")
		for _, tc := range append(tkAttacks(t, f), tkAttack{"previous key", old, ""}, tkAttack{"current key", newTok, ""}) {
			checkEarlyAgrees(t, f, tc.name, tc.token)
		}
		if _, err := f.tokens.authentic(old); err != nil {
			t.Errorf("a token of the previous secret: %v", err)
		}
	})
	for _, set := range earlyAsymmetricSets(t) {
		t.Run(set.alg, func(t *testing.T) {
			f := tkSetup(t)
			f.tokens.SetKeys(set.keys)
			st := f.tokens.state.Load()
			for _, tc := range asymmetricAttacks(t, f, set) {
				checkEarlyAgrees(t, f, tc.name, tc.token)
				r := st.early.refuse(st, tc.token)
				switch {
				case tc.reason == "" && r != "":
					t.Errorf("%s: refused early (%s)", tc.name, r)
				case tc.reason == "" && !parserAccepts(st, tc.token):
					t.Errorf("%s: not a genuine token", tc.name)
				case tc.reason != "" && parserAccepts(st, tc.token):
					t.Errorf("%s: golang-jwt accepts it", tc.name)
				}
			}
			// Checked early, without decoding claims: wrong signature
			// lengths and headers the key function refuses.
			for _, tc := range asymmetricAttacks(t, f, set) {
				switch tc.name {
				case "short signature", "long signature", "stripped signature", "kid unknown", "kid path injection", "typ JWT", "jku", "alg none", "HS256 keyed with the public key":
					if r := st.early.refuse(st, tc.token); r != tc.reason {
						t.Errorf("%s: early check says %q, want %q", tc.name, r, tc.reason)
					}
				}
			}
		})
	}
}

// FuzzEarlyCheck mutates genuine tokens and attacks: the early check never
// refuses what golang-jwt accepts, and the verifier agrees with golang-jwt.
func FuzzEarlyCheck(f *testing.F) {
	hs := tkSetup(f)
	ed := tkSetup(f)
	edSet := earlyKeySet(f, AlgEdDSA, ed25519.NewKeyFromSeed([]byte(strings.Repeat("e", ed25519.SeedSize))))
	ed.tokens.SetKeys(edSet.keys)
	hs.tokens.cacheSize, ed.tokens.cacheSize = 0, 0
	hs.tokens.SetKeys(hs.keys)
	ed.tokens.SetKeys(edSet.keys)

	f.Add(hs.forge(f, nil))
	for _, tc := range tkAttacks(f, hs) {
		f.Add(tc.token)
	}
	for _, tc := range asymmetricAttacks(f, ed, edSet) {
		f.Add(tc.token)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if len(token) > MaxTokenLength {
			return // refused on length before either looks at it
		}
		checkEarlyAgrees(t, hs, "HS256", token)
		checkEarlyAgrees(t, ed, "EdDSA", token)
	})
}
