package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Prefixes of the secrets this package issues, so that a leaked one is easy
// to recognise and to scan for.
const (
	APIKeyPrefix       = "gh_"  // API keys
	ClientSecretPrefix = "ghc_" // OAuth client secrets
)

// Bounds on identifiers and credentials accepted from outside.
const (
	maxClientIDLength = 128
	maxScopeLength    = 128
	// maxKeyBytes bounds a presented API key before it is hashed; the
	// keys this package issues are far shorter.
	maxKeyBytes = 256
	// secretBytes is the entropy of issued API keys, client secrets: 256 bits.
	secretBytes = 32
)

// AccountsOptions configures NewAccounts. Zero fields take defaults.
type AccountsOptions struct {
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// HashConcurrency bounds how many password hashes run at once; further
	// logins wait, for as long as their request context allows. Default:
	// GOMAXPROCS. Each argon2id hash holds its memory parameter (19 MiB by
	// default) while it runs, so this also bounds that memory.
	HashConcurrency int
	// ClientAddr returns the client address that failed attempts are
	// counted against. Default: the host part of r.RemoteAddr. A server
	// behind a reverse proxy supplies one that trusts X-Forwarded-For only
	// from its configured proxies.
	ClientAddr func(*http.Request) string
}

// Accounts authenticates users, API keys and OAuth clients against a Store,
// and performs the administrative operations on them. It is safe for
// concurrent use.
//
// Authentication never tells why it failed: an unknown name, a wrong
// password and a disabled account all give ErrInvalidCredentials after the
// same work (an unknown name is checked against a dummy hash made with the
// same algorithm and parameters). Attempts the throttle holds back give a
// *ThrottledError before any hashing.
type Accounts struct {
	store      store.Store
	hasher     PasswordHasher
	throttle   *Throttle
	now        func() time.Time
	clientAddr func(*http.Request) string
	limiter    *hashLimiter

	// dummyHash is verified against when the user or client does not
	// exist, so that unknown names cost as much as known ones.
	dummyHash string
	dummyErr  error

	// logKey keys the digests that stand for unknown names in logs.
	logKey [32]byte
}

// NewAccounts returns Accounts over store. A nil hasher means argon2id with
// DefaultArgon2Params; a nil throttle means NewThrottle with defaults.
//
// It hashes one random password to make the dummy hash, so it costs one
// password hash.
func NewAccounts(store store.Store, hasher PasswordHasher, throttle *Throttle, opts AccountsOptions) *Accounts {
	if hasher == nil {
		hasher = NewArgon2id(DefaultArgon2Params)
	}
	if throttle == nil {
		throttle = NewThrottle(ThrottleConfig{Now: opts.Now})
	}
	a := &Accounts{
		store:      store,
		hasher:     hasher,
		throttle:   throttle,
		now:        opts.Now,
		clientAddr: opts.ClientAddr,
		limiter:    newHashLimiter(opts.HashConcurrency),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.clientAddr == nil {
		a.clientAddr = remoteHost
	}
	rand.Read(a.logKey[:]) // never fails since Go 1.24
	pw, err := randomSecret("", 16)
	if err == nil {
		a.dummyHash, err = hasher.Hash(pw)
	}
	if err != nil {
		a.dummyErr = fmt.Errorf("auth: prepare password hashing: %w", err)
	}
	return a
}

// remoteHost is the host part of r.RemoteAddr, or all of it if it has no
// port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ClientAddr returns the address that failed attempts from r are counted
// against, as configured by AccountsOptions.ClientAddr.
func (a *Accounts) ClientAddr(r *http.Request) string { return a.clientAddr(r) }

// Authenticate checks a user name and password (the password grant and
// HTTP Basic). The name is normalised first (NormalizeUsername). It returns
// the user on success; ErrInvalidCredentials for an unknown or malformed
// name, a wrong password, a disabled account, or one whose NotBefore is
// still ahead; a *ThrottledError when attempts on the account or from
// clientAddr must wait (see Throttle); or another error if the store or the
// context fails.
//
// The account is judged after the password is verified, as it is then: a
// password change or a disable recorded while the attempt waited or hashed
// makes it fail.
func (a *Accounts) Authenticate(ctx context.Context, username, password, clientAddr string) (store.User, error) {
	l, err := a.authenticate(ctx, username, password, clientAddr)
	return l.user, err
}

// login is the outcome of a password check, with what the token endpoint
// needs besides the user.
type login struct {
	user store.User // set only on success
	// at is when the account was judged usable, after the password was
	// verified. Sessions are dated at it (iat, auth time), so that a
	// password change or a disable recorded after it ends them, however
	// late the tokens are issued.
	at time.Time
	// name is the normalised name ("" if malformed), and known tells
	// whether it named an existing user, even when the check failed. For
	// logs only: callers never learn it.
	name  string
	known bool
}

func (a *Accounts) authenticate(ctx context.Context, username, password, clientAddr string) (login, error) {
	name, nameErr := NormalizeUsername(username)
	// A malformed name cannot exist: only the address is throttled for it,
	// and it is checked against the dummy hash like any unknown name.
	var account string
	if nameErr == nil {
		account = name
	}
	// u is the record as read by the latest lookup: the one judged.
	var u store.User
	lookup := func(ctx context.Context, now time.Time) (credential, error) {
		if account == "" {
			return credential{}, nil
		}
		var err error
		u, err = a.store.User(ctx, account)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return credential{}, nil
		case err != nil:
			return credential{}, fmt.Errorf("auth: look up user: %w", err)
		}
		usable := !u.Disabled && !notBeforeSecond(u.NotBefore).After(now)
		return credential{found: true, hash: u.PasswordHash, usable: usable}, nil
	}
	replace := func(ctx context.Context, oldHash, newHash string) error {
		return a.store.ReplacePasswordHash(ctx, account, oldHash, newHash)
	}
	res, err := a.check(ctx, account, clientAddr, password, lookup, replace)
	if err != nil {
		return login{name: account, known: res.known}, err
	}
	return login{user: u, at: res.at, name: account, known: true}, nil
}

