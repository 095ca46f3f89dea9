package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Login through external providers (authorization code with PKCE, RFC 9700
// §2.1.1; OpenID Connect Core §3.1), federated into this server's own
// sessions:
//
//  1. GET PATH/{provider}?return_to=URL (return_to optional, checked
//     against LOGIN_RETURN_TO) stores a login state on the server (the
//     PKCE verifier, the OIDC nonce, return_to), binds it to the browser by
//     a random value in a short-lived HttpOnly, Secure, SameSite=Lax cookie
//     whose digest the state keeps, and redirects to the provider with
//     state, the S256 code challenge and the nonce. The verifier never
//     leaves the server.
//  2. GET PATH/{provider}/callback takes the state (single use, whatever
//     follows), checks it has not expired and that the browser presents
//     the cookie it was bound to (login CSRF: a callback URL sent to another
//     browser fails), exchanges the code with the verifier, verifies the ID
//     token (issuer, audience, expiry, signature from the provider's JWKS,
//     nonce) or, for plain OAuth2, reads the profile; finds the local user
//     by the link of the identity's issuer and subject (or as the account
//     policy says), and refuses a disabled user. It then starts a session as
//     a password login does (a refresh token family with the user's
//     scopes), puts its first refresh token in a second cookie (HttpOnly,
//     Secure, SameSite=Strict, path PATH/session, two minutes) and
//     redirects to return_to. No token or code of this server is ever in a
//     URL.
//  3. POST PATH/session, called by the front end (fetch with credentials),
//     reads that cookie, clears it, and answers as the token endpoint's
//     refresh grant does with that token: access token, rotated refresh
//     token, scope. The hand-off token is thereby used once: presenting it
//     again is refresh-token reuse and ends the session.
//
// The OAuth 2.0 for Browser-Based Applications BCP prefers a back end that
// keeps tokens out of the browser (BFF) or, failing that, a front end that
// obtains its tokens itself with PKCE; it rules out tokens in URLs (the
// implicit flow's weakness: history, Referer, logs). The hand-off here keeps
// the code exchange and the client secret on the server and gives the front
// end exactly what a password login gives it, through a POST answer, never a
// URL; the cookie that carries the hand-off is unreadable by scripts, sent
// only to the session endpoint from the same site, and lives two minutes.
type loginFlow struct {
	cfg       LoginConfig
	e         *endpoints
	links     store.IdentityLinkStore
	accounts  *Accounts
	providers map[string]*loginProvider
	// states keeps started logins: the service's store, so that any
	// instance sharing it can finish a login another started.
	states store.LoginStateStore
	// failures decides which refused logins are logged: at most one line
	// per window and client address, as for the guard's failures.
	failures *failureLimiter
	// client makes every request to providers (tests give one trusting
	// their test server's certificate).
	client *http.Client
}

const (
	loginStateCookie   = "gatehouse_login"
	loginSessionCookie = "gatehouse_session"
	loginSessionTTL    = 2 * time.Minute
	// maxStoredReturn bounds return_to as kept with a started login.
	maxStoredReturn    = 512
	maxProfileBytes    = 1 << 20
	maxExternalSubject = 255 // OIDC Core §2: sub is at most 255 ASCII characters
	providerTimeout    = 10 * time.Second
)

// loginProvider is one configured provider, its endpoints discovered on
// first use.
type loginProvider struct {
	cfg    ProviderConfig
	issuer string // LinkIssuer

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier // nil for plain OAuth2
	// failed and failure are the time and error of the last failed
	// discovery, answered again for discoveryRetry without asking the
	// provider: a provider that is down costs one request per period, not
	// one per visitor.
	failed  time.Time
	failure error
}

// discoveryRetry is how long a failed discovery is answered from memory.
const discoveryRetry = 30 * time.Second

// newLoginFlow returns the login flow of cfg, or nil when no provider is
// configured. The store must keep identity links and login states.
func newLoginFlow(cfg LoginConfig, e *endpoints, accounts *Accounts) (*loginFlow, error) {
	if len(cfg.Providers) == 0 {
		return nil, nil
	}
	links, ok := e.store.(store.IdentityLinkStore)
	if !ok {
		return nil, fmt.Errorf("auth: LOGIN_PROVIDERS is set but the store (%T) keeps no identity links", e.store)
	}
	states, ok := e.store.(store.LoginStateStore)
	if !ok {
		return nil, fmt.Errorf("auth: LOGIN_PROVIDERS is set but the store (%T) keeps no login states", e.store)
	}
	f := &loginFlow{
		cfg: cfg, e: e, links: links, accounts: accounts,
		providers: make(map[string]*loginProvider, len(cfg.Providers)),
		states:    states,
		client:    &http.Client{Timeout: providerTimeout},
		failures:  newFailureLimiter(failureLogWindow, maxFailureAddrs, e.now),
	}
	for _, p := range cfg.Providers {
		f.providers[p.Name] = &loginProvider{cfg: p, issuer: p.LinkIssuer()}
	}
	return f, nil
}

// mount registers the three endpoints.
func (f *loginFlow) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+f.cfg.Path+"/{provider}", f.start)
	mux.HandleFunc("GET "+f.cfg.Path+"/{provider}/callback", f.callback)
	mux.HandleFunc("POST "+f.cfg.Path+"/session", f.session)
}

