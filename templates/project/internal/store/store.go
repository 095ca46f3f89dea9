// Package store is where the authentication runtime keeps what outlives a
// request: users, API keys, OAuth clients, refresh token families (the
// sessions), identity links of provider login, and the revocation feed.
//
// It holds the contract: the Store interface and the interfaces beside it,
// their types and errors, and the rules every implementation follows
// (rules.go), so that all of them behave alike. Each backend is a package
// of its own: memory (tests, and the templates that store nothing), sqlite
// (the default), postgres (several instances sharing one database), and
// redis, which keeps the counts that instances share (counts.go).
// storetest is the conformance suite every Store passes; open chooses the
// backends from the configuration, for the full template only.
package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Store errors. Implementations return these (possibly wrapped) so callers can
// tell the cases apart with errors.Is. Like every error of the
// authentication runtime, their messages start with "auth: ", which the
// administration commands leave out.
var (
	ErrNotFound = errors.New("auth: not found")
	ErrExists   = errors.New("auth: already exists")
	// ErrRefreshReused means a refresh token that was already rotated or
	// revoked was presented again. The store has revoked the whole family.
	ErrRefreshReused = errors.New("auth: refresh token reused")
	// ErrUnavailable means the store could not be reached or did not answer
	// in time (a database server down, restarting, overloaded or
	// unreachable). Nothing is known to have changed; the call may succeed
	// later. The server answers 503 with a generic body.
	ErrUnavailable = errors.New("auth: store unavailable")
	// ErrScopeExceeded is returned by RotateRefresh when the next token
	// would carry a scope that the presented token does not. The presented
	// token stays live. The token endpoint answers it with invalid_scope.
	ErrScopeExceeded = errors.New("auth: requested scope exceeds the granted scope")
)