// AuthenticateClient checks a client id and secret (the client_credentials
// grant) with the same guarantees as Authenticate. Clients are throttled
// apart from users of the same name.
func (a *Accounts) AuthenticateClient(ctx context.Context, clientID, secret, clientAddr string) (store.Client, error) {
	c, _, err := a.authenticateClient(ctx, clientID, secret, clientAddr)
	return c, err
}

// authenticateClient is AuthenticateClient, also telling when the client
// was judged (its tokens are dated then, as a login's are) and whether the
// id names an existing client (for logs only).
func (a *Accounts) authenticateClient(ctx context.Context, clientID, secret, clientAddr string) (store.Client, checked, error) {
	// User names cannot contain a colon, so this key never collides with one.
	var account string
	if validClientID(clientID) == nil {
		account = "client:" + clientID
	}
	var c store.Client
	lookup := func(ctx context.Context, now time.Time) (credential, error) {
		if account == "" {
			return credential{}, nil
		}
		var err error
		c, err = a.store.Client(ctx, clientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return credential{}, nil
		case err != nil:
			return credential{}, fmt.Errorf("auth: look up client: %w", err)
		}
		return credential{found: true, hash: c.SecretHash, usable: !notBeforeSecond(c.NotBefore).After(now)}, nil
	}
	// Client secrets are not rehashed: they are 256 random bits, which no
	// hash parameters make easier or harder to guess.
	res, err := a.check(ctx, account, clientAddr, secret, lookup, nil)
	if err != nil {
		return store.Client{}, res, err
	}
	return c, res, nil
}

// credential is what check needs to know of an account.
type credential struct {
	found  bool   // the account exists
	hash   string // its stored password or secret hash
	usable bool   // it may authenticate at the time of the lookup
}

// checked is the outcome of check.
type checked struct {
	at    time.Time // when the account was judged; set on success
	known bool      // the account exists
}