func (f *loginFlow) redirectURL(p *loginProvider) string {
	return f.cfg.PublicURL + f.cfg.Path + "/" + p.cfg.Name + "/callback"
}

// providerContext carries the client for requests to providers, in the
// form both oauth2 and go-oidc read it.
func (f *loginFlow) providerContext(ctx context.Context) context.Context {
	c := guardedProviderClient(f.client)
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, c), c)
}

// ready discovers an OIDC provider's endpoints on first use (and again after
// a failure), so that a provider unreachable at start-up does not stop the
// server.
func (f *loginFlow) ready(ctx context.Context, p *loginProvider) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	if p.failure != nil && f.e.now().Sub(p.failed) < discoveryRetry {
		return nil, nil, p.failure
	}
	c, v, err := f.discover(ctx, p)
	if err != nil {
		p.failed, p.failure = f.e.now(), err
		return nil, nil, err
	}
	p.oauth, p.verifier, p.failure = c, v, nil
	return c, v, nil
}

// discover returns the endpoints and ID-token verifier of p: from its
// discovery document for an OIDC provider, from configuration otherwise.
func (f *loginFlow) discover(ctx context.Context, p *loginProvider) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c := &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		RedirectURL:  f.redirectURL(p),
		Scopes:       p.cfg.Scopes,
		Endpoint:     oauth2.Endpoint{AuthURL: p.cfg.AuthURL, TokenURL: p.cfg.TokenURL},
	}
	var v *oidc.IDTokenVerifier
	if p.cfg.Issuer != "" {
		dctx, cancel := context.WithTimeout(ctx, providerTimeout)
		defer cancel()
		// The provider's key set keeps only the client of this context for
		// its later fetches, not its deadline.
		prov, err := oidc.NewProvider(f.providerContext(dctx), p.cfg.Issuer)
		if err != nil {
			return nil, nil, err
		}
		var meta struct {
			JWKSURL string `json:"jwks_uri"`
		}
		if err := prov.Claims(&meta); err != nil || meta.JWKSURL == "" {
			return nil, nil, errors.New("the discovery document names no jwks_uri")
		}
		if err := checkFetchURL(meta.JWKSURL, f.cfg.AllowHTTP); err != nil {
			return nil, nil, err
		}
		// go-oidc checks iss, aud (the client id), exp and the signature,
		// by keys of the provider's JWKS and with the algorithms its
		// discovery document advertises (RS256 if none; never none).
		v = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
		c.Endpoint = prov.Endpoint()
		for _, u := range []string{c.Endpoint.AuthURL, c.Endpoint.TokenURL} {
			if err := checkFetchURL(u, f.cfg.AllowHTTP); err != nil {
				return nil, nil, err
			}
		}
	}
	return c, v, nil
}

