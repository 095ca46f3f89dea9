package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signing algorithms for access tokens. A KeySet uses exactly one of them.
const (
	AlgHS256 = "HS256" // HMAC-SHA256 with a shared secret (the default)
	AlgEdDSA = "EdDSA" // Ed25519
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
	AlgRS256 = "RS256" // RSA PKCS#1 v1.5 with SHA-256, keys of 2048 bits or more
)

const (
	// MinHMACSecretLen is the shortest HS256 secret accepted (RFC 8725 §3.5:
	// the key must be at least as long as the hash output).
	MinHMACSecretLen = 32
	// minRSABits is the smallest RSA modulus accepted for RS256.
	minRSABits = 2048
	// maxKeyFileSize bounds what LoadKeyDir reads from one file.
	maxKeyFileSize = 64 << 10
	// keyFileTimeLayout names key files so that lexical order is creation
	// order: fixed width, UTC, nanoseconds.
	keyFileTimeLayout = "20060102T150405.000000000Z"
)

// KeySet is the set of keys access tokens are signed and verified with: one
// signing key and any number of verification keys (the signing key's public
// half plus older keys kept for rotation), each identified by its key id
// (kid). All keys of a set use the same algorithm, so a token can never be
// verified with a key of another type (algorithm confusion).
//
// A KeySet is immutable and safe for concurrent use. To rotate, build a new
// set and hand it to Tokens.SetKeys.
type KeySet struct {
	alg     string
	method  jwt.SigningMethod
	signKID string
	signKey any            // []byte, ed25519.PrivateKey, *ecdsa.PrivateKey or *rsa.PrivateKey
	verify  map[string]any // kid → []byte, ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey
	kids    []string       // newest first
	jwks    []byte         // the published JWKS document
	// warnings are worth logging at start-up: key files readable by their
	// group.
	warnings []string
}

// NewHMACKeySet returns an HS256 key set signing with current and still
// verifying tokens signed with any of previous (keep them for one access
// token lifetime after rotating the secret). Every secret must be at least
// MinHMACSecretLen bytes; shorter secrets are refused. The kid of each key
// is derived from a digest of the secret, never the secret itself.
func NewHMACKeySet(current []byte, previous ...[]byte) (*KeySet, error) {
	ks := &KeySet{alg: AlgHS256, method: jwt.SigningMethodHS256, verify: map[string]any{}}
	for i, secret := range append([][]byte{current}, previous...) {
		if len(secret) < MinHMACSecretLen {
			which := "current secret"
			if i > 0 {
				which = fmt.Sprintf("previous secret #%d", i)
			}
			return nil, fmt.Errorf("auth: HS256 %s is %d bytes; at least %d random bytes are required", which, len(secret), MinHMACSecretLen)
		}
		key := slices.Clone(secret) // the caller's slice may be reused or wiped
		kid := hmacKID(key)
		if i == 0 {
			ks.signKID, ks.signKey = kid, key
		}
		if _, dup := ks.verify[kid]; !dup {
			ks.verify[kid] = key
			ks.kids = append(ks.kids, kid)
		}
	}
	// Symmetric keys are secrets: the JWKS document is empty.
	ks.jwks = []byte(`{"keys":[]}`)
	return ks, nil
}

// hmacKID derives a key id from an HMAC secret. The MAC under a fixed label
// reveals nothing usable about the secret and is stable across restarts.
func hmacKID(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("gatehouse access token key id"))
	return "hs-" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// LoadKeyDir loads the asymmetric keys of algorithm alg (EdDSA, ES256 or