// check is the common path of password and client secret checks:
//
//  1. reserve a place in the throttle's counts, or refuse at once;
//  2. look the account up and verify the secret against its hash (or
//     against the dummy hash, which never matches, for an account that
//     does not exist or a stored hash that cannot be used);
//  3. look the account up again, now, and judge that record: a secret
//     verified against a hash that has since been replaced must match the
//     new one, and a disable or a NotBefore moved meanwhile wins;
//  4. on success, rehash the secret with the configured parameters if the
//     stored hash uses others (replace stores it; nil means never).
//
// lookup returns the account at the time now. account "" is not throttled
// (the address still is).
func (a *Accounts) check(ctx context.Context, account, addr, secret string,
	lookup func(ctx context.Context, now time.Time) (credential, error),
	replace func(ctx context.Context, oldHash, newHash string) error) (checked, error) {
	attempt, wait, ok := a.throttle.ReserveContext(ctx, account, addr)
	if !ok {
		return checked{}, &ThrottledError{RetryAfter: wait}
	}
	// Gives the place back if nothing below decides the attempt (the
	// store or the request failed); nothing once it is decided.
	defer attempt.Cancel()
	if a.dummyErr != nil {
		return checked{}, a.dummyErr
	}
	before, err := lookup(ctx, a.now())
	if err != nil {
		return checked{}, err
	}
	match, err := a.verify(ctx, before, secret)
	if err != nil {
		return checked{known: before.found}, err
	}

	now := a.now()
	after, err := lookup(ctx, now)
	if err != nil {
		return checked{known: before.found}, err
	}
	if match && after.found && after.hash != before.hash {
		// Replaced while this attempt hashed: a new password, or the
		// same one rehashed by a concurrent login.
		if match, err = a.verify(ctx, after, secret); err != nil {
			return checked{known: true}, err
		}
	}
	res := checked{known: before.found || after.found}
	if !match || !after.found || !after.usable {
		attempt.Fail()
		return res, ErrInvalidCredentials
	}
	attempt.Succeed()
	if replace != nil && a.hasher.Assess(after.hash) != HashCurrent {
		a.upgradeHash(ctx, after.hash, secret, replace)
	}
	res.at = now
	return res, nil
}

// verify checks secret against c's hash, waiting for a hashing slot. An
// account that does not exist, or whose stored hash cannot be used, is
// checked against the dummy hash instead and never matches: every failure
// costs one hash with the configured algorithm and parameters, and tells
// nothing about the account.
func (a *Accounts) verify(ctx context.Context, c credential, secret string) (bool, error) {
	release, err := a.limiter.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	genuine := c.found && a.hasher.Assess(c.hash) != HashUnusable
	hash := c.hash
	if !genuine {
		hash = a.dummyHash
	}
	ok, err := a.hasher.Verify(hash, secret)
	if err != nil && !genuine {
		return false, fmt.Errorf("auth: verify dummy hash: %w", err)
	}
	// A stored hash that Verify refuses despite Assess is a failure like
	// a wrong password: answering otherwise would tell that the account
	// exists.
	return ok && err == nil && genuine, nil
}

// upgradeHash rehashes secret, which just matched old, with the configured
// algorithm and parameters, and stores the result in place of old if old is
// still stored: it never overwrites a password set meanwhile, nor touches
// anything else of the account (a concurrent disable stays). A failure
// leaves the old hash, which still works; the next login tries again.
func (a *Accounts) upgradeHash(ctx context.Context, old, secret string, replace func(ctx context.Context, oldHash, newHash string) error) {
	h, err := a.hash(ctx, secret)
	if err != nil {
		return
	}
	_ = replace(ctx, old, h)
}

// nameAttr is how the name of a failed attempt appears in logs: the
// account's name when it names an existing account, otherwise a short keyed
// digest under key+"_digest", since an unknown "name" is often a password
// typed into the wrong field. The key is random per process: equal digests
// mean the same name within one process's logs, and trying passwords
// against a digest needs the key.
func (a *Accounts) nameAttr(key, name string, known bool) slog.Attr {
	if known {
		return slog.String(key, truncate(name, 64))
	}
	m := hmac.New(sha256.New, a.logKey[:])
	m.Write([]byte(name))
	return slog.String(key+"_digest", hex.EncodeToString(m.Sum(nil)[:8]))
}

// VerifyBasic authenticates HTTP Basic credentials for the guard: like
// Authenticate, throttled per account and per the request's client address.
func (a *Accounts) VerifyBasic(r *http.Request, username, password string) (*Principal, error) {
	u, err := a.Authenticate(r.Context(), username, password, a.ClientAddr(r))
	if err != nil {
		return nil, err
	}
	return &Principal{Subject: u.Username, Scopes: slices.Clone(u.Scopes)}, nil
}