// start redirects the browser to the provider.
func (f *loginFlow) start(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	p := f.providers[r.PathValue("provider")]
	if p == nil {
		WriteError(w, http.StatusNotFound, "invalid_request", "no such login provider")
		return
	}
	returnTo, ok := f.allowedReturn(r.URL.Query().Get("return_to"))
	if !ok {
		f.refused(r, slog.LevelWarn, "provider_login_refused", slog.String("provider", p.cfg.Name), slog.String("reason", "return_to not allowed"))
		WriteError(w, http.StatusBadRequest, "invalid_request", "return_to is not an allowed address (see LOGIN_RETURN_TO)")
		return
	}
	oc, v, err := f.ready(r.Context(), p)
	if err != nil {
		f.refused(r, slog.LevelError, "provider_unavailable", slog.String("provider", p.cfg.Name), slog.String("error", shortError(err)))
		WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the login provider cannot be reached; try again later")
		return
	}
	state, binding, nonce := rand.Text(), rand.Text(), rand.Text()
	verifier := oauth2.GenerateVerifier()
	bound := sha256.Sum256([]byte(binding))
	now := f.e.now()
	err = f.states.PutLoginState(r.Context(), stateKey(state), store.LoginState{
		Provider: p.cfg.Name,
		Addr:     loginAddrKey(f.accounts.ClientAddr(r)),
		Binding:  bound[:],
		Verifier: verifier,
		Nonce:    nonce,
		ReturnTo: returnTo,
		Expires:  now.Add(f.cfg.StateTTL),
	}, now)
	switch {
	case errors.Is(err, store.ErrTooManyLogins):
		w.Header().Set("Retry-After", strconv.Itoa(int(f.cfg.StateTTL/time.Second)))
		WriteError(w, http.StatusTooManyRequests, "slow_down", "too many logins in progress from this address; finish or wait for one")
		return
	case err != nil:
		f.e.writeError(w, f.e.failure(r, "provider login start", err))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginStateCookie, Value: binding, Path: f.cfg.Path,
		MaxAge: int(f.cfg.StateTTL / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if v != nil {
		opts = append(opts, oidc.Nonce(nonce))
	}
	http.Redirect(w, r, oc.AuthCodeURL(state, opts...), http.StatusFound)
}

// allowedReturn returns return_to in canonical form if the allow-list
// allows it, or the list's first entry if it is empty.
func (f *loginFlow) allowedReturn(s string) (string, bool) {
	if s == "" {
		return f.cfg.ReturnTo[0].String(), true
	}
	if len(s) > maxStoredReturn || strings.ContainsAny(s, "\\\x00\r\n\t") {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" || u.Fragment != "" || u.Host == "" {
		return "", false
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if path.Clean(p) != p && path.Clean(p)+"/" != p { // no dot segments or doubled slashes
		return "", false
	}
	for _, a := range f.cfg.ReturnTo {
		if !strings.EqualFold(u.Scheme, a.Scheme) || !strings.EqualFold(u.Host, a.Host) {
			continue
		}
		if p == a.Path || strings.HasPrefix(p, strings.TrimSuffix(a.Path, "/")+"/") {
			u.Scheme, u.Host, u.Path, u.RawPath = a.Scheme, a.Host, p, ""
			return u.String(), true
		}
	}
	return "", false
}

// loginError refuses a callback: nothing is issued. The state, if it was
// valid, is spent.
func (f *loginFlow) loginError(w http.ResponseWriter, r *http.Request, provider string, status int, code, desc, reason string) {
	f.refused(r, slog.LevelWarn, "provider_login_failure", slog.String("provider", provider), slog.String("reason", reason))
	WriteError(w, status, code, desc)
}

// refused logs a refused or failed login, unless a line for the same
// client address was written in the last window: anyone can send forged
// callbacks, and must not be able to write a line per request. The line
// says how many were not logged since the last.
func (f *loginFlow) refused(r *http.Request, level slog.Level, name string, attrs ...slog.Attr) {
	ok, unlogged, shared := f.failures.allow(failureKey(f.accounts.ClientAddr(r)))
	if !ok {
		return
	}
	if unlogged > 0 {
		attrs = append(attrs, slog.Int("unlogged", unlogged))
		if shared {
			attrs = append(attrs, slog.Bool("unlogged_shared", true))
		}
	}
	f.e.event(r, level, name, attrs...)
}

// isEmailAddress reports whether s is one bare email address
// (local@domain, no display name, no angle brackets).
func isEmailAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s, "@")
}

// providerErrors are the error codes of RFC 6749 §4.1.2.1 and OIDC Core
// §3.1.2.6 a provider may send back; any other is reported as access_denied.
var providerErrors = map[string]bool{
	"access_denied": true, "invalid_request": true, "unauthorized_client": true, "unsupported_response_type": true,
	"invalid_scope": true, "server_error": true, "temporarily_unavailable": true, "interaction_required": true,
	"login_required": true, "account_selection_required": true, "consent_required": true,
}

// callback receives the provider's answer.
func (f *loginFlow) callback(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	name := r.PathValue("provider")
	p := f.providers[name]
	if p == nil {
		WriteError(w, http.StatusNotFound, "invalid_request", "no such login provider")
		return
	}
	// The state cookie is spent whatever happens.
	http.SetCookie(w, &http.Cookie{Name: loginStateCookie, Path: f.cfg.Path, MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	stateParam := q.Get("state")
	if stateParam == "" {
		f.loginError(w, r, name, http.StatusBadRequest, "invalid_request", "state is missing", "no state")
		return
	}
	st, err := f.states.TakeLoginState(r.Context(), stateKey(stateParam), f.e.now())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		f.e.writeError(w, f.e.failure(r, "provider login callback", err))
		return
	}
	if err != nil || st.Provider != name {
		f.loginError(w, r, name, http.StatusBadRequest, "invalid_request", "the login is unknown, expired or already finished; start again", "unknown, expired or used state")
		return
	}
	c, err := r.Cookie(loginStateCookie)
	if err != nil || !bindingMatches(st.Binding, c.Value) {
		f.loginError(w, r, name, http.StatusBadRequest, "invalid_request", "the login was not started in this browser; start again", "state not bound to this browser")
		return
	}
	if e := q.Get("error"); e != "" {
		if !providerErrors[e] {
			e = "access_denied"
		}
		f.loginError(w, r, name, http.StatusBadRequest, e, "the login provider did not log the user in ("+e+")", "provider error "+e)
		return
	}
	code := q.Get("code")
	if code == "" {
		f.loginError(w, r, name, http.StatusBadRequest, "invalid_request", "code is missing", "no code")
		return
	}
	oc, v, err := f.ready(r.Context(), p)
	if err != nil {
		f.loginError(w, r, name, http.StatusServiceUnavailable, "temporarily_unavailable", "the login provider cannot be reached; try again later", shortError(err))
		return
	}
	ctx, cancel := context.WithTimeout(f.providerContext(r.Context()), providerTimeout)
	defer cancel()
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			f.loginError(w, r, name, http.StatusBadRequest, "invalid_grant", "the login provider refused the authorization code; start again", "code exchange refused: "+re.ErrorCode)
			return
		}
		f.loginError(w, r, name, http.StatusServiceUnavailable, "temporarily_unavailable", "the login provider cannot be reached; try again later", "code exchange: "+shortError(err))
		return
	}
	var claims map[string]any
	if v != nil {
		claims, err = verifyIDToken(ctx, v, tok, st.Nonce)
	} else {
		claims, err = f.userInfo(ctx, oc, p, tok)
	}
	if err != nil {
		f.loginError(w, r, name, http.StatusBadRequest, "invalid_grant", "the login provider's answer could not be verified", shortError(err))
		return
	}
	id, err := profileOf(p.cfg, claims)
	if err != nil {
		f.loginError(w, r, name, http.StatusBadRequest, "invalid_grant", "the login provider's profile has no usable account id", shortError(err))
		return
	}
	user, rerr := f.localUser(r, p, id)
	if rerr != nil {
		f.e.writeError(w, rerr)
		return
	}
	if err := f.startSession(w, r, user); err != nil {
		f.e.writeError(w, f.e.failure(r, "start provider session", err))
		return
	}
	f.e.event(r, slog.LevelInfo, "login_success", slog.String("subject", user.Username),
		slog.String("provider", name), slog.String("external_subject", truncate(id.subject, 255)))
	http.Redirect(w, r, st.ReturnTo, http.StatusSeeOther)
}