// RS256) from the PEM files (*.pem, PKCS#8, or SEC 1 / PKCS#1 for ECDSA and
// RSA) in dir. Files are ordered by name: the last one (the newest, as
// named by GenerateKey) is the signing key; all of them verify, so an old
// key keeps verifying the tokens it signed until its file is removed.
// Hidden files and other names are ignored. Every key must be of the type
// alg names; a directory mixing key types is refused, and so is a key file
// other users may access (see checkKeyFileMode).
func LoadKeyDir(dir, alg string) (*KeySet, error) {
	method, err := asymmetricMethod(alg)
	if err != nil {
		return nil, err
	}
	names, err := keyFileNames(dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("auth: no *.pem key files in %s; create one with the `keys rotate` command", dir)
	}
	ks := &KeySet{alg: alg, method: method, verify: map[string]any{}}
	var docs []jwk
	// Newest first: the signing key, then older verification keys.
	for _, name := range slices.Backward(names) {
		path := filepath.Join(dir, name)
		priv, warning, err := readPrivateKey(path)
		if err != nil {
			return nil, err
		}
		if warning != "" {
			ks.warnings = append(ks.warnings, "JWT_KEY_DIR: "+warning)
		}
		signer, pub, err := checkKeyType(alg, priv)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", path, err)
		}
		doc, err := publicJWK(alg, pub)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", path, err)
		}
		if ks.signKey == nil {
			ks.signKID, ks.signKey = doc.Kid, signer
		}
		if _, dup := ks.verify[doc.Kid]; dup {
			continue // the same key saved twice
		}
		ks.verify[doc.Kid] = pub
		ks.kids = append(ks.kids, doc.Kid)
		docs = append(docs, doc)
	}
	ks.jwks, err = json.Marshal(jwksDocument{Keys: docs})
	if err != nil {
		return nil, fmt.Errorf("auth: encoding JWKS: %w", err)
	}
	return ks, nil
}

// GenerateKey creates a new private key for alg (EdDSA, ES256 or RS256) in
// dir and returns its kid. The directory is created with mode 0700 if
// needed and the key file is written with mode 0600 under a name that sorts
// after every existing key, so the next LoadKeyDir signs with it while the
// older keys keep verifying. It is what the `keys rotate` command runs.
func GenerateKey(dir, alg string) (kid string, err error) {
	if _, err := asymmetricMethod(alg); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("auth: creating key directory: %w", err)
	}
	names, err := keyFileNames(dir)
	if err != nil {
		return "", err
	}
	name := time.Now().UTC().Format(keyFileTimeLayout) + ".pem"
	if len(names) > 0 && name <= names[len(names)-1] {
		// The new key would not become the signing key.
		return "", fmt.Errorf("auth: key file %s sorts after %s, the name of a key made now; rename key files so that the newest sorts last (or fix the clock)", names[len(names)-1], name)
	}

	var priv crypto.Signer
	switch alg {
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	}
	if err != nil {
		return "", fmt.Errorf("auth: generating %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("auth: encoding %s key: %w", alg, err)
	}
	doc, err := publicJWK(alg, priv.Public())
	if err != nil {
		return "", err
	}
	if err := writeKeyFile(dir, name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return "", err
	}
	return doc.Kid, nil
}

// writeKeyFile writes data to dir/name without ever exposing a partial file
// under a name LoadKeyDir reads, and without replacing an existing file.
func writeKeyFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".key-*.tmp")
	if err != nil {
		return fmt.Errorf("auth: writing key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: writing key file: %w", err)
	}
	// A hard link fails if the name exists, unlike a rename.
	if err := os.Link(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("auth: writing key file: %w", err)
	}
	return nil
}

// Alg returns the set's signing algorithm (HS256, EdDSA, ES256 or RS256).
func (ks *KeySet) Alg() string { return ks.alg }

// KIDs returns the key ids of the verification keys, newest (signing) first.
func (ks *KeySet) KIDs() []string { return slices.Clone(ks.kids) }

// JWKS returns the JSON Web Key Set (RFC 7517) publishing the public
// verification keys, each with kid, alg and use "sig". An HS256 set has no
// public keys and publishes an empty key list: the secret is never exposed.
func (ks *KeySet) JWKS() []byte { return slices.Clone(ks.jwks) }

// ServeHTTP serves the set's JWKS document, for /.well-known/jwks.json.
// Tokens.JWKSHandler serves whatever set is current after rotations.
func (ks *KeySet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveJWKS(w, r, ks.jwks)
}

func serveJWKS(w http.ResponseWriter, r *http.Request, doc []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("X-Content-Type-Options", "nosniff")
	// Short enough that verifiers pick up a rotated key soon.
	h.Set("Cache-Control", "public, max-age=300")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(doc)
}

