package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Sessions implements SessionStore. The refresh tokens are not indexed by
// subject: this scans them, which is fine for an administration command.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	out, err := list(ctx, s.read, "list sessions", `SELECT family_id, subject, client_id, scopes, auth_time, issued_at, expires_at
		FROM refresh_tokens WHERE subject = ? AND state = 0 AND expires_at > ?`,
		func(r sqlstore.Scanner) (store.Session, error) { return sqlstore.ScanSession(r, jsonScopes) },
		subject, store.TimeToNanos(now))
	if err != nil {
		return nil, err
	}
	store.SortSessions(out)
	return out, nil
}

// RevokeSession implements SessionStore.
func (s *Store) RevokeSession(ctx context.Context, familyID string, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM refresh_tokens WHERE family_id = ?`, familyID).Scan(&n); err != nil {
			return sqliteErr("find session", err)
		}
		if n == 0 {
			return sqliteErr(fmt.Sprintf("session %q", familyID), sql.ErrNoRows)
		}
		return revokeFamily(ctx, tx, familyID, now)
	})
}

// DeleteUser implements SessionStore.
func (s *Store) DeleteUser(ctx context.Context, username string, notBefore, now time.Time) error {
	what := fmt.Sprintf("user %q", username)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
		if err != nil {
			return sqliteErr("delete "+what, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return sqliteErr(what, cmp.Or(err, sql.ErrNoRows))
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE owner = ? AND revoked_at = 0`, store.TimeToNanos(now), username)
		if err != nil {
			return sqliteErr("revoke API keys of "+what, err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO revocations (subject, not_before, expires_at) VALUES (?, ?, 0)`, username, store.TimeToNanos(notBefore))
		if err != nil {
			return sqliteErr("record revocation of "+what, err)
		}
		return revokeFamiliesOf(ctx, tx, "subject", username, what, now)
	})
}