func bindingMatches(want []byte, cookie string) bool {
	got := sha256.Sum256([]byte(cookie))
	return subtle.ConstantTimeCompare(want, got[:]) == 1
}

// stateKey is the key of a login state in the store: the SHA-256 digest
// of the state parameter, so that what the store holds cannot finish a
// login.
func stateKey(state string) []byte {
	d := sha256.Sum256([]byte(state))
	return d[:]
}

// verifyIDToken verifies the ID token of an OIDC token response and its
// nonce, and returns its claims.
func verifyIDToken(ctx context.Context, v *oidc.IDTokenVerifier, tok *oauth2.Token, nonce string) (map[string]any, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, errors.New("id token: wrong nonce")
	}
	var rawClaims json.RawMessage
	if err := idt.Claims(&rawClaims); err != nil {
		return nil, fmt.Errorf("id token claims: %w", err)
	}
	return decodeClaims(rawClaims)
}

func decodeClaims(b []byte) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, errors.New("the profile is not a JSON object")
	}
	return m, nil
}

// userInfo reads a plain OAuth2 provider's profile with the access token.
func (f *loginFlow) userInfo(ctx context.Context, oc *oauth2.Config, p *loginProvider, tok *oauth2.Token) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.UserInfoURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := oc.Client(ctx, tok).Do(req)
	if err != nil {
		return nil, fmt.Errorf("user info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("user info: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProfileBytes))
	if err != nil {
		return nil, fmt.Errorf("user info: %w", err)
	}
	return decodeClaims(b)
}

