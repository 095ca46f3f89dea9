package store

import (
	"context"
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
// use to list and end sessions and to delete users. Every Store of this
// runtime implements it; the conformance suite checks each one.
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
