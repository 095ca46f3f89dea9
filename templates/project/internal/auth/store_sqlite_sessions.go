package auth

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Sessions implements SessionStore. The refresh tokens are not indexed by
// subject: this scans them, which is fine for an administration command.
func (s *SQLiteStore) Sessions(ctx context.Context, subject string, now time.Time) ([]Session, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT family_id, client_id, scopes, auth_time, issued_at, expires_at
		FROM refresh_tokens WHERE subject = ? AND state = 0 AND expires_at > ?`, subject, timeToNanos(now))
	if err != nil {
		return nil, sqliteErr("list sessions", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		var (
			se                            = Session{Subject: subject}
			scopes                        string
			authTime, issuedAt, expiresAt int64
		)
		if err := rows.Scan(&se.FamilyID, &se.ClientID, &scopes, &authTime, &issuedAt, &expiresAt); err != nil {
			return nil, sqliteErr("list sessions", err)
		}
		if se.Scopes, err = decodeScopes(scopes); err != nil {
			return nil, sqliteErr("list sessions", err)
		}
		se.AuthTime, se.IssuedAt, se.ExpiresAt = nanosToTime(authTime), nanosToTime(issuedAt), nanosToTime(expiresAt)
		out = append(out, se)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("list sessions", err)
	}
	sortSessions(out)
	return out, nil
}

// RevokeSession implements SessionStore.
func (s *SQLiteStore) RevokeSession(ctx context.Context, familyID string, now time.Time) error {
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
func (s *SQLiteStore) DeleteUser(ctx context.Context, username string, notBefore, now time.Time) error {
	what := fmt.Sprintf("user %q", username)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE username = ?`, username)
		if err != nil {
			return sqliteErr("delete "+what, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return sqliteErr(what, cmp.Or(err, sql.ErrNoRows))
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE owner = ? AND revoked_at = 0`, timeToNanos(now), username)
		if err != nil {
			return sqliteErr("revoke API keys of "+what, err)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO revocations (subject, not_before, expires_at) VALUES (?, ?, 0)`, username, timeToNanos(notBefore))
		if err != nil {
			return sqliteErr("record revocation of "+what, err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT family_id FROM refresh_tokens WHERE subject = ? ORDER BY family_id`, username)
		if err != nil {
			return sqliteErr("find refresh families of "+what, err)
		}
		var families []string
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				rows.Close()
				return sqliteErr("find refresh families of "+what, err)
			}
			families = append(families, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return sqliteErr("find refresh families of "+what, err)
		}
		for _, f := range families {
			if err := revokeFamily(ctx, tx, f, now); err != nil {
				return err
			}
		}
		return nil
	})
}
