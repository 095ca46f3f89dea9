package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// LoginState is a started login through an external provider, kept on the
// server from the redirect to the provider until its callback, so that
// the PKCE verifier never leaves the server and any instance sharing the
// store can finish a login another started.
type LoginState struct {
	Provider string // the configured provider name
	Addr     string // the client address that started it, as the caller groups addresses (an IPv6 /64)
	Binding  []byte // SHA-256 of the browser's state cookie (32 bytes)
	Verifier string // PKCE code verifier
	Nonce    string // OIDC nonce
	ReturnTo string // where the browser goes after the login
	Expires  time.Time
}

// LoginStateStore keeps started logins. Every store (memory, SQLite,
// PostgreSQL) implements it; like IdentityLinkStore it is an interface of
// its own, and the server refuses to enable provider login on a store
// without it.
//
// A state is keyed by the SHA-256 digest of the state parameter, never by
// the parameter itself: whoever reads the store cannot finish a login.
type LoginStateStore interface {
	// PutLoginState stores st under key (a 32-byte digest). It first
	// removes expired states (at least those of st.Addr), then refuses
	// with ErrTooManyLogins if st.Addr already has MaxLoginStatesPerAddress
	// live states at now. ErrExists if key is taken.
	PutLoginState(ctx context.Context, key []byte, st LoginState, now time.Time) error
	// TakeLoginState removes the state of key and returns it if it is live
	// at now. Each state is taken once: of concurrent takes of one key, at
	// most one gets it. An unknown, taken or expired state is ErrNotFound
	// (an expired one is removed all the same).
	TakeLoginState(ctx context.Context, key []byte, now time.Time) (LoginState, error)
}

// MaxLoginStatesPerAddress bounds the live started logins of one client
// address, so that one address cannot fill the store and keep everyone
// else from logging in. Stores enforce it in PutLoginState.
const MaxLoginStatesPerAddress = 20

// ErrTooManyLogins is PutLoginState's refusal when the address already
// has MaxLoginStatesPerAddress live started logins.
var ErrTooManyLogins = errors.New("auth: too many logins in progress from one address")

// MaxLoginStateField bounds every text field of a login state.
const MaxLoginStateField = 2048

// CheckLoginState refuses a state a store must not keep: a key or binding
// that is not a SHA-256 digest, a missing provider, address, verifier or
// expiry, or a field too long, not UTF-8 or with a NUL.
func CheckLoginState(key []byte, st LoginState) error {
	if len(key) != 32 {
		return errors.New("auth: login state: the key is not a SHA-256 digest")
	}
	if len(st.Binding) != 32 {
		return errors.New("auth: login state: the binding is not a SHA-256 digest")
	}
	if st.Expires.IsZero() {
		return errors.New("auth: login state: no expiry")
	}
	for _, f := range []struct{ name, v string }{
		{"provider", st.Provider}, {"address", st.Addr}, {"verifier", st.Verifier},
		{"nonce", st.Nonce}, {"return_to", st.ReturnTo},
	} {
		if (f.v == "" && f.name != "nonce" && f.name != "return_to") || len(f.v) > MaxLoginStateField ||
			!utf8.ValidString(f.v) || containsNUL(f.v) {
			return fmt.Errorf("auth: login state: invalid %s", f.name)
		}
	}
	return nil
}
