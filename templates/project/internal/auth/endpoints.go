package auth

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Token endpoint limits.
const (
	// maxParamsBody caps the body of a token or revocation request (if
	// MAX_BODY_BYTES is not smaller): a real one is a few hundred bytes. It
	// is enforced before the body is parsed, and so before any hashing.
	maxParamsBody = 64 << 10
	// refreshTokenBytes is the entropy of a refresh token: 256 bits.
	refreshTokenBytes = 32
	// RefreshTokenPrefix starts every refresh token, so a leaked one is
	// recognised (and never mistaken for a JWT).
	RefreshTokenPrefix = "ghr_"
	// maxRefreshTokenLength bounds a presented refresh token; longer
	// values cannot be ours and are not hashed.
	maxRefreshTokenLength = 256
)

// Grant types of the token endpoint (RFC 6749).
const (
	grantPassword          = "password"
	grantRefreshToken      = "refresh_token"
	grantClientCredentials = "client_credentials"
)

// endpoints serves the token endpoint (RFC 6749) and the revocation
// endpoint (RFC 7009).
type endpoints struct {
	store             store.Store
	accounts          *Accounts
	tokens            *Tokens
	rev               *Revocations
	log               *slog.Logger
	now               func() time.Time
	refreshTTL        time.Duration
	refreshGrace      time.Duration // REFRESH_REUSE_GRACE: 0 means strict reuse detection
	clientCredentials bool          // the client_credentials grant is enabled
	maxBody           int64         // body limit of both endpoints
	realm             string
}

// requestError is an OAuth error answer (RFC 6749 §5.2).
type requestError struct {
	status     int
	code       string
	desc       string
	retryAfter time.Duration // 429 only
}

func badRequest(code, desc string) *requestError {
	return &requestError{status: http.StatusBadRequest, code: code, desc: desc}
}

// tokenResponse is the successful answer of the token endpoint (RFC 6749
// §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// tokenEndpoint is the token endpoint: POST only, parameters
// form-encoded (RFC 6749) or as a JSON object of strings with the same
// names, each at most once. Grants:
//
//   - password: username, password, optional scope. The scope granted is
//     the requested one, which must be within the user's scopes
//     (invalid_scope otherwise), or all of the user's scopes. An unknown
//     user, a wrong password and a disabled account all get the same 400
//     invalid_grant.
//   - refresh_token: refresh_token, optional scope within the original.
//     The token is rotated: the answer carries its successor, and
//     presenting it again ends the whole session (reuse detection). With a
//     grace period (REFRESH_REUSE_GRACE), presenting it again within the
//     grace, while its successor is unused, is a retry: the answer is the
//     same pair again.
//   - client_credentials (only when the spec has that flow): the client
//     authenticates with HTTP Basic (client_id:client_secret, RFC 6749
//     §2.3.1) or client_id and client_secret parameters. No refresh token
//     is issued.
//
// A client may authenticate on the password and refresh_token grants too;
// the session is then bound to it, and refreshing requires the same client.
// A client_id sent without a secret is ignored.
type tokenEndpoint struct{ *endpoints }

func (e tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !postOnly(w, r, "token") {
		return
	}
	params, rerr := readParams(w, r, e.bodyLimit())
	if rerr == nil {
		rerr = e.grant(w, r, params)
	}
	if rerr != nil {
		e.writeError(w, rerr)
	}
}

// postOnly sets the caching headers every answer of the token and
// revocation endpoints carries, and answers 405 to anything but POST.
func postOnly(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		h.Set("Allow", http.MethodPost)
		WriteError(w, http.StatusMethodNotAllowed, "invalid_request", "the "+endpoint+" endpoint accepts only POST")
		return false
	}
	return true
}

