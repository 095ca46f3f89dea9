package auth

import (
	"errors"
	"time"
)

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

// ErrSecretRotatedMeanwhile is UpdateClient's answer when the client's
// secret hash is no longer the one the change expects: another rotation
// (or a removal and a new client under the same id) came first. Nothing
// was changed.
var ErrSecretRotatedMeanwhile = errors.New("auth: the client's secret was changed by another process meanwhile; this change was not applied")
