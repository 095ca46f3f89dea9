package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// sessionStore returns the accounts' store as a SessionStore.
func (a *Accounts) sessionStore() (store.SessionStore, error) {
	s, ok := a.store.(store.SessionStore)
	if !ok {
		return nil, errors.New("auth: this store cannot list or end sessions")
	}
	return s, nil
}

// Sessions returns the live sessions of a user (the name is normalised).
func (a *Accounts) Sessions(ctx context.Context, username string) ([]store.Session, error) {
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
	return a.store.UpdateUser(ctx, name, store.UserChange{Disabled: new(false)})
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
	return a.store.UpdateUser(ctx, name, store.UserChange{Scopes: sc, NotBefore: a.notBefore()})
}

// UserExists reports whether a user of this (normalised) name exists.
func (a *Accounts) UserExists(ctx context.Context, username string) (bool, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return false, err
	}
	switch _, err := a.store.User(ctx, name); {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("auth: look up user %q: %w", name, err)
	}
	return true, nil
}