// writeError writes an error answer with the headers its status needs.
func (e *endpoints) writeError(w http.ResponseWriter, rerr *requestError) {
	switch rerr.status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm=`+strconv.Quote(e.realm)+`, charset="UTF-8"`)
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(rerr.retryAfter), 10))
	}
	WriteError(w, rerr.status, rerr.code, rerr.desc)
}

func (e *endpoints) bodyLimit() int64 {
	if e.maxBody > 0 && e.maxBody < maxParamsBody {
		return e.maxBody
	}
	return maxParamsBody
}

// grant dispatches on grant_type and writes the success answer.
func (e tokenEndpoint) grant(w http.ResponseWriter, r *http.Request, p map[string]string) *requestError {
	gt := p["grant_type"]
	switch {
	case gt == "":
		return badRequest("invalid_request", "grant_type is missing")
	case gt == grantPassword:
		return e.passwordGrant(w, r, p)
	case gt == grantRefreshToken:
		return e.refreshGrant(w, r, p)
	case gt == grantClientCredentials && e.clientCredentials:
		return e.clientCredentialsGrant(w, r, p)
	}
	return badRequest("unsupported_grant_type", "this grant type is not supported")
}

func (e tokenEndpoint) passwordGrant(w http.ResponseWriter, r *http.Request, p map[string]string) *requestError {
	username, password := p["username"], p["password"]
	if username == "" || password == "" {
		return badRequest("invalid_request", "username and password are required")
	}
	requested, rerr := parseScopeParam(p["scope"])
	if rerr != nil {
		return rerr
	}
	client, clientJudged, rerr := e.authenticateClient(r, p, false)
	if rerr != nil {
		return rerr
	}
	ctx := r.Context()
	l, err := e.accounts.authenticate(ctx, username, password, e.accounts.ClientAddr(r))
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			e.event(r, slog.LevelWarn, "login_failure", e.accounts.nameAttr("username", cmp.Or(l.name, username), l.known))
			return badRequest("invalid_grant", "the user name or password is incorrect")
		}
		return e.failure(r, "login", err)
	}
	user := l.user
	scopes := user.Scopes
	if requested != nil {
		if !store.ScopesWithin(requested, user.Scopes) {
			e.event(r, slog.LevelWarn, "login_scope_refused", slog.String("subject", user.Username))
			return badRequest("invalid_scope", "the requested scope exceeds the scope granted to the user")
		}
		scopes = requested
	}
	// The session is dated when the account (and, before it, the client)
	// was judged, not now: a password change, a disable or a client's
	// revocation recorded since must end it.
	at := l.at
	if !clientJudged.IsZero() && clientJudged.Before(at) {
		at = clientJudged
	}
	access, claims, err := e.tokens.issue(user.Username, client.ID, scopes, e.tokens.accessIDAt(at))
	if err != nil {
		return e.failure(r, "issue access token", err)
	}
	refresh, digest, err := newRefreshToken()
	if err != nil {
		return e.failure(r, "issue refresh token", err)
	}
	err = e.store.CreateRefresh(ctx, store.RefreshToken{
		Digest:     digest,
		FamilyID:   rand.Text(),
		Subject:    user.Username,
		ClientID:   client.ID,
		Scopes:     scopes,
		IssuedAt:   at,
		AuthTime:   at,
		ExpiresAt:  at.Add(e.refreshTTL),
		AccessJTIs: []store.DeniedToken{{JTI: claims.ID, ExpiresAt: claims.ExpiresAt}},
	})
	if err != nil {
		return e.failure(r, "store refresh token", err)
	}
	e.event(r, slog.LevelInfo, "login_success",
		slog.String("subject", user.Username), slog.String("client_id", client.ID), slog.String("token_id", claims.ID))
	writeTokenResponse(w, access, claims, refresh)
	return nil
}

func (e tokenEndpoint) refreshGrant(w http.ResponseWriter, r *http.Request, p map[string]string) *requestError {
	presented := p["refresh_token"]
	if presented == "" {
		return badRequest("invalid_request", "refresh_token is missing")
	}
	requested, rerr := parseScopeParam(p["scope"])
	if rerr != nil {
		return rerr
	}
	client, _, rerr := e.authenticateClient(r, p, false)
	if rerr != nil {
		return rerr
	}
	invalid := badRequest("invalid_grant", "the refresh token is invalid, expired or revoked")
	if len(presented) > maxRefreshTokenLength {
		e.event(r, slog.LevelWarn, "refresh_failure", slog.String("reason", "unknown token"))
		return invalid
	}
	refresh, digest, err := newRefreshToken()
	if err != nil {
		return e.failure(r, "issue refresh token", err)
	}
	// The access token's identity is chosen before the rotation, which
	// records its jti in the same transaction: a request either rotates
	// and answers with tokens the family holds (so revoking the family
	// reaches them), or rotates nothing.
	id := e.tokens.newAccessID()
	var sealed []byte
	if e.refreshGrace > 0 {
		if sealed, err = sealSuccessor(presented, refresh, id); err != nil {
			return e.failure(r, "seal refresh token", err)
		}
	}
	ctx := r.Context()
	now := e.now()
	rot, err := e.store.RotateRefresh(ctx, store.RefreshRotation{
		Old: digestOf(presented),
		Next: store.RefreshToken{Digest: digest, Scopes: requested, IssuedAt: now,
			AccessJTIs: []store.DeniedToken{{JTI: id.jti, ExpiresAt: id.exp}}},
		Now:    now,
		Grace:  e.refreshGrace,
		Sealed: sealed,
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Unknown, expired, or not a refresh token at all (an access token
		// presented here lands in this case too).
		e.event(r, slog.LevelWarn, "refresh_failure", slog.String("reason", "unknown token"))
		return invalid
	case errors.Is(err, store.ErrRefreshReused):
		// The store has revoked the family.
		e.syncRevocations(r)
		e.event(r, slog.LevelWarn, "refresh_reuse", slog.String("reason", "a rotated or revoked refresh token was presented; its session is revoked"))
		return invalid
	case errors.Is(err, store.ErrScopeExceeded):
		return badRequest("invalid_scope", "the requested scope exceeds the scope of the refresh token")
	case err != nil:
		return e.failure(r, "rotate refresh token", err)
	}
	if rot.Retry {
		// The presented token was rotated moments ago and its successor is
		// unused: the client retries a request whose answer it lost. It
		// gets that answer again.
		if refresh, id, err = openSuccessor(presented, rot.Sealed); err != nil {
			return e.failure(r, "open sealed refresh token", err)
		}
	}
	next := rot.Token

	// The presented token was live (or is retried) and is now rotated. If
	// the session must not go on, end the whole family: the presenter holds
	// it and should not, or its user or client may no longer use it.
	scopes, reason, err := e.continueSession(ctx, next, client)
	if err != nil {
		return e.failure(r, "look up user", err)
	}
	if reason != "" {
		if err := e.store.RevokeRefresh(ctx, next.Digest, now); err != nil {
			return e.failure(r, "revoke refresh token", err)
		}
		e.syncRevocations(r)
		e.event(r, slog.LevelWarn, "refresh_failure", slog.String("subject", next.Subject), slog.String("reason", reason))
		return invalid
	}

	access, claims, err := e.tokens.issue(next.Subject, next.ClientID, scopes, id)
	if err != nil {
		return e.failure(r, "issue access token", err)
	}
	e.event(r, slog.LevelInfo, "refresh_success",
		slog.String("subject", next.Subject), slog.String("client_id", next.ClientID), slog.String("token_id", claims.ID),
		slog.Bool("retry", rot.Retry))
	writeTokenResponse(w, access, claims, refresh)
	return nil
}

// continueSession decides whether the session of a just rotated refresh
// token may go on. It returns the scopes to grant (those of the token the
// user still has), or why the session must end.
func (e tokenEndpoint) continueSession(ctx context.Context, t store.RefreshToken, client store.Client) (scopes []string, reason string, err error) {
	switch {
	case t.ClientID != client.ID:
		return nil, "refresh token presented by another client", nil
	case t.ClientID != "" && sessionEnded(t.AuthTime, client.NotBefore):
		return nil, "the client's tokens were revoked", nil
	}
	u, err := e.store.User(ctx, t.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "user no longer exists", nil
	case err != nil:
		return nil, "", err
	case u.Disabled:
		return nil, "user is disabled", nil
	case sessionEnded(t.AuthTime, u.NotBefore):
		return nil, "session ended by a password change", nil
	}
	return intersectScopes(t.Scopes, u.Scopes), "", nil
}

// sessionEnded reports whether a session that logged in at authTime ended
// at notBefore, which is rounded up to a whole second as it is for access
// tokens' iat.
func sessionEnded(authTime, notBefore time.Time) bool {
	return authTime.Before(notBeforeSecond(notBefore))
}

func (e tokenEndpoint) clientCredentialsGrant(w http.ResponseWriter, r *http.Request, p map[string]string) *requestError {
	requested, rerr := parseScopeParam(p["scope"])
	if rerr != nil {
		return rerr
	}
	client, judged, rerr := e.authenticateClient(r, p, true)
	if rerr != nil {
		return rerr
	}
	scopes := client.Scopes
	if requested != nil {
		if !store.ScopesWithin(requested, client.Scopes) {
			return badRequest("invalid_scope", "the requested scope exceeds the scope granted to the client")
		}
		scopes = requested
	}
	// Dated when the client was judged, like a login's tokens.
	access, claims, err := e.tokens.issue(client.ID, client.ID, scopes, e.tokens.accessIDAt(judged))
	if err != nil {
		return e.failure(r, "issue access token", err)
	}
	e.event(r, slog.LevelInfo, "client_login_success", slog.String("client_id", client.ID), slog.String("token_id", claims.ID))
	writeTokenResponse(w, access, claims, "")
	return nil
}

// authenticateClient authenticates the OAuth client of a token or
// revocation request, if it presents credentials: HTTP Basic with the
// form-encoded client_id and client_secret (RFC 6749 §2.3.1), or the
// client_id and client_secret parameters; never both. It returns the zero
// Client when no credentials were presented, which is an error only if
// required, and when the client was judged (zero if none was). An
// Authorization header of another scheme is not client authentication and
// is left alone.
func (e *endpoints) authenticateClient(r *http.Request, p map[string]string, required bool) (store.Client, time.Time, *requestError) {
	unauthorized := &requestError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication failed"}
	var id, secret string
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		return store.Client{}, time.Time{}, badRequest("invalid_request", "the Authorization header is sent more than once")
	}
	if len(authz) == 1 {
		if rest, ok := cutAuthScheme(authz[0], "Basic"); ok {
			if p["client_secret"] != "" {
				return store.Client{}, time.Time{}, badRequest("invalid_request", "use one client authentication method, not two")
			}
			bid, bsecret, ok := parseClientBasic(rest)
			if !ok {
				e.event(r, slog.LevelWarn, "client_auth_failure", slog.String("reason", "malformed Basic credentials"))
				return store.Client{}, time.Time{}, unauthorized
			}
			if p["client_id"] != "" && p["client_id"] != bid {
				return store.Client{}, time.Time{}, badRequest("invalid_request", "client_id does not match the authenticated client")
			}
			// A public client may send its id with an empty secret: that
			// is no authentication, and the id is ignored like a bare
			// client_id parameter.
			if bsecret != "" {
				id, secret = bid, bsecret
			}
		}
	}
	if id == "" && p["client_secret"] != "" {
		id, secret = p["client_id"], p["client_secret"]
		if id == "" {
			return store.Client{}, time.Time{}, badRequest("invalid_request", "client_secret is sent without client_id")
		}
	}
	if id == "" {
		if required {
			return store.Client{}, time.Time{}, unauthorized
		}
		return store.Client{}, time.Time{}, nil
	}
	c, res, err := e.accounts.authenticateClient(r.Context(), id, secret, e.accounts.ClientAddr(r))
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			e.event(r, slog.LevelWarn, "client_auth_failure", e.accounts.nameAttr("client_id", id, res.known))
			return store.Client{}, time.Time{}, unauthorized
		}
		return store.Client{}, time.Time{}, e.failure(r, "client authentication", err)
	}
	return c, res.at, nil
}

// cutAuthScheme returns the credentials after an Authorization scheme name,
// compared case-insensitively (RFC 9110 §11.1).
func cutAuthScheme(v, scheme string) (string, bool) {
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	return strings.TrimLeft(v[len(scheme):], " "), true
}

// parseClientBasic decodes Basic client credentials: base64 of the
// form-encoded client id, a colon, and the form-encoded secret (which may
// be empty).
func parseClientBasic(cred string) (id, secret string, ok bool) {
	raw, err := decodeBasic(cred)
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil || id == "" {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	if !utf8.ValidString(id) || !utf8.ValidString(secret) {
		return "", "", false
	}
	return id, secret, true
}

// failure logs an internal error and returns the generic answer: 503 when
// the request was cancelled or timed out or the store is unavailable, 500
// otherwise. A throttled attempt is not a failure: it gets 429.
func (e *endpoints) failure(r *http.Request, what string, err error) *requestError {
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		e.event(r, slog.LevelWarn, "throttled", slog.String("during", what))
		return &requestError{status: http.StatusTooManyRequests, code: "too_many_requests",
			desc: "too many failed attempts; retry later", retryAfter: throttled.RetryAfter}
	}
	e.event(r, slog.LevelError, "internal_error", slog.String("during", what), slog.String("error", err.Error()))
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &requestError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "the service is temporarily unavailable"}
	}
	return &requestError{status: http.StatusInternalServerError, code: "server_error", desc: "internal error"}
}

// syncRevocations brings the denials the store just recorded for a revoked
// family into this process now rather than at the next poll. A failure is
// logged only: the store has the revocation and the poll retries.
func (e *endpoints) syncRevocations(r *http.Request) {
	if err := e.rev.Sync(r.Context()); err != nil {
		e.event(r, slog.LevelError, "revocation_sync_failure", slog.String("error", err.Error()))
	}
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(d time.Duration) int64 {
	return int64(max(1, (d+time.Second-1)/time.Second))
}

// event logs an authentication event with the request's id and client
// address. Values come from the request only after validation or
// truncation, and slog escapes them; credentials are never logged.
func (e *endpoints) event(r *http.Request, level slog.Level, name string, attrs ...slog.Attr) {
	if !e.log.Enabled(r.Context(), level) {
		return
	}
	all := append([]slog.Attr{
		slog.String("event", name),
		slog.String("request_id", truncate(r.Header.Get(RequestIDHeader), 128)),
		slog.String("remote_addr", e.accounts.ClientAddr(r)),
	}, attrs...)
	e.log.LogAttrs(r.Context(), level, "auth", all...)
}

func writeTokenResponse(w http.ResponseWriter, access string, claims AccessClaims, refresh string) {
	body, err := json.Marshal(tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second),
		RefreshToken: refresh,
		Scope:        claims.Scope,
	})
	if err != nil { // cannot happen: only strings and numbers
		WriteError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}

// newRefreshToken returns a new opaque refresh token and its digest, the
// only form in which it is stored.
func newRefreshToken() (token string, digest []byte, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	token = RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, digestOf(token), nil
}

func digestOf(token string) []byte {
	d := sha256.Sum256([]byte(token))
	return d[:]
}

// parseScopeParam parses a scope parameter (space-separated scope-tokens,
// RFC 6749 §3.3). An empty parameter gives nil: no particular scope asked.
func parseScopeParam(s string) ([]string, *requestError) {
	if s == "" {
		return nil, nil
	}
	var scopes []string
	for _, sc := range strings.Split(s, " ") {
		if sc != "" {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil, nil
	}
	clean, err := cleanScopes(scopes)
	if err != nil {
		return nil, badRequest("invalid_scope", "the scope parameter is malformed")
	}
	return clean, nil
}

// intersectScopes returns the scopes of a (sorted) that are also in b
// (sorted).
func intersectScopes(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); ok {
			out = append(out, s)
		}
	}
	return out
}

// readParams reads the parameters of a token or revocation request from
// its body, form-encoded or JSON, refusing oversized bodies (before
// parsing), parameters in the URL (where they would be logged), repeated
// parameters (RFC 6749 §3.2) and anything but strings. Empty values count
// as absent (RFC 6749 §3.1).
func readParams(w http.ResponseWriter, r *http.Request, limit int64) (map[string]string, *requestError) {
	tooLarge := &requestError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", desc: "the request body is too large"}
	if r.URL.RawQuery != "" {
		return nil, badRequest("invalid_request", "parameters must be sent in the request body, not in the URL")
	}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	ct := r.Header.Values("Content-Type")
	if len(ct) != 1 {
		return nil, badRequest("invalid_request", "the body must be application/x-www-form-urlencoded or application/json")
	}
	mediaType, _, err := mime.ParseMediaType(ct[0])
	if err != nil || (mediaType != "application/x-www-form-urlencoded" && mediaType != "application/json") {
		return nil, badRequest("invalid_request", "the body must be application/x-www-form-urlencoded or application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, badRequest("invalid_request", "the request body cannot be read")
	}
	if !utf8.Valid(body) {
		return nil, badRequest("invalid_request", "the request body is not valid UTF-8")
	}
	var params map[string]string
	var rerr *requestError
	if mediaType == "application/json" {
		params, rerr = parseJSONParams(body)
	} else {
		params, rerr = parseFormParams(string(body))
	}
	if rerr != nil {
		return nil, rerr
	}
	for k, v := range params {
		if v == "" {
			delete(params, k)
		}
	}
	return params, nil
}

func parseFormParams(body string) (map[string]string, *requestError) {
	values, err := url.ParseQuery(body)
	if err != nil {
		return nil, badRequest("invalid_request", "the form body is malformed")
	}
	params := make(map[string]string, len(values))
	for k, v := range values {
		if len(v) > 1 {
			return nil, duplicateParam(k)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v[0]) {
			return nil, badRequest("invalid_request", "the request body is not valid UTF-8")
		}
		params[k] = v[0]
	}
	return params, nil
}

// parseJSONParams reads a JSON object whose values are strings (null
// counts as absent), refusing repeated names, which encoding/json would
// silently resolve to the last.
func parseJSONParams(body []byte) (map[string]string, *requestError) {
	malformed := badRequest("invalid_request", "the JSON body must be one object whose values are strings")
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, malformed
	}
	params := make(map[string]string)
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, malformed
		}
		key, ok := t.(string)
		if !ok {
			return nil, malformed
		}
		if seen[key] {
			return nil, duplicateParam(key)
		}
		seen[key] = true
		t, err = dec.Token()
		if err != nil {
			return nil, malformed
		}
		switch v := t.(type) {
		case string:
			params[key] = v
		case nil:
		default:
			return nil, malformed
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, malformed
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed
	}
	return params, nil
}

func duplicateParam(name string) *requestError {
	switch name {
	case "grant_type", "username", "password", "scope", "refresh_token", "client_id", "client_secret", "token", "token_type_hint":
		return badRequest("invalid_request", "parameter "+name+" is sent more than once")
	}
	return badRequest("invalid_request", "a parameter is sent more than once")
}

// revokeEndpoint is the revocation endpoint (RFC 7009), also used to log
// out. POST with the parameter token (form-encoded or JSON), and optionally
// token_type_hint, which is not needed: the two kinds of token are told
// apart by their form.
//
//   - A refresh token revokes its whole session: every refresh token of
//     its family, and every access token issued with them.
//   - An access token (a valid JWT of this server) is denied by its jti
//     until it expires.
//   - Logout: send the refresh token as token and the access token in the
//     Authorization header (Bearer). Both end; either alone is accepted.
//
// Unknown, expired and invalid tokens get 200 like revoked ones (RFC 7009
// §2.2): the answer tells nothing about the token. Holding a token is
// enough to revoke it; client credentials, if sent (Basic or
// client_id/client_secret), must be valid.
type revokeEndpoint struct{ *endpoints }

func (e revokeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !postOnly(w, r, "revocation") {
		return
	}
	if rerr := e.revoke(r, w); rerr != nil {
		e.writeError(w, rerr)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (e revokeEndpoint) revoke(r *http.Request, w http.ResponseWriter) *requestError {
	p, rerr := readParams(w, r, e.bodyLimit())
	if rerr != nil {
		return rerr
	}
	token := p["token"]
	if token == "" {
		return badRequest("invalid_request", "token is missing")
	}
	if _, _, rerr := e.authenticateClient(r, p, false); rerr != nil {
		return rerr
	}
	// The bearer access token of a logout.
	var bearer string
	if authz := r.Header.Values("Authorization"); len(authz) == 1 {
		bearer, _ = cutAuthScheme(authz[0], "Bearer")
	}
	for _, t := range []string{token, bearer} {
		switch {
		case t == "":
		case looksLikeJWT(t):
			if rerr := e.revokeAccess(r, t); rerr != nil {
				return rerr
			}
		default:
			if rerr := e.revokeRefresh(r, t); rerr != nil {
				return rerr
			}
		}
	}
	return nil
}

// looksLikeJWT tells an access token (three dot-separated parts) from a
// refresh token (which has no dot).
func looksLikeJWT(t string) bool { return strings.Count(t, ".") == 2 }

// revokeAccess denies a genuine access token until it expires, in the
// store (for every process) and in this process at once. An invalid one
// needs nothing. Revocation state is not consulted: denying a token twice
// is harmless, and a stale state must not turn a logout into a no-op.
func (e revokeEndpoint) revokeAccess(r *http.Request, token string) *requestError {
	entry, err := e.tokens.authentic(token)
	if err != nil {
		return nil
	}
	claims := &entry.claims
	d := store.DeniedToken{JTI: claims.ID, ExpiresAt: claims.ExpiresAt}
	if err := e.store.Deny(r.Context(), d); err != nil {
		return e.unavailable(r, "deny access token", err)
	}
	e.rev.Deny(d)
	e.event(r, slog.LevelInfo, "access_token_revoked", slog.String("subject", claims.Subject), slog.String("token_id", claims.ID))
	return nil
}

// revokeRefresh revokes the family of a refresh token; the store denies the
// family's access tokens, which Sync brings into this process at once.
func (e revokeEndpoint) revokeRefresh(r *http.Request, token string) *requestError {
	if len(token) > maxRefreshTokenLength {
		return nil
	}
	ctx := r.Context()
	err := e.store.RevokeRefresh(ctx, digestOf(token), e.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return e.unavailable(r, "revoke refresh token", err)
	}
	e.syncRevocations(r)
	e.event(r, slog.LevelInfo, "session_revoked")
	return nil
}

// unavailable is the RFC 7009 §2.2.1 answer when revocation could not be
// done: 503, so the client retries.
func (e *endpoints) unavailable(r *http.Request, what string, err error) *requestError {
	e.event(r, slog.LevelError, "internal_error", slog.String("during", what), slog.String("error", err.Error()))
	return &requestError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "the token could not be revoked; retry later"}
}
