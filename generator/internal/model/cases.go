package model

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// This file derives, at generation time, what the server must answer to a
// request with given credentials, from the spec's semantics alone
// (DESIGN §5). The generated tests write these expectations out, so they fail
// when the runtime's enforcement drifts from the spec.

// Cred is a credential a test request carries for one scheme.
type Cred struct {
	Scheme  string
	Scopes  []string // granted
	Invalid bool     // a credential the server must refuse
}

// Outcome is what the server must answer.
type Outcome struct {
	Status int // 200 means the handler is reached
	// Schemes of the satisfied requirement (the principal's), when the
	// handler is reached with credentials; empty for public and anonymous.
	Schemes []string
	// Challenges are the auth-schemes of the WWW-Authenticate challenges
	// of a 401 ("Basic", "Bearer", "APIKey", or a custom scheme's name).
	Challenges []string
	// Missing are scopes a 403 must name, in a Bearer insufficient_scope
	// challenge when the requirement has a token scheme (Bearer).
	Missing []string
	Bearer  bool
}

// Reached is the Outcome status for a request that reaches the handler.
const Reached = 200

// source identifies where a credential travels; schemes sharing a source
// share one credential (every token scheme reads the bearer token).
func (api *API) source(scheme string) string {
	s := api.Scheme(scheme)
	switch s.Kind {
	case KindBearer, KindOAuth2, KindOpenIDConnect:
		return "authorization:bearer"
	case KindBasic:
		return "authorization:basic"
	case KindAPIKey:
		return "apikey:" + s.In + ":" + strings.ToLower(s.Param)
	}
	return "custom:" + s.Name
}

// Scheme returns the declared scheme named name.
func (api *API) Scheme(name string) Scheme {
	i, _ := slices.BinarySearchFunc(api.Schemes, name, func(s Scheme, n string) int { return strings.Compare(s.Name, n) })
	if i < len(api.Schemes) && api.Schemes[i].Name == name {
		return api.Schemes[i]
	}
	return Scheme{Name: name, Kind: KindCustom}
}

// challenge is the auth-scheme a 401 names for a scheme.
func (api *API) challenge(scheme string) string {
	switch s := api.Scheme(scheme); s.Kind {
	case KindBearer, KindOAuth2, KindOpenIDConnect:
		return "Bearer"
	case KindBasic:
		return "Basic"
	case KindAPIKey:
		return "APIKey"
	default:
		return s.Name
	}
}

// Satisfiable reports whether one request can carry every credential of r
// (see AuthorizationConflict).
func (api *API) Satisfiable(r Requirement) bool {
	return api.AuthorizationConflict(r) == nil
}

// AuthorizationConflict returns the schemes of r that need the
// Authorization header for different credentials (a bearer token, a Basic
// login, an API key in that header): one request has one such header, so
// no request satisfies r. It is nil when r can be satisfied.
func (api *API) AuthorizationConflict(r Requirement) []string {
	kinds := map[string]bool{}
	var schemes []string
	for _, u := range r {
		switch src := api.source(u.Scheme); src {
		case "authorization:bearer", "authorization:basic", "apikey:header:authorization":
			kinds[src] = true
			schemes = append(schemes, u.Scheme)
		}
	}
	if len(kinds) <= 1 {
		return nil
	}
	return schemes
}

// Expect returns what the server must answer to a request carrying creds
// (at most one per source) for an operation with security sec.
func (api *API) Expect(sec Security, creds []Cred) Outcome {
	if sec.Public() {
		return Outcome{Status: Reached}
	}
	// Only credentials of the policy's schemes are looked at.
	relevant := map[string]bool{}
	for _, r := range sec.Alternatives {
		for _, u := range r {
			relevant[api.source(u.Scheme)] = true
		}
	}
	granted := map[string][]string{} // source → scopes
	for _, c := range creds {
		src := api.source(c.Scheme)
		if !relevant[src] {
			continue
		}
		if c.Invalid {
			return Outcome{Status: 401, Challenges: api.challenges(sec)}
		}
		granted[src] = c.Scopes
	}
	var forbidden *Outcome
	for _, r := range sec.Alternatives {
		if len(r) == 0 {
			continue
		}
		var missing []string
		authenticated := true
		for _, u := range r {
			scopes, ok := granted[api.source(u.Scheme)]
			if !ok {
				authenticated = false
				break
			}
			for _, s := range u.Scopes {
				if !slices.Contains(scopes, s) {
					missing = append(missing, s)
				}
			}
		}
		if !authenticated {
			continue
		}
		if len(missing) == 0 {
			schemes := make([]string, len(r))
			for i, u := range r {
				schemes[i] = u.Scheme
			}
			return Outcome{Status: Reached, Schemes: schemes}
		}
		if forbidden == nil || len(missing) < len(forbidden.Missing) {
			sort.Strings(missing)
			bearer := slices.ContainsFunc(r, func(u SchemeUse) bool { return api.source(u.Scheme) == "authorization:bearer" })
			forbidden = &Outcome{Status: 403, Missing: slices.Compact(missing), Bearer: bearer}
		}
	}
	if sec.AllowsAnonymous() {
		return Outcome{Status: Reached}
	}
	if forbidden != nil {
		return *forbidden
	}
	return Outcome{Status: 401, Challenges: api.challenges(sec)}
}

