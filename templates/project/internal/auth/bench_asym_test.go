package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// First-seen tokens of the asymmetric algorithms against the bare
// signature check (issue 15: EdDSA and ES256 within 1.15×, RS256 within
// 1.3×):
//
//	BenchmarkVerifyFirstSeenAsym/ALG  Tokens.Verify, cache disabled
//	BenchmarkBareCryptoVerify/ALG     the standard library's verification of
//	                                  the same token's signature, from the
//	                                  token string (split, base64, hash)
//
// bench/callgrind.sh counts their instructions, which the machine's load
// does not change.

var bmAsymAlgs = []string{AlgEdDSA, AlgES256, AlgRS256}

type bmAsym struct {
	tokens *Tokens
	token  string
	pub    any
}

// bmAsymCache keeps one key per algorithm across benchmark runs (an RSA
// key takes a while to generate).
var bmAsymCache = map[string]*bmAsym{}

func bmAsymSetup(tb testing.TB, alg string) *bmAsym {
	tb.Helper()
	if f := bmAsymCache[alg]; f != nil {
		return f
	}
	dir := tb.TempDir()
	if alg == AlgRS256 {
		// A fixed key: generating one costs a random amount of work,
		// which would blur instruction counts.
		if err := os.WriteFile(filepath.Join(dir, "bench.pem"), bmRSAKey(tb), 0o600); err != nil {
			tb.Fatal(err)
		}
	} else if _, err := GenerateKey(dir, alg); err != nil {
		tb.Fatal(err)
	}
	ks, err := LoadKeyDir(dir, alg)
	if err != nil {
		tb.Fatal(err)
	}
	f := &bmAsym{pub: ks.verify[ks.signKID]}
	f.tokens = NewTokens(TokenConfig{Issuer: tkIssuer, Audience: tkAudience, Leeway: tkLeeway}, ks, NewRevocations(nil))
	f.tokens.cacheSize = 0
	f.tokens.SetKeys(ks)
	if f.token, _, err = f.tokens.Issue("alice", "cli", []string{"items:read", "items:write"}); err != nil {
		tb.Fatal(err)
	}
	bmAsymCache[alg] = f
	return f
}

// bareVerify checks token's signature with pub as the standard library
// does, with nothing else: no header, no claims.
func bareVerify(alg string, pub any, token string) bool {
	i := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	if err != nil {
		return false
	}
	signing := token[:i]
	if alg == AlgEdDSA {
		return ed25519.Verify(pub.(ed25519.PublicKey), []byte(signing), sig)
	}
	sum := sha256.Sum256([]byte(signing))
	switch alg {
	case AlgES256:
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub.(*ecdsa.PublicKey), sum[:], r, s)
	case AlgRS256:
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, sum[:], sig) == nil
	}
	return false
}

func BenchmarkVerifyFirstSeenAsym(b *testing.B) {
	for _, alg := range bmAsymAlgs {
		b.Run(alg, func(b *testing.B) {
			f := bmAsymSetup(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.tokens.Verify(ctx, f.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBareCryptoVerify(b *testing.B) {
	for _, alg := range bmAsymAlgs {
		b.Run(alg, func(b *testing.B) {
			f := bmAsymSetup(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if !bareVerify(alg, f.pub, f.token) {
					b.Fatal("signature refused")
				}
			}
		})
	}
}

// The bare verification accepts the tokens and refuses a changed one, so
// the benchmark compares like with like.
func TestBareCryptoVerify(t *testing.T) {
	for _, alg := range bmAsymAlgs {
		f := bmAsymSetup(t, alg)
		if !bareVerify(alg, f.pub, f.token) {
			t.Errorf("%s: genuine token refused", alg)
		}
		i := strings.IndexByte(f.token, '.')
		changed := f.token[:i+1] + "f" + f.token[i+2:] // the claims start with "e"
		if bareVerify(alg, f.pub, changed) {
			t.Errorf("%s: changed token accepted", alg)
		}
	}
}

// bmRSAKey returns an RSA-3072 key for the benchmarks only, as a PKCS#8
// PEM file: always the same, because generating one costs a random amount
// of work, which would blur instruction counts.
func bmRSAKey(tb testing.TB) []byte {
	p, _ := new(big.Int).SetString(bmRSAPrimes[0], 16)
	q, _ := new(big.Int).SetString(bmRSAPrimes[1], 16)
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}, Primes: []*big.Int{p, q}}
	k.D = new(big.Int).ModInverse(big.NewInt(65537), phi)
	k.Precompute()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

var bmRSAPrimes = [2]string{
	"e0453dfcd50fd7ed1ea97b15feb1e6f98476eee975020c3c88718c7fdade69824feff433b014bd626937dcac9afee19b21eb49c17efdbb02f9d32d293aeea6c14c94a3debc2710a6001d37cd9cf5d576d7d91427b299d9fb1be8f42482ee98b41304782a1fbbd7a56725edf36b09c34e19235bfaa7dc9b2ebbdebeae0039cca49326e4875422e9ccd54b3e6d5078bae0324c173e4e22db4b821df95811a9f1313a2c259ae695fc6581112de3f906db8e4f0abfad5d2edf437fc90d7a0c7d3dab",
	"cce92b674bc134e3de6db7b83e1ab83fe687ed1becafd9102ae1b898f340fe982321dc271b12f1edff5662119c3684097c902f55e6b0cd69f4c1281af0f160f54600f6c6739d6b869b0f568cbf29e3ef13fc32acc00c415e02a05df4bf5167fafee650786c7b3dbb411314efffed1a6019a9fe70868fc11efaa47d9e4775ce01bf6273535b5f612ba8c399bacc35a70fec1e54872cdb1a800f34340a61525331ce784631b39f02849fbe1054f12f05be09b07a00c359b32c3cbbc4e7b6c76257",
}