// externalIdentity is what a login tells about the user at the provider.
type externalIdentity struct {
	subject, email, name string
	emailVerified        bool
}

// profileOf maps the claims to an identity as the provider's
// configuration says.
func profileOf(p ProviderConfig, claims map[string]any) (externalIdentity, error) {
	str := func(name string) string {
		switch v := claims[name].(type) {
		case string:
			return v
		case json.Number:
			return v.String()
		}
		return ""
	}
	id := externalIdentity{subject: str(p.SubjectClaim), email: str(p.EmailClaim), name: str(p.NameClaim)}
	if id.subject == "" || len(id.subject) > maxExternalSubject {
		return externalIdentity{}, fmt.Errorf("claim %s is missing, empty or longer than %d", p.SubjectClaim, maxExternalSubject)
	}
	if p.EmailVerifiedClaim != "" {
		switch v := claims[p.EmailVerifiedClaim].(type) {
		case bool:
			id.emailVerified = v
		case string: // some providers (AWS Cognito) send "true"
			id.emailVerified = v == "true"
		}
	}
	if len(id.email) > store.MaxLinkField {
		id.email = ""
	}
	return id, nil
}

// localUser finds the local user of an external identity: by its link, or
// as the account policy says.
func (f *loginFlow) localUser(r *http.Request, p *loginProvider, id externalIdentity) (store.User, *requestError) {
	ctx := r.Context()
	refused := func(reason string) (store.User, *requestError) {
		f.refused(r, slog.LevelWarn, "provider_login_refused", slog.String("provider", p.cfg.Name),
			slog.String("external_subject", truncate(id.subject, 255)), slog.String("reason", reason))
		return store.User{}, &requestError{status: http.StatusForbidden, code: "access_denied", desc: "this account may not log in here"}
	}
	username := ""
	link, err := f.links.IdentityLink(ctx, p.issuer, id.subject)
	switch {
	case err == nil:
		username = link.Username
	case !errors.Is(err, store.ErrNotFound):
		return store.User{}, f.e.failure(r, "read identity link", err)
	case f.cfg.Policy == PolicyLinked:
		return refused("identity not linked")
	default:
		// An email is used only when the provider verified it: otherwise
		// anyone could claim the address of an existing user. And only an
		// email address: a provider that marks any string verified must not
		// link an account to a user named like it (admin, google-1234).
		if id.email != "" && id.emailVerified && isEmailAddress(id.email) {
			if name, err := NormalizeUsername(id.email); err == nil {
				if _, err := f.e.store.User(ctx, name); err == nil {
					username = name
				} else if !errors.Is(err, store.ErrNotFound) {
					return store.User{}, f.e.failure(r, "read user", err)
				}
			}
		}
		if username == "" && f.cfg.Policy == PolicyCreate {
			name, err := NormalizeUsername(p.cfg.Name + "-" + id.subject)
			if err != nil {
				return refused("no valid user name for the identity")
			}
			err = f.e.store.CreateUser(ctx, store.User{Username: name, PasswordHash: noPasswordHash,
				Scopes: f.cfg.DefaultScopes, CreatedAt: f.e.now()})
			if errors.Is(err, store.ErrExists) {
				return refused("a user named " + name + " exists and is not linked to the identity")
			}
			if err != nil {
				return store.User{}, f.e.failure(r, "create user", err)
			}
			username = name
		}
		if username == "" {
			return refused("identity not linked, and no user has its verified email")
		}
		err := f.links.CreateIdentityLink(ctx, store.IdentityLink{Issuer: p.issuer, Subject: id.subject, Username: username,
			Provider: p.cfg.Name, Email: id.email, CreatedAt: f.e.now()})
		if errors.Is(err, store.ErrExists) { // a concurrent first login linked it
			link, err = f.links.IdentityLink(ctx, p.issuer, id.subject)
			if err != nil {
				return store.User{}, f.e.failure(r, "read identity link", err)
			}
			username = link.Username
		} else if err != nil {
			return store.User{}, f.e.failure(r, "create identity link", err)
		}
		f.e.event(r, slog.LevelInfo, "identity_linked", slog.String("subject", username), slog.String("provider", p.cfg.Name))
	}
	user, err := f.e.store.User(ctx, username)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return refused("linked user does not exist")
		}
		return store.User{}, f.e.failure(r, "read user", err)
	}
	if user.Disabled {
		return refused("user disabled")
	}
	return user, nil
}

