package sqlite

import (
	"context"
	"fmt"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Migration 3: identity links of login through external providers. A link
// belongs to a user (users are never deleted, only disabled); the primary
// key is the provider's issuer and subject.
const linksMigration = `
CREATE TABLE identity_links (
	issuer     TEXT NOT NULL,
	subject    TEXT NOT NULL,
	username   TEXT NOT NULL REFERENCES users (username),
	provider   TEXT NOT NULL,
	email      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX identity_links_user ON identity_links (username);
`

// CreateIdentityLink implements IdentityLinkStore.
func (s *Store) CreateIdentityLink(ctx context.Context, l store.IdentityLink) error {
	if err := store.CheckIdentityLink(l); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE username = ?`, l.Username).Scan(&one); err != nil {
		return sqliteErr(fmt.Sprintf("user %q", l.Username), err)
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO identity_links (`+sqlstore.LinkColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		l.Issuer, l.Subject, l.Username, l.Provider, l.Email, store.TimeToNanos(l.CreatedAt))
	if err := insertResult(sqlstore.LinkWhat(l.Issuer, l.Subject), res, err); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return sqliteErr("commit", err)
	}
	return nil
}

// IdentityLink implements IdentityLinkStore.
func (s *Store) IdentityLink(ctx context.Context, issuer, subject string) (store.IdentityLink, error) {
	l, err := sqlstore.ScanIdentityLink(s.read.QueryRowContext(ctx,
		`SELECT `+sqlstore.LinkColumns+` FROM identity_links WHERE issuer = ? AND subject = ?`, issuer, subject))
	if err != nil {
		return store.IdentityLink{}, sqliteErr(sqlstore.LinkWhat(issuer, subject), err)
	}
	return l, nil
}

// ListIdentityLinks implements IdentityLinkStore.
func (s *Store) ListIdentityLinks(ctx context.Context) ([]store.IdentityLink, error) {
	out, err := list(ctx, s.read, "list identity links", `SELECT `+sqlstore.LinkColumns+` FROM identity_links`, sqlstore.ScanIdentityLink)
	if err != nil {
		return nil, err
	}
	store.SortIdentityLinks(out) // in Go: SQLite's collation is not Go's order
	return out, nil
}

// DeleteIdentityLink implements IdentityLinkStore.
func (s *Store) DeleteIdentityLink(ctx context.Context, issuer, subject string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM identity_links WHERE issuer = ? AND subject = ?`, issuer, subject)
	if err != nil {
		return sqliteErr("delete "+sqlstore.LinkWhat(issuer, subject), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return sqliteErr("delete "+sqlstore.LinkWhat(issuer, subject), err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s", store.ErrNotFound, sqlstore.LinkWhat(issuer, subject))
	}
	return nil
}
