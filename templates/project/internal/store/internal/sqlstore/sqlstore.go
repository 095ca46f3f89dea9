// Package sqlstore holds what the two SQL stores, sqlite and postgres,
// share: the scanning of the rows whose columns they keep alike into the
// store's types, and the arguments of statements they write alike. Their
// SQL stays with each of them: the dialects differ (placeholders, types,
// locking), and each reads best whole.
package sqlstore

import (
	"fmt"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Scanner is a row being read: *sql.Row, *sql.Rows or pgx.Row.
type Scanner interface{ Scan(dest ...any) error }

// Scopes is how a store scans a scope list column: it returns, for the
// list at p, the destination its driver scans the column into, filling p.
// Each store keeps scope lists its own way (SQLite as a JSON array,
// PostgreSQL as text[]); the scanners below sort them (store.NormScopes).
type Scopes func(p *[]string) any

// The columns of the users, api_keys and clients rows, which both stores
// keep alike, in the order the scanners below read them and the stores
// insert them.
const (
	UserColumns   = `username, password_hash, scopes, disabled, not_before, created_at`
	APIKeyColumns = `id, digest, owner, scopes, created_at, revoked_at`
	ClientColumns = `id, secret_hash, scopes, not_before, created_at`
)

// ScanUser reads a row of UserColumns.
func ScanUser(r Scanner, scopes Scopes) (store.User, error) {
	var (
		u                    store.User
		notBefore, createdAt int64
	)
	if err := r.Scan(&u.Username, &u.PasswordHash, scopes(&u.Scopes), &u.Disabled, &notBefore, &createdAt); err != nil {
		return store.User{}, err
	}
	u.Scopes = store.NormScopes(u.Scopes)
	u.NotBefore, u.CreatedAt = store.NanosToTime(notBefore), store.NanosToTime(createdAt)
	return u, nil
}

// ScanAPIKey reads a row of APIKeyColumns.
func ScanAPIKey(r Scanner, scopes Scopes) (store.APIKey, error) {
	var (
		k                    store.APIKey
		createdAt, revokedAt int64
	)
	if err := r.Scan(&k.ID, &k.Digest, &k.Owner, scopes(&k.Scopes), &createdAt, &revokedAt); err != nil {
		return store.APIKey{}, err
	}
	k.Scopes = store.NormScopes(k.Scopes)
	k.CreatedAt, k.RevokedAt = store.NanosToTime(createdAt), store.NanosToTime(revokedAt)
	return k, nil
}

// ScanClient reads a row of ClientColumns.
func ScanClient(r Scanner, scopes Scopes) (store.Client, error) {
	var (
		c                    store.Client
		notBefore, createdAt int64
	)
	if err := r.Scan(&c.ID, &c.SecretHash, scopes(&c.Scopes), &notBefore, &createdAt); err != nil {
		return store.Client{}, err
	}
	c.Scopes = store.NormScopes(c.Scopes)
	c.NotBefore, c.CreatedAt = store.NanosToTime(notBefore), store.NanosToTime(createdAt)
	return c, nil
}

// ScanSession reads a session: its family id, subject, client id, scopes
// (the live token's), login time, issue time and expiry, in that order.
func ScanSession(r Scanner, scopes Scopes) (store.Session, error) {
	var (
		se                            store.Session
		authTime, issuedAt, expiresAt int64
	)
	if err := r.Scan(&se.FamilyID, &se.Subject, &se.ClientID, scopes(&se.Scopes), &authTime, &issuedAt, &expiresAt); err != nil {
		return store.Session{}, err
	}
	se.Scopes = store.NormScopes(se.Scopes)
	se.AuthTime, se.IssuedAt, se.ExpiresAt = store.NanosToTime(authTime), store.NanosToTime(issuedAt), store.NanosToTime(expiresAt)
	return se, nil
}

// NilIfEmpty stores an empty byte slice as NULL.
func NilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// UserChangeArgs returns the statement arguments of an update of the
// fields c sets, and nil (NULL: the statement keeps the stored value) for
// the others: the password hash, the scopes as encode stores them, and the
// disabled flag.
func UserChangeArgs(c store.UserChange, encode func([]string) any) (hash, scopes, disabled any) {
	if c.PasswordHash != "" {
		hash = c.PasswordHash
	}
	if c.Scopes != nil {
		scopes = encode(c.Scopes)
	}
	if c.Disabled != nil {
		disabled = *c.Disabled
	}
	return hash, scopes, disabled
}

// RevocationColumns are the columns of a revocations row that
// ScanRevocation reads, in its order.
const RevocationColumns = `seq, coalesce(jti, ''), coalesce(subject, ''), subject_kind, expires_at, not_before`

// ScanRevocation reads a row of RevocationColumns. Subject events name a
// user (subject_kind 0) or an OAuth client (1).
func ScanRevocation(r Scanner) (store.Revocation, error) {
	var (
		ev                   store.Revocation
		subjectKind          int
		expiresAt, notBefore int64
	)
	if err := r.Scan(&ev.Seq, &ev.JTI, &ev.Subject, &subjectKind, &expiresAt, &notBefore); err != nil {
		return store.Revocation{}, err
	}
	if subjectKind == 1 {
		ev.ClientID, ev.Subject = ev.Subject, ""
	}
	ev.ExpiresAt, ev.NotBefore = store.NanosToTime(expiresAt), store.NanosToTime(notBefore)
	return ev, nil
}

// LinkColumns are the columns of an identity_links row, in the order
// ScanIdentityLink reads them and the stores insert them.
const LinkColumns = `issuer, subject, username, provider, email, created_at`

// ScanIdentityLink reads a row of LinkColumns.
func ScanIdentityLink(r Scanner) (store.IdentityLink, error) {
	var (
		l       store.IdentityLink
		created int64
	)
	if err := r.Scan(&l.Issuer, &l.Subject, &l.Username, &l.Provider, &l.Email, &created); err != nil {
		return store.IdentityLink{}, err
	}
	l.CreatedAt = store.NanosToTime(created)
	return l, nil
}

// LinkWhat names the link of issuer and subject in errors.
func LinkWhat(issuer, subject string) string {
	return fmt.Sprintf("identity link %q %q", issuer, subject)
}

// LoginStateColumns are the columns of a login_states row after its key,
// in the order ScanLoginState reads them and the stores insert them.
const LoginStateColumns = `provider, addr, binding, verifier, nonce, return_to, expires_at`

// ScanLoginState reads a row of LoginStateColumns.
func ScanLoginState(r Scanner) (store.LoginState, error) {
	var (
		st      store.LoginState
		expires int64
	)
	if err := r.Scan(&st.Provider, &st.Addr, &st.Binding, &st.Verifier, &st.Nonce, &st.ReturnTo, &expires); err != nil {
		return store.LoginState{}, err
	}
	st.Expires = store.NanosToTime(expires)
	return st, nil
}

// LoginSweep is how many expired login states PutLoginState removes at
// most, besides those of the state's address: as each call adds one,
// expired states cannot pile up, and no call does unbounded work.
const LoginSweep = 64
