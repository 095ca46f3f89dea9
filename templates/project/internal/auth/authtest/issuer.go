// Package authtest is a local identity provider for the tests of the
// resource-server template. It mints access tokens that a server
// configured for it accepts, so only tests import it: it is never compiled
// into the server binary.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/auth"
)

// discoveryPath is where OpenID Connect Discovery (§4) puts the issuer's
// configuration document.
const discoveryPath = "/.well-known/openid-configuration"

// Issuer is an identity provider for tests: an HTTP server on the loopback
// interface that serves OpenID Connect discovery and a JWKS with one
// Ed25519 key, and mints access tokens signed with it.
type Issuer struct {
	// URL is the issuer (and the base of its discovery document).
	URL string
	// Audience is the aud of the tokens it mints.
	Audience string
	srv      *http.Server
	key      ed25519.PrivateKey
	kid      string
}

// NewIssuer starts an Issuer. Close it when done.
func NewIssuer() (*Issuer, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authtest: issuer key: %w", err)
	}
	ti := &Issuer{Audience: "api", key: key, kid: "test-" + rand.Text()[:8]}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+discoveryPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": ti.URL, "jwks_uri": ti.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		pub := ti.key.Public().(ed25519.PublicKey)
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": ti.kid,
			"x": base64.RawURLEncoding.EncodeToString(pub),
		}}})
	})
	// Not httptest: programs other than tests (a local end-to-end driver)
	// may run it too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("authtest: issuer: %w", err)
	}
	ti.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go ti.srv.Serve(ln)
	ti.URL = "http://" + ln.Addr().String()
	return ti, nil
}

// Config returns the configuration that verifies this issuer's tokens
// (over http, which only a development configuration allows).
func (ti *Issuer) Config() auth.ExternalConfig {
	return auth.ExternalConfig{
		Issuer:     ti.URL,
		Audience:   ti.Audience,
		Algorithms: []string{"EdDSA"},
		AllowHTTP:  true,
	}
}

// Issue mints an RFC 9068 access token for subject with scopes, valid for
// ttl (15 minutes if zero).
func (ti *Issuer) Issue(subject string, scopes []string, ttl time.Duration) (string, error) {
	if ttl == 0 {
		ttl = auth.DefaultAccessTTL
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": ti.URL, "sub": subject, "aud": ti.Audience,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": rand.Text(),
	}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	return ti.Sign(claims, map[string]any{"typ": "at+jwt"})
}

// Sign signs arbitrary claims with the issuer's key, with the header
// fields of header added (kid is set unless header gives one), so tests can
// build tokens an issuer should never send.
func (ti *Issuer) Sign(claims jwt.MapClaims, header map[string]any) (string, error) {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = ti.kid
	for k, v := range header {
		tok.Header[k] = v
	}
	return tok.SignedString(ti.key)
}

// Close stops the issuer's server.
func (ti *Issuer) Close() { ti.srv.Close() }