// VerifyAPIKey authenticates an API key for the guard. The key is looked up
// by its SHA-256 digest; unknown and revoked keys, and keys whose owner is a
// disabled user, give ErrInvalidCredentials. Failures are throttled per the
// request's client address.
func (a *Accounts) VerifyAPIKey(r *http.Request, key string) (*Principal, error) {
	ctx := r.Context()
	addr := a.ClientAddr(r)
	attempt, wait, ok := a.throttle.ReserveContext(ctx, "", addr)
	if !ok {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	defer attempt.Cancel() // a store failure is not the key's
	fail := func() (*Principal, error) {
		attempt.Fail()
		return nil, ErrInvalidCredentials
	}
	if key == "" || len(key) > maxKeyBytes {
		return fail()
	}
	digest := sha256.Sum256([]byte(key))
	k, err := a.store.APIKeyByDigest(ctx, digest[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail()
	case err != nil:
		return nil, fmt.Errorf("auth: look up API key: %w", err)
	}
	if !k.RevokedAt.IsZero() {
		return fail()
	}
	// The owner need not be a user; if it is, a disabled user's keys stop
	// working with the account.
	switch u, err := a.store.User(ctx, k.Owner); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("auth: look up API key owner: %w", err)
	case u.Disabled:
		return fail()
	}
	attempt.Succeed()
	return &Principal{Subject: k.Owner, Scopes: slices.Clone(k.Scopes), TokenID: k.ID}, nil
}

// hash hashes a new password or secret, waiting for a hashing slot.
func (a *Accounts) hash(ctx context.Context, secret string) (string, error) {
	release, err := a.limiter.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return a.hasher.Hash(secret)
}

// CreateUser creates a user. The name is normalised (NormalizeUsername), the
// password checked (CheckPassword) and the scopes sorted and de-duplicated.
// An existing user of the same normalised name gives ErrExists.
func (a *Accounts) CreateUser(ctx context.Context, username, password string, scopes []string) (store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return store.User{}, err
	}
	sc, err := cleanScopes(scopes)
	if err != nil {
		return store.User{}, err
	}
	h, err := a.hash(ctx, password)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Username: name, PasswordHash: h, Scopes: sc, CreatedAt: a.now()}
	if err := a.store.CreateUser(ctx, u); err != nil {
		return store.User{}, err
	}
	return store.NormUser(u), nil
}

// SetPassword sets a user's password and ends the user's earlier sessions
// by moving NotBefore to now. It changes nothing else: a disable made at
// the same time by another process stays.
func (a *Accounts) SetPassword(ctx context.Context, username, password string) error {
	name, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	// An unknown user is reported before the slow hash.
	if _, err := a.store.User(ctx, name); err != nil {
		return err
	}
	h, err := a.hash(ctx, password)
	if err != nil {
		return err
	}
	return a.store.UpdateUser(ctx, name, store.UserChange{PasswordHash: h, NotBefore: a.notBefore()})
}

// DisableUser disables a user, which also ends the user's sessions and
// stops the API keys the user owns. It changes nothing else: a password
// change made at the same time by another process stays.
func (a *Accounts) DisableUser(ctx context.Context, username string) error {
	name, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	return a.store.UpdateUser(ctx, name, store.UserChange{Disabled: new(true), NotBefore: a.notBefore()})
}

// notBefore is the NotBefore that ends every session dated until now: the
// first whole second (the precision of the access tokens' iat) after now.
// Sessions are dated when their login was judged, so one judged before this
// change, even in the same second and however late its tokens were issued,
// carries an iat before it and ends; a login judged after it is refused
// until that second (NotBefore still ahead): at most a second, right after
// an administrator changed the account. The stores never move a not-before
// time back, so a later one set by another process stays.
func (a *Accounts) notBefore() time.Time {
	return notBeforeSecond(a.now().Add(time.Nanosecond))
}

// notBeforeSecond is t rounded up to a whole second: access tokens' iat
// is in whole seconds (RFC 7519 NumericDate without a fraction), so
// not-before times are compared at that precision. Rounding up, not down,
// keeps a not-before time stored with a finer precision (by an earlier
// version) ending every session dated before it.
func notBeforeSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}