func asymmetricMethod(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case AlgEdDSA:
		return jwt.SigningMethodEdDSA, nil
	case AlgES256:
		return jwt.SigningMethodES256, nil
	case AlgRS256:
		return jwt.SigningMethodRS256, nil
	case AlgHS256:
		return nil, errors.New("auth: HS256 uses a shared secret (JWT_SECRET), not key files")
	}
	return nil, fmt.Errorf("auth: unsupported signing algorithm %q (use HS256, EdDSA, ES256 or RS256)", alg)
}

// keyFileNames lists the key files of dir in lexical (creation) order.
func keyFileNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("auth: reading key directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".pem") {
			continue
		}
		// Stat follows symbolic links (Kubernetes mounts secrets that way).
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("auth: reading key directory: %w", err)
		}
		if info.Mode().IsRegular() {
			names = append(names, name)
		}
	}
	slices.Sort(names) // ReadDir sorts already; do not depend on it
	return names, nil
}

// readPrivateKey reads the private key in the PEM file at path, after
// checking that no other user may access the file.
func readPrivateKey(path string) (key any, warning string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("auth: reading key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("auth: reading key: %w", err)
	}
	if warning, err = checkKeyFileMode(path, info); err != nil {
		return nil, "", fmt.Errorf("auth: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("auth: reading key: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, "", fmt.Errorf("auth: %s: larger than %d bytes, not a key file", path, maxKeyFileSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", fmt.Errorf("auth: %s: no PEM block", path)
	}
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("auth: %s: PEM block %q is not an unencrypted private key", path, block.Type)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: %s: %w", path, err)
	}
	return key, warning, nil
}

// checkKeyType returns the signing key and its typed public key if priv is
// a key for alg.
func checkKeyType(alg string, priv any) (signer, pub any, err error) {
	switch alg {
	case AlgEdDSA:
		if k, ok := priv.(ed25519.PrivateKey); ok {
			return k, k.Public().(ed25519.PublicKey), nil
		}
	case AlgES256:
		if k, ok := priv.(*ecdsa.PrivateKey); ok {
			if k.Curve != elliptic.P256() {
				return nil, nil, fmt.Errorf("ES256 needs a P-256 key, not %s", k.Curve.Params().Name)
			}
			return k, &k.PublicKey, nil
		}
	case AlgRS256:
		if k, ok := priv.(*rsa.PrivateKey); ok {
			if k.N.BitLen() < minRSABits {
				return nil, nil, fmt.Errorf("RS256 needs an RSA key of at least %d bits, not %d", minRSABits, k.N.BitLen())
			}
			return k, &k.PublicKey, nil
		}
	}
	return nil, nil, fmt.Errorf("a %T is not a key for %s; one key directory holds keys of one algorithm", priv, alg)
}

// jwk is one public key of a JWKS document (RFC 7517, RFC 7518 §6, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

type jwksDocument struct {
	Keys []jwk `json:"keys"`
}

// publicJWK describes a public key as a JWK whose kid is its RFC 7638
// thumbprint, so a key's id follows from the key alone.
func publicJWK(alg string, pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	k := jwk{Alg: alg, Use: "sig"}
	var thumb string // RFC 7638: required members, lexical order, no spaces
	switch p := pub.(type) {
	case ed25519.PublicKey:
		k.Kty, k.Crv, k.X = "OKP", "Ed25519", b64(p)
		thumb = `{"crv":"Ed25519","kty":"OKP","x":"` + k.X + `"}`
	case *ecdsa.PublicKey:
		point, err := p.Bytes() // 0x04 || X || Y, fixed width
		if err != nil || len(point) != 65 {
			return jwk{}, errors.New("invalid P-256 public key")
		}
		k.Kty, k.Crv, k.X, k.Y = "EC", "P-256", b64(point[1:33]), b64(point[33:])
		thumb = `{"crv":"P-256","kty":"EC","x":"` + k.X + `","y":"` + k.Y + `"}`
	case *rsa.PublicKey:
		k.Kty, k.N, k.E = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
		thumb = `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
	default:
		return jwk{}, fmt.Errorf("unsupported public key type %T", pub)
	}
	sum := sha256.Sum256([]byte(thumb))
	k.Kid = b64(sum[:])
	return k, nil
}
