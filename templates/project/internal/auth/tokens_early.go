package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// Early rejection of forged access tokens. golang-jwt decodes a token's
// header and claims before it checks the signature, so a forged token
// costs as much as a genuine one seen for the first time, and forged
// tokens are never cached. earlyCheck refuses, before any JSON decoding,
// tokens golang-jwt is certain to refuse:
//
//   - HS256: the HMAC over the raw signing input does not match, in
//     constant time, under the key the header names or, for a header this
//     server does not write, under any key;
//   - EdDSA, ES256, RS256: the signature has the wrong length for the
//     key, or the header (decoded as golang-jwt decodes it, but without
//     the claims) names an algorithm, kid or parameter the key function
//     refuses.
//
// It only ever refuses: a token it lets through is verified by golang-jwt
// with every option, signature included. So the two together accept
// exactly what golang-jwt accepts (TestEarlyCheckAgreesWithParser,
// FuzzEarlyCheck).
type earlyCheck struct {
	hmac bool
	// byHeader maps the header segment this server writes for a kid to
	// that kid's key, so a token of ours needs no header decoding.
	byHeader map[string]*earlyKey
	byKID    map[string]*earlyKey
	keys     []*earlyKey
	maxSig   int // the longest signature of any key, in bytes
}

type earlyKey struct {
	sigLen int        // signature length in bytes; -1 if unknown
	macs   *sync.Pool // HS256: *macState keyed with the secret
}

// macState is an HMAC ready for reuse, with room for the signing input
// and the sum (through the hash.Hash interface, both would otherwise be
// allocated on every call).
type macState struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// maxEarlySignature bounds the signature earlyCheck decodes on the stack:
// an RSA-8192 signature is 1024 bytes.
const maxEarlySignature = 1024

func newEarlyCheck(ks *KeySet) *earlyCheck {
	e := &earlyCheck{
		hmac:     ks.alg == AlgHS256,
		byHeader: make(map[string]*earlyKey, len(ks.verify)),
		byKID:    make(map[string]*earlyKey, len(ks.verify)),
	}
	for kid, key := range ks.verify {
		k := &earlyKey{sigLen: signatureLength(key)}
		if secret, ok := key.([]byte); ok {
			k.macs = &sync.Pool{New: func() any { return &macState{mac: hmac.New(sha256.New, secret)} }}
		}
		e.byHeader[accessHeaderSegment(ks.alg, kid)] = k
		e.byKID[kid] = k
		e.keys = append(e.keys, k)
		e.maxSig = max(e.maxSig, k.sigLen)
		if k.sigLen < 0 {
			e.maxSig = maxEarlySignature
		}
	}
	return e
}

// signatureLength is the length of every signature key verifies, or -1
// for a key of unknown kind (never refused on length).
func signatureLength(key any) int {
	switch k := key.(type) {
	case []byte:
		return sha256.Size
	case ed25519.PublicKey:
		return ed25519.SignatureSize
	case *ecdsa.PublicKey:
		return 2 * ((k.Curve.Params().BitSize + 7) / 8) // JWS: r || s (RFC 7518 §3.4)
	case *rsa.PublicKey:
		return k.Size()
	}
	return -1
}

// refuse returns why token is certainly refused, or "" when golang-jwt
// must decide. st is the token state e belongs to.
func (e *earlyCheck) refuse(st *tokenState, token string) rejection {
	r, _ := e.check(st, token)
	return r
}

// check is refuse, and reports whether the token is an HS256 token whose
// header is one this server writes and whose HMAC matched under the key
// that header names: then only its claims are left to check
// (tokenState.verifiedClaims).
func (e *earlyCheck) check(st *tokenState, token string) (_ rejection, verified bool) {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return rejectMalformed, false
	}
	claims, sigSeg, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sigSeg, '.') >= 0 {
		return rejectMalformed, false
	}
	enc := base64.RawURLEncoding.Strict()
	if enc.DecodedLen(len(sigSeg)) > min(e.maxSig, maxEarlySignature) {
		// Too long for any key: no key verifies it. (golang-jwt would
		// also refuse it if it is not base64 at all, as malformed.)
		return rejectSignature, false
	}
	// Both on the stack: the signature fits (checked above).
	var src [(maxEarlySignature*8 + 5) / 6]byte
	var buf [maxEarlySignature]byte
	n, err := enc.Decode(buf[:], src[:copy(src[:], sigSeg)])
	if err != nil {
		return rejectMalformed, false
	}
	sig := buf[:n]
	signing := token[:len(header)+1+len(claims)]

	key := e.byHeader[header]
	if e.hmac {
		if key != nil {
			r := key.checkMAC(signing, sig)
			return r, r == ""
		}
		// A header this server does not write: refuse unless some key
		// signed it (then golang-jwt refuses it on its header, or not).
		for _, k := range e.keys {
			if k.checkMAC(signing, sig) == "" {
				return "", false
			}
		}
		return rejectSignature, false
	}
	if key == nil {
		kid, r := st.headerKID(header)
		if r != "" {
			return r, false
		}
		key = e.byKID[kid]
	}
	if key.sigLen >= 0 && len(sig) != key.sigLen {
		return rejectSignature, false
	}
	return "", false
}

// checkMAC compares the HMAC-SHA256 of signing with sig in constant time.
func (k *earlyKey) checkMAC(signing string, sig []byte) rejection {
	if len(sig) != sha256.Size {
		return rejectSignature
	}
	m := k.macs.Get().(*macState)
	m.mac.Reset()
	m.buf = append(m.buf[:0], signing...)
	_, _ = m.mac.Write(m.buf)
	m.sum = m.mac.Sum(m.sum[:0])
	ok := hmac.Equal(m.sum, sig)
	if cap(m.buf) <= MaxTokenLength {
		k.macs.Put(m)
	}
	if !ok {
		return rejectSignature
	}
	return ""
}

// headerKID decodes a header segment the way golang-jwt does and applies
// the checks the parser and the key function make of it: a known
// algorithm, the one allowed, and the header rules of tokenState.key. It
// returns the kid of a header that passes them.
func (st *tokenState) headerKID(segment string) (string, rejection) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(segment)
	if err != nil {
		return "", rejectMalformed
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		return "", rejectMalformed
	}
	alg, _ := h["alg"].(string)
	method := jwt.GetSigningMethod(alg)
	switch {
	case method == nil:
		return "", rejectUnverifiable
	case alg != st.keys.alg:
		return "", rejectSignature
	}
	if _, err := st.key(&jwt.Token{Header: h, Method: method}); err != nil {
		return "", reasonFor(err)
	}
	kid, _ := h["kid"].(string)
	return kid, ""
}

// accessHeaderSegment is the encoded JOSE header of the access tokens this
// server signs with kid.
func accessHeaderSegment(alg, kid string) string {
	b, _ := json.Marshal(accessHeader{alg, kid, accessTokenType}) // cannot fail: three strings
	return base64.RawURLEncoding.EncodeToString(b)
}

type accessHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}
