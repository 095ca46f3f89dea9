package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Migration 3: identity links of login through external providers. A link
// belongs to a user (users are never deleted, only disabled); the primary
// key is the provider's issuer and subject.
const linksMigration = `
CREATE TABLE identity_links (
	issuer     text NOT NULL,
	subject    text NOT NULL,
	username   text NOT NULL REFERENCES users (username),
	provider   text NOT NULL,
	email      text NOT NULL,
	created_at bigint NOT NULL,
	PRIMARY KEY (issuer, subject)
);
CREATE INDEX identity_links_user ON identity_links (username);
`

// CreateIdentityLink implements IdentityLinkStore.
func (s *Store) CreateIdentityLink(ctx context.Context, l store.IdentityLink) error {
	if err := store.CheckIdentityLink(l); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO identity_links (`+sqlstore.LinkColumns+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		l.Issuer, l.Subject, l.Username, l.Provider, l.Email, store.TimeToNanos(l.CreatedAt))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: no such user
		return fmt.Errorf("%w: user %q", store.ErrNotFound, l.Username)
	}
	return pgInserted(sqlstore.LinkWhat(l.Issuer, l.Subject), tag, err)
}

// IdentityLink implements IdentityLinkStore.
func (s *Store) IdentityLink(ctx context.Context, issuer, subject string) (store.IdentityLink, error) {
	if !pgText(issuer) || !pgText(subject) {
		return store.IdentityLink{}, fmt.Errorf("%w: %s", store.ErrNotFound, sqlstore.LinkWhat(issuer, subject))
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	l, err := sqlstore.ScanIdentityLink(s.pool.QueryRow(ctx,
		`SELECT `+sqlstore.LinkColumns+` FROM identity_links WHERE issuer = $1 AND subject = $2`, issuer, subject))
	if err != nil {
		return store.IdentityLink{}, pgErr(sqlstore.LinkWhat(issuer, subject), err)
	}
	return l, nil
}

// ListIdentityLinks implements IdentityLinkStore.
func (s *Store) ListIdentityLinks(ctx context.Context) ([]store.IdentityLink, error) {
	out, err := pgList(ctx, s, "list identity links", `SELECT `+sqlstore.LinkColumns+` FROM identity_links`, sqlstore.ScanIdentityLink)
	if err != nil {
		return nil, err
	}
	store.SortIdentityLinks(out)
	return out, nil
}

// DeleteIdentityLink implements IdentityLinkStore.
func (s *Store) DeleteIdentityLink(ctx context.Context, issuer, subject string) error {
	if !pgText(issuer) || !pgText(subject) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, sqlstore.LinkWhat(issuer, subject))
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM identity_links WHERE issuer = $1 AND subject = $2`, issuer, subject)
	if err != nil {
		return pgErr("delete "+sqlstore.LinkWhat(issuer, subject), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", store.ErrNotFound, sqlstore.LinkWhat(issuer, subject))
	}
	return nil
}
