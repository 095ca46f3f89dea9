// Package auth is the authentication and authorization runtime of this
// server: access and refresh tokens, the token and revocation endpoints,
// verification of every security scheme the OpenAPI document declares, and
// enforcement of each operation's security requirements.
//
// The per-operation requirements themselves are generated into package api
// from the spec; this package only evaluates them.
package auth

import (
	"context"
	"slices"
)

// SchemeKind says how a security scheme's credential is verified.
type SchemeKind uint8

const (
	// KindBearer is an HTTP bearer scheme: a JWT access token in the
	// Authorization header.
	KindBearer SchemeKind = iota + 1
	// KindOAuth2 is an oauth2 scheme (any flow): a JWT access token.
	KindOAuth2
	// KindOpenIDConnect is an openIdConnect scheme: a JWT access token.
	KindOpenIDConnect
	// KindBasic is HTTP Basic, checked against the user store.
	KindBasic
	// KindAPIKey is an apiKey scheme in a header, query parameter or cookie.
	KindAPIKey
	// KindCustom is any scheme gatehouse cannot verify itself (http digest,
	// mutualTLS, ...). It is verified by a user-supplied CustomVerifier and
	// denies every request until one is provided.
	KindCustom
)

// String returns the kind's name as used in logs.
func (k SchemeKind) String() string {
	switch k {
	case KindBearer:
		return "bearer"
	case KindOAuth2:
		return "oauth2"
	case KindOpenIDConnect:
		return "openIdConnect"
	case KindBasic:
		return "basic"
	case KindAPIKey:
		return "apiKey"
	case KindCustom:
		return "custom"
	}
	return "unknown"
}

// IsToken reports whether the scheme carries a JWT access token.
func (k SchemeKind) IsToken() bool {
	return k == KindBearer || k == KindOAuth2 || k == KindOpenIDConnect
}

// Scheme is one entry of the spec's components.securitySchemes.
type Scheme struct {
	Name  string     // the key in components.securitySchemes
	Kind  SchemeKind // how the credential is verified
	In    string     // apiKey only: "header", "query" or "cookie"
	Param string     // apiKey only: the header, query parameter or cookie name
}

// SchemeRequirement is one entry of a security requirement object: a scheme
// and the scopes (or, for non-oauth2 schemes in OpenAPI 3.1, roles) it needs.
type SchemeRequirement struct {
	Scheme string
	Scopes []string
}

// Requirement is one security requirement object. Every scheme in it must be
// satisfied (AND). An empty Requirement is the anonymous alternative `{}`.
type Requirement []SchemeRequirement

// Policy is an operation's effective security: a request must satisfy one of
// its requirements (OR). An empty Policy means the operation is public
// (`security: []`, or no security at all).
type Policy []Requirement

// Public reports whether the policy lets every request through without
// looking at credentials.
func (p Policy) Public() bool { return len(p) == 0 }

// AllowsAnonymous reports whether the policy has the `{}` alternative:
// requests without credentials pass, but credentials that are sent are still
// verified.
func (p Policy) AllowsAnonymous() bool {
	return slices.ContainsFunc(p, func(r Requirement) bool { return len(r) == 0 })
}

// Principal is who a request acts for, attached to the request context only
// when a whole requirement passed.
type Principal struct {
	Subject  string   // user name, API key owner, or client id
	Scopes   []string // granted scopes (roles), sorted by the guard; in any order when built by hand
	Schemes  []string // the schemes of the requirement that was satisfied
	TokenID  string   // the access token's jti, or the API key's id
	ClientID string   // the OAuth client the token was issued to, if any
}

// NewPrincipal returns the principal subject with scopes granted, sorted
// and without repeats, as the guard attaches them. For tests that call a
// handler directly:
//
//	ctx := auth.WithPrincipal(t.Context(), auth.NewPrincipal("alice", "accounts:read"))
func NewPrincipal(subject string, scopes ...string) *Principal {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	return &Principal{Subject: subject, Scopes: slices.Compact(sorted)}
}

// HasScope reports whether scope was granted. Scopes may be in any order:
// tests and handlers build principals by hand, and a handler may change
// them. A linear scan is right for any order and, for the handful of scopes
// a principal has, costs about what a binary search does (a few string
// comparisons more; see BenchmarkPrincipalHasScope).
func (p *Principal) HasScope(scope string) bool {
	return slices.Contains(p.Scopes, scope)
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated principal of a request, or false
// for public operations and anonymous requests.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
