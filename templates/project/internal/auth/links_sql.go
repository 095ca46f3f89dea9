package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Migration 3 of both SQL stores: identity links of login through
// external providers. A link belongs to a user (users are never deleted,
// only disabled); the primary key is the provider's issuer and subject.
const (
	sqliteLinksMigration = `
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
	postgresLinksMigration = `
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
)

const linkColumns = `issuer, subject, username, provider, email, created_at`

func scanIdentityLink(r rowScanner) (IdentityLink, error) {
	var (
		l       IdentityLink
		created int64
	)
	if err := r.Scan(&l.Issuer, &l.Subject, &l.Username, &l.Provider, &l.Email, &created); err != nil {
		return IdentityLink{}, err
	}
	l.CreatedAt = nanosToTime(created)
	return l, nil
}

func linkWhat(issuer, subject string) string {
	return fmt.Sprintf("identity link %q %q", issuer, subject)
}

// CreateIdentityLink implements IdentityLinkStore.
func (s *SQLiteStore) CreateIdentityLink(ctx context.Context, l IdentityLink) error {
	if err := checkIdentityLink(l); err != nil {
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
		`INSERT INTO identity_links (`+linkColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		l.Issuer, l.Subject, l.Username, l.Provider, l.Email, timeToNanos(l.CreatedAt))
	if err := insertResult(linkWhat(l.Issuer, l.Subject), res, err); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return sqliteErr("commit", err)
	}
	return nil
}

// IdentityLink implements IdentityLinkStore.
func (s *SQLiteStore) IdentityLink(ctx context.Context, issuer, subject string) (IdentityLink, error) {
	l, err := scanIdentityLink(s.read.QueryRowContext(ctx,
		`SELECT `+linkColumns+` FROM identity_links WHERE issuer = ? AND subject = ?`, issuer, subject))
	if err != nil {
		return IdentityLink{}, sqliteErr(linkWhat(issuer, subject), err)
	}
	return l, nil
}

// ListIdentityLinks implements IdentityLinkStore.
func (s *SQLiteStore) ListIdentityLinks(ctx context.Context) ([]IdentityLink, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+linkColumns+` FROM identity_links`)
	if err != nil {
		return nil, sqliteErr("list identity links", err)
	}
	defer rows.Close()
	out := []IdentityLink{}
	for rows.Next() {
		l, err := scanIdentityLink(rows)
		if err != nil {
			return nil, sqliteErr("list identity links", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("list identity links", err)
	}
	sortIdentityLinks(out) // in Go: SQLite's collation is not Go's order
	return out, nil
}

// DeleteIdentityLink implements IdentityLinkStore.
func (s *SQLiteStore) DeleteIdentityLink(ctx context.Context, issuer, subject string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM identity_links WHERE issuer = ? AND subject = ?`, issuer, subject)
	if err != nil {
		return sqliteErr("delete "+linkWhat(issuer, subject), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return sqliteErr("delete "+linkWhat(issuer, subject), err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, linkWhat(issuer, subject))
	}
	return nil
}

// CreateIdentityLink implements IdentityLinkStore.
func (s *PostgresStore) CreateIdentityLink(ctx context.Context, l IdentityLink) error {
	if err := checkIdentityLink(l); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO identity_links (`+linkColumns+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		l.Issuer, l.Subject, l.Username, l.Provider, l.Email, timeToNanos(l.CreatedAt))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: no such user
		return fmt.Errorf("%w: user %q", ErrNotFound, l.Username)
	}
	return pgInserted(linkWhat(l.Issuer, l.Subject), tag, err)
}

// IdentityLink implements IdentityLinkStore.
func (s *PostgresStore) IdentityLink(ctx context.Context, issuer, subject string) (IdentityLink, error) {
	if !pgText(issuer) || !pgText(subject) {
		return IdentityLink{}, fmt.Errorf("%w: %s", ErrNotFound, linkWhat(issuer, subject))
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	l, err := scanIdentityLink(s.pool.QueryRow(ctx,
		`SELECT `+linkColumns+` FROM identity_links WHERE issuer = $1 AND subject = $2`, issuer, subject))
	if err != nil {
		return IdentityLink{}, pgErr(linkWhat(issuer, subject), err)
	}
	return l, nil
}

// ListIdentityLinks implements IdentityLinkStore.
func (s *PostgresStore) ListIdentityLinks(ctx context.Context) ([]IdentityLink, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+linkColumns+` FROM identity_links`)
	if err != nil {
		return nil, pgErr("list identity links", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (IdentityLink, error) { return scanIdentityLink(r) })
	if err != nil {
		return nil, pgErr("list identity links", err)
	}
	sortIdentityLinks(out)
	return out, nil
}

// DeleteIdentityLink implements IdentityLinkStore.
func (s *PostgresStore) DeleteIdentityLink(ctx context.Context, issuer, subject string) error {
	if !pgText(issuer) || !pgText(subject) {
		return fmt.Errorf("%w: %s", ErrNotFound, linkWhat(issuer, subject))
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM identity_links WHERE issuer = $1 AND subject = $2`, issuer, subject)
	if err != nil {
		return pgErr("delete "+linkWhat(issuer, subject), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, linkWhat(issuer, subject))
	}
	return nil
}