// noPasswordHash is the password hash of users created by a provider login:
// no password verifies against it (Assess says HashUnusable), so they log
// in only through their provider until an admin sets a password.
const noPasswordHash = "!provider-login"

// startSession starts a session for user as a password login does (a new
// refresh family with the user's scopes) and hands its first refresh token
// to the browser in the session cookie.
func (f *loginFlow) startSession(w http.ResponseWriter, r *http.Request, user store.User) error {
	refresh, digest, err := newRefreshToken()
	if err != nil {
		return err
	}
	at := f.e.now()
	err = f.e.store.CreateRefresh(r.Context(), store.RefreshToken{
		Digest:    digest,
		FamilyID:  rand.Text(),
		Subject:   user.Username,
		Scopes:    user.Scopes,
		IssuedAt:  at,
		AuthTime:  at,
		ExpiresAt: at.Add(f.e.refreshTTL),
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: loginSessionCookie, Value: refresh, Path: f.cfg.Path + "/session",
		MaxAge: int(loginSessionTTL / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

// session hands the session started by a callback to the front end: POST,
// with the session cookie, answered as the refresh grant.
func (f *loginFlow) session(w http.ResponseWriter, r *http.Request) {
	if !postOnly(w, r, "session") {
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !f.allowedOrigin(o) {
		WriteError(w, http.StatusForbidden, "invalid_request", "this origin may not take over a login")
		return
	}
	c, err := r.Cookie(loginSessionCookie)
	if err != nil || c.Value == "" {
		WriteError(w, http.StatusBadRequest, "invalid_request", "no login to hand over: log in through a provider first")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginSessionCookie, Path: f.cfg.Path + "/session", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	if rerr := (tokenEndpoint{f.e}).refreshGrant(w, r, map[string]string{"refresh_token": c.Value}); rerr != nil {
		f.e.writeError(w, rerr)
	}
}

// allowedOrigin reports whether a browser origin is this server's or one
// of LOGIN_RETURN_TO's.
func (f *loginFlow) allowedOrigin(o string) bool {
	if u, err := url.Parse(f.cfg.PublicURL); err == nil && strings.EqualFold(o, u.Scheme+"://"+u.Host) {
		return true
	}
	for _, a := range f.cfg.ReturnTo {
		if strings.EqualFold(o, a.Scheme+"://"+a.Host) {
			return true
		}
	}
	return false
}

// loginAddrKey is the address of a login state (LoginState.Addr), whose
// live states the store holds to MaxLoginStatesPerAddress: IPv6
// addresses by their /64, as one subscriber commonly holds a whole /64.
func loginAddrKey(addr string) string {
	if addr == "" {
		return "unknown"
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}