// CreateAPIKey creates an API key for owner (a user name, normalised like
// one, that need not exist) with scopes. It returns the key's public id and
// the secret key, which is shown once: only its digest is stored.
func (a *Accounts) CreateAPIKey(ctx context.Context, owner string, scopes []string) (id, secret string, err error) {
	o, err := NormalizeUsername(owner)
	if err != nil {
		return "", "", fmt.Errorf("API key owner: %w", err)
	}
	sc, err := cleanScopes(scopes)
	if err != nil {
		return "", "", err
	}
	// Retry on the (practically impossible) collision of a random id.
	for range 3 {
		if id, err = randomSecret("ak_", 10); err != nil {
			return "", "", err
		}
		if secret, err = randomSecret(APIKeyPrefix, secretBytes); err != nil {
			return "", "", err
		}
		digest := sha256.Sum256([]byte(secret))
		err = a.store.CreateAPIKey(ctx, store.APIKey{
			ID: id, Digest: digest[:], Owner: o, Scopes: sc, CreatedAt: a.now(),
		})
		if !errors.Is(err, store.ErrExists) {
			break
		}
	}
	if err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// RevokeAPIKey revokes the API key with this id; it stops working at once
// in every process (keys are looked up on each request).
func (a *Accounts) RevokeAPIKey(ctx context.Context, id string) error {
	return a.store.RevokeAPIKey(ctx, id, a.now())
}

// CreateClient registers an OAuth client for the client_credentials grant
// and returns its secret, which is shown once: only its hash is stored.
// Client ids are 1 to 128 characters from A-Z a-z 0-9 . _ ~ -.
func (a *Accounts) CreateClient(ctx context.Context, id string, scopes []string) (secret string, err error) {
	if err := validClientID(id); err != nil {
		return "", err
	}
	sc, err := cleanScopes(scopes)
	if err != nil {
		return "", err
	}
	if secret, err = randomSecret(ClientSecretPrefix, secretBytes); err != nil {
		return "", err
	}
	h, err := a.hash(ctx, secret)
	if err != nil {
		return "", err
	}
	if err := a.store.CreateClient(ctx, store.Client{ID: id, SecretHash: h, Scopes: sc, CreatedAt: a.now()}); err != nil {
		return "", err
	}
	return secret, nil
}

// RotateClientSecret gives the client a new secret, returned once, and
// stops the old one at once. With revoke, every token issued to the client
// so far ends too (for a leaked secret): access tokens as the revocation
// feed reaches each process, refresh sessions bound to it at their next
// refresh. Without it, tokens already issued live out their lifetime.
//
// Only the secret (and with revoke the not-before time) is written, and the
// secret only if it is still the one read before hashing: a rotation racing
// another fails with ErrSecretRotatedMeanwhile instead of voiding the
// secret the other handed out.
func (a *Accounts) RotateClientSecret(ctx context.Context, id string, revoke bool) (secret string, err error) {
	c, err := a.store.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if secret, err = randomSecret(ClientSecretPrefix, secretBytes); err != nil {
		return "", err
	}
	h, err := a.hash(ctx, secret)
	if err != nil {
		return "", err
	}
	change := store.ClientChange{SecretHash: h, IfSecretHash: c.SecretHash}
	if revoke {
		change.NotBefore = a.notBefore()
	}
	if err := a.store.UpdateClient(ctx, id, change); err != nil {
		return "", err
	}
	return secret, nil
}

// RemoveClient removes the client and ends every token issued to it: its
// refresh sessions at once, its access tokens as the revocation feed
// reaches each process.
func (a *Accounts) RemoveClient(ctx context.Context, id string) error {
	return a.store.DeleteClient(ctx, id, a.notBefore())
}

func validClientID(id string) error {
	if id == "" || len(id) > maxClientIDLength {
		return fmt.Errorf("auth: client id must have 1 to %d characters", maxClientIDLength)
	}
	for _, c := range []byte(id) {
		if !isUnreserved(c) {
			return errors.New("auth: client id may only contain A-Z a-z 0-9 . _ ~ -")
		}
	}
	return nil
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// cleanScopes validates scopes as RFC 6749 scope tokens (printable ASCII
// without space, '"' or '\') and returns them sorted and de-duplicated.
func cleanScopes(scopes []string) ([]string, error) {
	for _, s := range scopes {
		if s == "" || len(s) > maxScopeLength {
			return nil, fmt.Errorf("auth: a scope must have 1 to %d characters", maxScopeLength)
		}
		for _, c := range []byte(s) {
			if c <= ' ' || c > '~' || c == '"' || c == '\\' {
				return nil, fmt.Errorf("auth: scope %q: only printable ASCII without space, '\"' or '\\' is allowed", s)
			}
		}
	}
	return store.NormScopes(scopes), nil
}

// randomSecret returns prefix followed by n random bytes in lower-case
// base32 (letters and digits only, so the whole value is selected by a
// double click).
func randomSecret(prefix string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: generate random value: %w", err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}
