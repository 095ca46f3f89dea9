package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestNewHMACKeySetRefusesShortSecrets(t *testing.T) {
	short := make([]byte, MinHMACSecretLen-1)
	if _, err := NewHMACKeySet(short); err == nil {
		t.Error("accepted a 31-byte current secret")
	}
	if _, err := NewHMACKeySet(tkSecret('a'), short); err == nil {
		t.Error("accepted a 31-byte previous secret")
	}
	if _, err := NewHMACKeySet(nil); err == nil {
		t.Error("accepted no secret")
	}
}

func TestHMACKeySet(t *testing.T) {
	secret := tkSecret('a')
	ks, err := NewHMACKeySet(secret, tkSecret('b'), tkSecret('a'))
	if err != nil {
		t.Fatal(err)
	}
	if ks.Alg() != AlgHS256 {
		t.Errorf("alg = %s", ks.Alg())
	}
	kids := ks.KIDs()
	if len(kids) != 2 || kids[0] != ks.signKID {
		t.Fatalf("kids = %q, want the current key first and no duplicate", kids)
	}
	again, _ := NewHMACKeySet(tkSecret('a'))
	if again.signKID != ks.signKID {
		t.Error("the kid of a secret is not stable")
	}
	for _, kid := range kids {
		if strings.Contains(kid, string(secret[:8])) || strings.Contains(kid, base64.RawURLEncoding.EncodeToString(secret)[:8]) {
			t.Errorf("kid %q reveals the secret", kid)
		}
	}
	// The set keeps its own copy of the secret.
	secret[0] = 'z'
	if ks.signKey.([]byte)[0] != 'a' {
		t.Error("the key set shares the caller's secret slice")
	}
	if got := string(ks.JWKS()); got != `{"keys":[]}` {
		t.Errorf("HMAC JWKS = %s, want an empty key list", got)
	}
}

func TestGenerateKeyFilesAndRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	f := tkSetup(t)
	first, err := GenerateKey(dir, AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeyDir(dir, AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	f.tokens.SetKeys(ks)
	oldTok, _ := f.issue(t, "alice")

	second, err := GenerateKey(dir, AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatal("two keys share a kid")
	}
	if runtime.GOOS != "windows" {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o700 {
			t.Errorf("key directory mode %o, want 700", perm)
		}
		names, _ := keyFileNames(dir)
		for _, name := range names {
			info, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s mode %o, want 600", name, perm)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the 2 keys and no temporary file", len(entries))
	}

	ks, err = LoadKeyDir(dir, AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	if ks.signKID != second || !slices.Equal(ks.KIDs(), []string{second, first}) {
		t.Fatalf("signing kid %s, kids %q; want the newest (%s) first", ks.signKID, ks.KIDs(), second)
	}
	f.tokens.SetKeys(ks)
	newTok, _ := f.issue(t, "alice")
	if kidOf(t, newTok) != second {
		t.Error("the new token is not signed with the newest key")
	}
	// The old key keeps verifying its tokens until its file is removed.
	f.wantAccepted(t, oldTok)
	names, _ := keyFileNames(dir)
	if err := os.Remove(filepath.Join(dir, names[0])); err != nil {
		t.Fatal(err)
	}
	if ks, err = LoadKeyDir(dir, AlgES256); err != nil {
		t.Fatal(err)
	}
	f.tokens.SetKeys(ks)
	f.wantRejected(t, oldTok, rejectKID)
	f.wantAccepted(t, newTok)
}

func TestAsymmetricRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			if alg == AlgRS256 {
				writePEM(t, dir, "a.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testRSAKey(t, 2048)))
			} else if _, err := GenerateKey(dir, alg); err != nil {
				t.Fatal(err)
			}
			ks, err := LoadKeyDir(dir, alg)
			if err != nil {
				t.Fatal(err)
			}
			f := tkSetup(t)
			f.tokens.SetKeys(ks)
			tok, _ := f.issue(t, "alice", "read")
			got := f.wantAccepted(t, tok)
			if got.Subject != "alice" {
				t.Errorf("subject %q", got.Subject)
			}
			// The HMAC set of the fixture does not verify it.
			g := tkSetup(t)
			g.wantRejected(t, tok, rejectSignature)
		})
	}
}

func testRSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadKeyDirRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		alg   string
		setup func(t *testing.T, dir string)
	}{
		{"an empty directory", AlgEdDSA, func(*testing.T, string) {}},
		{"HS256", AlgHS256, func(t *testing.T, dir string) { GenerateKey(dir, AlgEdDSA) }},
		{"an unknown algorithm", "PS256", func(t *testing.T, dir string) { GenerateKey(dir, AlgEdDSA) }},
		{"mixed key types", AlgEdDSA, func(t *testing.T, dir string) {
			if _, err := GenerateKey(dir, AlgEdDSA); err != nil {
				t.Fatal(err)
			}
			if _, err := GenerateKey(dir, AlgES256); err != nil {
				t.Fatal(err)
			}
		}},
		{"a short RSA key", AlgRS256, func(t *testing.T, dir string) {
			writePEM(t, dir, "a.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testRSAKey(t, 1024)))
		}},
		{"a P-384 key for ES256", AlgES256, func(t *testing.T, dir string) { writePEM(t, dir, "a.pem", "EC PRIVATE KEY", p384DER) }},
		{"a public key only", AlgES256, func(t *testing.T, dir string) {
			der, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
			writePEM(t, dir, "a.pem", "PUBLIC KEY", der)
		}},
		{"a file that is not PEM", AlgEdDSA, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "a.pem"), []byte("hello"), 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			if _, err := LoadKeyDir(dir, tc.alg); err == nil {
				t.Fatal("loaded")
			}
		})
	}
	if _, err := GenerateKey(t.TempDir(), AlgHS256); err == nil {
		t.Error("GenerateKey made an HS256 key file")
	}
}

func TestLoadKeyDirIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	kid, err := GenerateKey(dir, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("keys"), 0o600)
	os.WriteFile(filepath.Join(dir, ".zzz.pem"), []byte("not a key"), 0o600)
	os.Mkdir(filepath.Join(dir, "zzz.pem"), 0o700)
	ks, err := LoadKeyDir(dir, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ks.KIDs(), []string{kid}) {
		t.Errorf("kids %q", ks.KIDs())
	}
}

func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	for _, tc := range []struct {
		alg     string
		members []string
	}{
		{AlgEdDSA, []string{"alg", "crv", "kid", "kty", "use", "x"}},
		{AlgES256, []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
		{AlgRS256, []string{"alg", "e", "kid", "kty", "n", "use"}},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			dir := t.TempDir()
			if tc.alg == AlgRS256 {
				writePEM(t, dir, "1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testRSAKey(t, 2048)))
				der, _ := x509.MarshalPKCS8PrivateKey(testRSAKey(t, 2048))
				writePEM(t, dir, "2.pem", "PRIVATE KEY", der)
			} else {
				GenerateKey(dir, tc.alg)
				GenerateKey(dir, tc.alg)
			}
			ks, err := LoadKeyDir(dir, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Keys []map[string]string }
			if err := json.Unmarshal(ks.JWKS(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Keys) != 2 {
				t.Fatalf("%d keys published, want 2", len(doc.Keys))
			}
			for i, k := range doc.Keys {
				members := slices.Sorted(func(yield func(string) bool) {
					for m := range k {
						if !yield(m) {
							return
						}
					}
				})
				if !slices.Equal(members, tc.members) {
					t.Errorf("key %d has members %q, want %q (no private parts)", i, members, tc.members)
				}
				if k["alg"] != tc.alg || k["use"] != "sig" || k["kid"] != ks.KIDs()[i] {
					t.Errorf("key %d = %v", i, k)
				}
			}
		})
	}
}

// RFC 7638 §3.1 gives the thumbprint of an example RSA key.
func TestJWKThumbprintMatchesRFC7638(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	k, err := publicJWK(AlgRS256, pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; k.Kid != want {
		t.Errorf("kid = %s, want %s", k.Kid, want)
	}
}

func TestJWKSHandlers(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateKey(dir, AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	ed, err := LoadKeyDir(dir, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	f := tkSetup(t)
	h := f.tokens.JWKSHandler()
	get := func(h http.Handler, method string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), method, "/.well-known/jwks.json", nil))
		return rec
	}
	if rec := get(h, http.MethodGet); rec.Code != 200 || rec.Body.String() != `{"keys":[]}` {
		t.Errorf("HMAC: %d %s", rec.Code, rec.Body)
	}
	f.tokens.SetKeys(ed)
	rec := get(h, http.MethodGet)
	if rec.Code != 200 || rec.Body.String() != string(ed.JWKS()) {
		t.Errorf("after SetKeys: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("content type %q", ct)
	}
	if rec := get(ed, http.MethodPost); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	if rec := get(ed, http.MethodGet); rec.Body.String() != string(ed.JWKS()) {
		t.Errorf("KeySet handler: %s", rec.Body)
	}
}
