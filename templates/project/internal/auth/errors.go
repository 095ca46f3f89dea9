package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrInvalidCredentials is returned for any credential that does not
// authenticate: unknown user, wrong password, disabled account, unknown or
// revoked API key, bad token. Callers never learn which.
var ErrInvalidCredentials = errors.New("auth: invalid credentials")

// ErrRevocationsStale is returned for a genuine access token when this
// process's copy of the revocation feed has not been refreshed for longer
// than its bound (REVOCATION_MAX_STALENESS): the token may have been
// revoked elsewhere, so it is refused with a 503 rather than accepted.
var ErrRevocationsStale = errors.New("auth: revocation state is stale")

// ThrottledError is returned when too many failed attempts were made for an
// account or from a client address. The caller answers 429 with Retry-After.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed attempts, retry after %s", e.RetryAfter)
}

// ErrorBody is the JSON body of every error response this package writes
// (RFC 6749 §5.2 shape). It never carries internals.
type ErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// WriteError writes a JSON error response with no-store caching.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	setErrorHeaders(w.Header())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: code, ErrorDescription: description})
}

func setErrorHeaders(h http.Header) {
	// The names are canonical: skip Header.Set's canonicalisation, and
	// allocate the three values together (capacity 1 each, so that
	// Header.Add copies).
	v := &[3]string{"application/json", "no-store", "nosniff"}
	h["Content-Type"] = v[0:1:1]
	h["Cache-Control"] = v[1:2:2]
	h["X-Content-Type-Options"] = v[2:3:3]
}

// staticError is an error response encoded once, for the answers the
// request path gives most (a refused token costs no JSON encoding).
type staticError struct {
	status int
	body   []byte
}

func newStaticError(status int, code, description string) staticError {
	b, err := json.Marshal(ErrorBody{Error: code, ErrorDescription: description})
	if err != nil {
		panic(err) // two strings always encode
	}
	return staticError{status: status, body: append(b, '\n')} // as json.Encoder writes it
}

func (e staticError) write(w http.ResponseWriter) {
	setErrorHeaders(w.Header())
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body)
}

var (
	errAuthenticationRequired = newStaticError(http.StatusUnauthorized, "unauthorized", "authentication is required")
	errInvalidToken           = newStaticError(http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
	errInvalidCredentials     = newStaticError(http.StatusUnauthorized, "unauthorized", "the credentials are invalid")
)
