package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Sessions implements SessionStore. Refresh families are not indexed by
// subject: this scans them, which is fine for an administration command.
func (s *Store) Sessions(ctx context.Context, subject string, now time.Time) ([]store.Session, error) {
	if !pgText(subject) {
		return []store.Session{}, nil
	}
	out, err := pgList(ctx, s, "list sessions", `SELECT f.id, f.subject, f.client_id, t.scopes, f.auth_time, t.issued_at, f.expires_at
		FROM refresh_families f JOIN refresh_tokens t ON t.family_id = f.id
		WHERE f.subject = $1 AND t.state = 0 AND f.expires_at > $2`,
		func(r sqlstore.Scanner) (store.Session, error) { return sqlstore.ScanSession(r, textScopes) },
		subject, store.TimeToNanos(now))
	if err != nil {
		return nil, err
	}
	store.SortSessions(out)
	return out, nil
}

// RevokeSession implements SessionStore.
func (s *Store) RevokeSession(ctx context.Context, familyID string, now time.Time) error {
	what := fmt.Sprintf("session %q", familyID)
	if !pgText(familyID) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "revoke "+what, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM refresh_families WHERE id = $1 FOR UPDATE`, familyID).Scan(&id); err != nil {
			return pgErr(what, err)
		}
		return s.revokeFamily(ctx, tx, id, now)
	})
}

// DeleteUser implements SessionStore. It takes its locks in the order
// DeleteClient does: the row deleted, the families, then the feed.
func (s *Store) DeleteUser(ctx context.Context, username string, notBefore, now time.Time) error {
	what := fmt.Sprintf("user %q", username)
	if !pgText(username) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "delete "+what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE username = $1`, username)
		if err != nil {
			return pgErr("delete "+what, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", store.ErrNotFound, what)
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE owner = $1 AND revoked_at = 0`, username, store.TimeToNanos(now))
		if err != nil {
			return pgErr("revoke API keys of "+what, err)
		}
		families, err := lockFamiliesOf(ctx, tx, "subject", username, what)
		if err != nil {
			return err
		}
		if err := s.lockFeed(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO revocations (subject, not_before, expires_at) VALUES ($1, $2, 0)`, username, store.TimeToNanos(notBefore))
		if err != nil {
			return pgErr("record revocation of "+what, err)
		}
		return s.revokeFamilies(ctx, tx, families, now)
	})
}
