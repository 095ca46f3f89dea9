package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Session is one login: a refresh token family, as `server sessions list`
// shows it.
type Session struct {
	FamilyID  string
	Subject   string
	ClientID  string
	Scopes    []string  // the live token's
	AuthTime  time.Time // the login
	IssuedAt  time.Time // the live token's issue time: the last refresh
	ExpiresAt time.Time // the family's absolute expiry
}

// SessionStore is the part of the stores that the administration commands
// use to list and end sessions and to delete users. Every store of this
// package implements it; the conformance suite checks each one.
type SessionStore interface {
	// Sessions returns subject's live sessions at now (families with a
	// live token that have not expired), sorted by login time, then id.
	Sessions(ctx context.Context, subject string, now time.Time) ([]Session, error)
	// RevokeSession revokes the family with this id as RevokeRefresh does
	// (its access tokens are denied). ErrNotFound if no token of it is
	// stored; revoking a revoked family is a no-op.
	RevokeSession(ctx context.Context, familyID string, now time.Time) error
	// DeleteUser removes the user (ErrNotFound if unknown) and, in the same
	// transaction, ends everything issued to it: it revokes the API keys
	// the user owns (at now), revokes every refresh family of the user as
	// RevokeRefresh does, and appends a Subject event with notBefore to the
	// revocation feed, so that access tokens already issued are refused
	// everywhere, and a user later created under the same name inherits
	// none of them.
	DeleteUser(ctx context.Context, username string, notBefore, now time.Time) error
}

var (
	_ SessionStore = (*MemoryStore)(nil)
	_ SessionStore = (*SQLiteStore)(nil)
	_ SessionStore = (*PostgresStore)(nil)
)

// sessionStore returns the accounts' store as a SessionStore.
func (a *Accounts) sessionStore() (SessionStore, error) {
	s, ok := a.store.(SessionStore)
	if !ok {
		return nil, errors.New("auth: this store cannot list or end sessions")
	}
	return s, nil
}

// Sessions returns the live sessions of a user (the name is normalised).
func (a *Accounts) Sessions(ctx context.Context, username string) ([]Session, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	s, err := a.sessionStore()
	if err != nil {
		return nil, err
	}
	return s.Sessions(ctx, name, a.now())
}

// RevokeSession ends one session: its refresh token stops working and the
// access tokens issued with it are denied in every process.
func (a *Accounts) RevokeSession(ctx context.Context, familyID string) error {
	s, err := a.sessionStore()
	if err != nil {
		return err
	}
	return s.RevokeSession(ctx, familyID, a.now())
}

// DeleteUser deletes a user and ends at once everything issued to it: its
// sessions (refresh tokens and access tokens, through NotBefore as
// DisableUser does) and its API keys.
func (a *Accounts) DeleteUser(ctx context.Context, username string) error {
	name, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	s, err := a.sessionStore()
	if err != nil {
		return err
	}
	return s.DeleteUser(ctx, name, a.notBefore(), a.now())
}

// EnableUser enables a disabled user. Sessions ended by the disable stay
// ended; the user logs in again.
func (a *Accounts) EnableUser(ctx context.Context, username string) error {
	name, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	return a.store.UpdateUser(ctx, name, UserChange{Disabled: new(false)})
}

// SetScopes replaces a user's scopes and ends the user's sessions, whose
// tokens carry the scopes granted at login: a scope taken away stops
// working at once, and one granted is in the tokens of the next login.
// It changes nothing else: a concurrent password change or disable stays.
func (a *Accounts) SetScopes(ctx context.Context, username string, scopes []string) error {
	name, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	sc, err := cleanScopes(scopes)
	if err != nil {
		return err
	}
	if sc == nil {
		sc = []string{} // no scopes at all, not "unchanged"
	}
	return a.store.UpdateUser(ctx, name, UserChange{Scopes: sc, NotBefore: a.notBefore()})
}

// UserExists reports whether a user of this (normalised) name exists.
func (a *Accounts) UserExists(ctx context.Context, username string) (bool, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return false, err
	}
	switch _, err := a.store.User(ctx, name); {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("auth: look up user %q: %w", name, err)
	}
	return true, nil
}