// challenges lists the auth-scheme of one challenge per credential source
// the policy accepts (three API keys in different places are three
// challenges; two token schemes share one Bearer challenge).
func (api *API) challenges(sec Security) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range sec.Alternatives {
		for _, u := range r {
			if src := api.source(u.Scheme); !seen[src] {
				seen[src] = true
				out = append(out, api.challenge(u.Scheme))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Case is one generated security test of an operation.
type Case struct {
	Name  string
	Creds []Cred
	Want  Outcome
}

// Cases lists the security tests of op: for every alternative the request
// that satisfies exactly it, the same with each AND half missing and with
// each scope missing; no credentials; and invalid credentials.
func (api *API) Cases(op Operation) []Case {
	sec := op.Security
	var cases []Case
	add := func(name string, creds []Cred) {
		cases = append(cases, Case{Name: name, Creds: creds, Want: api.Expect(sec, creds)})
	}
	if sec.Public() {
		add("without credentials", nil)
		if len(api.Schemes) > 0 {
			add("with an invalid "+api.Schemes[0].Name+" credential, which is ignored", []Cred{{Scheme: api.Schemes[0].Name, Invalid: true}})
		}
		return cases
	}
	add("without credentials", nil)
	for _, r := range sec.Alternatives {
		if len(r) == 0 || !api.Satisfiable(r) {
			continue
		}
		creds := api.credsFor(r)
		name := r.short()
		add("with "+name, creds)
		// Each AND half missing.
		if len(creds) > 1 {
			for i := range creds {
				rest := slices.Delete(slices.Clone(creds), i, i+1)
				add(fmt.Sprintf("with %s but without %s", name, creds[i].Scheme), rest)
			}
		}
		// Each scope missing.
		for i, c := range creds {
			for j := range c.Scopes {
				less := slices.Clone(creds)
				less[i].Scopes = slices.Delete(slices.Clone(c.Scopes), j, j+1)
				add(fmt.Sprintf("with %s lacking %s", name, c.Scopes[j]), less)
			}
		}
	}
	// An invalid credential for each source the policy reads.
	seen := map[string]bool{}
	for _, r := range sec.Alternatives {
		for _, u := range r {
			src := api.source(u.Scheme)
			if seen[src] {
				continue
			}
			seen[src] = true
			add("with an invalid "+u.Scheme+" credential", []Cred{{Scheme: u.Scheme, Invalid: true}})
		}
	}
	return cases
}

// credsFor returns one credential per source that satisfies r exactly:
// schemes sharing a source (several token schemes) share one credential
// carrying the union of their scopes.
func (api *API) credsFor(r Requirement) []Cred {
	var creds []Cred
	index := map[string]int{}
	for _, u := range r {
		src := api.source(u.Scheme)
		if i, ok := index[src]; ok {
			creds[i].Scopes = append(creds[i].Scopes, u.Scopes...)
			sort.Strings(creds[i].Scopes)
			creds[i].Scopes = slices.Compact(creds[i].Scopes)
			continue
		}
		index[src] = len(creds)
		creds = append(creds, Cred{Scheme: u.Scheme, Scopes: slices.Clone(u.Scopes)})
	}
	return creds
}

// short renders r for a test name: like String, with long scope lists
// counted rather than listed.
func (r Requirement) short() string {
	if s := r.String(); len(s) <= 80 {
		return s
	}
	parts := make([]string, len(r))
	for i, u := range r {
		parts[i] = u.Scheme
		if n := len(u.Scopes); n > 0 {
			parts[i] += fmt.Sprintf("[%d scopes]", n)
		}
	}
	return strings.Join(parts, " + ")
}