// The kinds of Store that DATABASE_URL names, by its scheme.
const (
	KindMemory   = "memory"
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// MaxLeeway is the largest clock skew tolerance a verifier accepts for an
// access token's exp and iat: a token is accepted up to MaxLeeway after
// its expiry by some verifier, so denials stay in the feed that long.
const MaxLeeway = 60 * time.Second

// ExpiredForGood reports whether a token expiring at exp is refused at now
// by every verifier, whatever its leeway (at most MaxLeeway).
func ExpiredForGood(exp, now time.Time) bool {
	return !exp.IsZero() && !exp.Add(MaxLeeway).After(now)
}

// User is an account that can log in with a password or HTTP Basic.
type User struct {
	Username     string   // PRECIS UsernameCaseMapped form, unique
	PasswordHash string   // PHC string ($argon2id$... or $2a$...)
	Scopes       []string // granted scopes, sorted
	Disabled     bool
	// NotBefore ends every session issued earlier: tokens whose iat is
	// before it are rejected. Set on password change and on disabling.
	NotBefore time.Time
	CreatedAt time.Time
}

// UserChange is what UpdateUser changes: the fields it sets, and nothing
// else, so that updates of different fields made at the same time (a
// password change racing a disable, from two processes) all take effect.
type UserChange struct {
	PasswordHash string   // the new hash, if not empty
	Scopes       []string // the new scopes, if not nil (an empty slice removes them all)
	Disabled     *bool    // the new state, if not nil
	// NotBefore, if later than the stored one, replaces it and is appended
	// to the revocation feed (a Subject event) in the same transaction. It
	// never moves back.
	NotBefore time.Time
}

// APIKey is a key bound to scopes. Only its digest is stored.
type APIKey struct {
	ID        string // public identifier, shown in lists and logs
	Digest    []byte // SHA-256 of the secret key
	Owner     string // the subject requests with this key act for
	Scopes    []string
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key is live
}

// Client is an OAuth client registered for the client_credentials grant.
type Client struct {
	ID         string
	SecretHash string // PHC string, like a password
	Scopes     []string
	// NotBefore ends every token issued to the client earlier: access
	// tokens whose iat is before it are rejected, and refresh sessions that
	// logged in before it end. Set when its secret is rotated with
	// revocation.
	NotBefore time.Time
	CreatedAt time.Time
}

// ClientChange is what UpdateClient changes: the fields it sets, and
// nothing else, so that a change made meanwhile by another process (a
// rotation that revokes the client's tokens) is not undone.
type ClientChange struct {
	// SecretHash, if not empty, replaces the stored hash provided that is
	// still IfSecretHash, the hash the caller read: of two rotations
	// racing, the second fails (ErrSecretRotatedMeanwhile) rather than
	// overwrite the secret the first has handed out.
	SecretHash   string
	IfSecretHash string
	// NotBefore, if later than the stored one, replaces it and is appended
	// to the revocation feed (a ClientID event) in the same transaction. It
	// never moves back.
	NotBefore time.Time
}

// SecretHashOver returns the secret hash an update with c stores in place
// of stored: c.SecretHash if c sets one and stored is still c.IfSecretHash
// (else ErrSecretRotatedMeanwhile), otherwise stored.
func (c ClientChange) SecretHashOver(stored string) (string, error) {
	if c.SecretHash == "" {
		return stored, nil
	}
	if stored != c.IfSecretHash {
		return "", ErrSecretRotatedMeanwhile
	}
	return c.SecretHash, nil
}

// ErrSecretRotatedMeanwhile is UpdateClient's answer when the client's
// secret hash is no longer the one the change expects: another rotation
// (or a removal and a new client under the same id) came first. Nothing
// was changed.
var ErrSecretRotatedMeanwhile = errors.New("auth: the client's secret was changed by another process meanwhile; this change was not applied")

// RefreshToken is one token of a rotation family. Only its digest is stored.
type RefreshToken struct {
	Digest    []byte // SHA-256 of the opaque token
	FamilyID  string // shared by every token rotated from the same login
	Subject   string
	ClientID  string
	Scopes    []string  // never wider than the family's first token
	IssuedAt  time.Time // this token's issue time
	AuthTime  time.Time // the family's login time
	ExpiresAt time.Time // absolute expiry of the family, not extended by rotation
	// AccessJTIs are the jti values of access tokens issued with this token,
	// denied when the family is revoked (with their expiry).
	AccessJTIs []DeniedToken
}

// DeniedToken is an access token that must no longer be accepted.
type DeniedToken struct {
	JTI       string
	ExpiresAt time.Time // the token's exp: the entry can be dropped after it
}

// Revocation is one event of the revocation feed. Exactly one of JTI,
// Subject and ClientID is set:
//
//   - JTI: an access token denied until its expiry (ExpiresAt);
//   - Subject: a user whose sessions issued before NotBefore end;
//   - ClientID: an OAuth client whose tokens issued before NotBefore end
//     (removed, or its secret rotated with revocation).
type Revocation struct {
	Seq       int64
	JTI       string
	ExpiresAt time.Time
	Subject   string
	ClientID  string
	NotBefore time.Time
}

// RefreshRotation is what RotateRefresh is asked to do: replace the live
// refresh token whose digest is Old by Next.
type RefreshRotation struct {
	Old []byte // digest of the presented token
	// Next is the successor: its Digest and IssuedAt, optional Scopes
	// (within Old's; empty means Old's), and AccessJTIs, the access token
	// issued with it, recorded in the same transaction so that a rotation
	// is never visible without it. The family, subject, client, login time
	// and expiry are inherited from Old, whatever Next says.
	Next RefreshToken
	Now  time.Time
	// Grace, if positive, lets the holder of Old retry: Sealed, opaque to
	// the store, is kept with Old when it is rotated, and presenting Old
	// again before Now+Grace, while Next is still the family's live token,
	// returns Next and Sealed instead of counting as reuse.
	Grace  time.Duration
	Sealed []byte
}

// RefreshRotated is the result of RotateRefresh.
type RefreshRotated struct {
	// Token is the family's new live token: Next as stored, or, for a
	// retry, the successor the retried rotation stored.
	Token RefreshToken
	// Retry is true when nothing was rotated: Old had been rotated within
	// the grace period of its rotation, Token is still live, and Sealed is
	// what that rotation was given.
	Retry  bool
	Sealed []byte
}

// Store keeps users, API keys, clients, refresh token families and the
// access token denylist. SQLite (default), memory (tests) and PostgreSQL
// implement it; every implementation passes the same conformance suite
// (storetest.Run).
type Store interface {
	CreateUser(ctx context.Context, u User) error            // ErrExists
	User(ctx context.Context, username string) (User, error) // ErrNotFound
	ListUsers(ctx context.Context) ([]User, error)           // sorted by username
	// UpdateUser applies c to the user (ErrNotFound if unknown) in one
	// transaction: fields c does not set keep their stored value, whatever
	// another process changed since the caller read the user.
	UpdateUser(ctx context.Context, username string, c UserChange) error
	// ReplacePasswordHash sets the user's password hash to newHash if it is
	// still oldHash, and changes nothing else: a login upgrading the hash
	// of a password it just verified neither undoes a concurrent password
	// change nor a concurrent disable. ErrNotFound if the user does not
	// exist or its hash is no longer oldHash.
	ReplacePasswordHash(ctx context.Context, username, oldHash, newHash string) error

	CreateAPIKey(ctx context.Context, k APIKey) error
	// APIKeyByDigest finds a live (not revoked) key by the digest of its secret.
	APIKeyByDigest(ctx context.Context, digest []byte) (APIKey, error) // ErrNotFound
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error   // ErrNotFound
	ListAPIKeys(ctx context.Context) ([]APIKey, error)                 // sorted by id

	CreateClient(ctx context.Context, c Client) error      // ErrExists
	Client(ctx context.Context, id string) (Client, error) // ErrNotFound
	ListClients(ctx context.Context) ([]Client, error)     // sorted by id
	// UpdateClient applies c to the client (ErrNotFound if unknown) in one
	// transaction: fields c does not set keep their stored value, and a
	// new SecretHash is stored only if the stored one is still
	// c.IfSecretHash (else ErrSecretRotatedMeanwhile). See ClientChange.
	UpdateClient(ctx context.Context, id string, c ClientChange) error
	// DeleteClient removes the client (ErrNotFound if unknown) and, in the
	// same transaction, ends every token issued to it: it appends a ClientID
	// event with NotBefore at to the feed, and revokes every refresh family
	// bound to the client as RevokeRefresh does, so that a client later
	// registered under the same id does not inherit them.
	DeleteClient(ctx context.Context, id string, at time.Time) error

	// CreateRefresh stores the first token of a new family.
	CreateRefresh(ctx context.Context, t RefreshToken) error
	// RotateRefresh atomically marks the live token r.Old as rotated and
	// stores r.Next (same family, with its access token) in its place. If
	// r.Old is unknown or its family expired it returns ErrNotFound. If
	// r.Old was already rotated, within r.Grace of that rotation, with a
	// Sealed value kept, and its successor is still live, it changes nothing
	// and returns that successor as a retry (see RefreshRotation).
	// Otherwise, if r.Old was already rotated or revoked, it revokes the
	// whole family (every token, and denies every access token recorded on
	// it) and returns ErrRefreshReused: an older generation than the
	// immediately preceding token is always reuse. Of several concurrent
	// calls with the same r.Old at most one rotates.
	RotateRefresh(ctx context.Context, r RefreshRotation) (RefreshRotated, error)
	// RevokeRefresh revokes the family of the token with this digest and
	// denies the access tokens recorded on it. ErrNotFound if unknown.
	RevokeRefresh(ctx context.Context, digest []byte, now time.Time) error

	// Deny adds access tokens to the denylist until their expiry. Denials
	// (these, and those of revoked families) stay in the feed at least
	// until MaxLeeway after the token's expiry, the longest any verifier
	// accepts it, so that a process starting then still refuses it.
	Deny(ctx context.Context, tokens ...DeniedToken) error
	// RevocationsSince returns the revocation events (denied access tokens,
	// users whose NotBefore moved through UpdateUser, clients updated or
	// deleted with a new not-before time) with a sequence
	// number above seq, oldest first. Every server process keeps an
	// in-memory copy current from this feed, so revocation is checked on
	// each request without a store round trip, and changes made by another
	// process (the admin subcommands, another instance) are seen within the
	// poll interval.
	RevocationsSince(ctx context.Context, seq int64) ([]Revocation, error)

	Close() error
}

// SchemaMigrator is implemented by the stores with a versioned schema
// (SQLite and PostgreSQL). Opening such a store migrates it; `server
// migrate` reports what was done.
type SchemaMigrator interface {
	// Migrate brings the schema to the newest version this code knows. It is
	// safe to run from several processes at once, and refuses a schema newer
	// than this code.
	Migrate(ctx context.Context) (SchemaVersions, error)
}

// SchemaVersions is the result of a migration.
type SchemaVersions struct {
	Opened  int // the version this process found when it opened the store (0: empty)
	Current int // the version now, the newest this code knows
}

// RevocationListener is implemented by stores that can tell a process at
// once that another one appended to the revocation feed (PostgreSQL, by
// LISTEN/NOTIFY), so that a revocation reaches every instance in a round
// trip instead of at the next poll. The feed stays the one source of
// events: a notification only says "pull now".
type RevocationListener interface {
	// ListenRevocations calls notify after each commit that appended to
	// the feed, by any process, and once after each (re)connection, since
	// what was committed while it was not listening was not pushed. It
	// reconnects by itself, with backoff, logging each change of state
	// once, and returns when ctx is done.
	ListenRevocations(ctx context.Context, notify func(), log *slog.Logger)
}
