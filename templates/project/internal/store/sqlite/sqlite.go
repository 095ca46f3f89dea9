// Package sqlite is the default Store: one SQLite file, with no database
// server to run, through modernc.org/sqlite (pure Go, no cgo).
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Store is a store.Store in one SQLite file: the default, with no database
// server to run. Several processes on one machine (the server and its admin
// subcommands) may use the same file at once.
//
// It keeps two connection pools on the file. Writes go through a pool of
// exactly one connection, and every write transaction starts with BEGIN
// IMMEDIATE: SQLite allows one writer at a time, so within the process
// writers queue in database/sql instead of failing with SQLITE_BUSY, and a
// writer in another process is waited for by the busy timeout (an IMMEDIATE
// transaction takes the write lock up front, where the busy handler applies;
// a deferred one that upgrades from reading to writing can fail at once).
// Reads use a separate read-only pool of several connections: in WAL mode
// they run concurrently with the writer and see only committed data.
type Store struct {
	write *sql.DB
	read  *sql.DB

	opened  int // schema version found when the store was opened
	pruning store.PruneSchedule
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.SchemaMigrator    = (*Store)(nil)
	_ store.SessionStore      = (*Store)(nil)
	_ store.IdentityLinkStore = (*Store)(nil)
	_ store.LoginStateStore   = (*Store)(nil)
)

// sqliteBusyTimeout is how long a statement waits for another process's
// write lock before failing.
const sqliteBusyTimeout = 10 * time.Second

// Open opens the SQLite database at path, creating the file (mode
// 0600) and its directory (mode 0700) if needed, and brings its schema up to
// date. It refuses a database whose schema is newer than this code.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("auth: sqlite: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("auth: sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("auth: sqlite: create directory: %w", err)
	}
	// Create the file ourselves so that it is private from the start; SQLite
	// gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: sqlite: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("auth: sqlite: create database file: %w", err)
	}

	// A file: URI, so that no character of the path is taken for a
	// parameter; the driver reads the underscore parameters, SQLite the
	// rest.
	slashed := filepath.ToSlash(abs)
	if !strings.HasPrefix(slashed, "/") {
		slashed = "/" + slashed // file:///C:/dir/auth.db on Windows
	}
	uri := (&url.URL{Scheme: "file", Path: slashed}).String()
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)",
		sqliteBusyTimeout.Milliseconds())

	write, err := sql.Open("sqlite", uri+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("auth: sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	s := &Store{write: write}
	// The writer's first connection switches the file to WAL before any
	// reader opens it.
	if s.opened, err = s.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", uri+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("auth: sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("auth: sqlite: open: %w", err)
	}
	s.read = read
	return s, nil
}

// migrations returns the schema changes in order; migration i brings
// the schema to version i+1. Released migrations are never edited, only
// appended to. Times are Unix nanoseconds (0 for none), digests BLOBs, scope
// lists JSON arrays of strings.
func migrations() []string {
	return []string{
		// 1: initial schema.
		`
CREATE TABLE users (
	username      TEXT    NOT NULL PRIMARY KEY,
	password_hash TEXT    NOT NULL,
	scopes        TEXT    NOT NULL,
	disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	not_before    INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
	id         TEXT    NOT NULL PRIMARY KEY,
	digest     BLOB    NOT NULL UNIQUE,
	owner      TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
) STRICT;

CREATE TABLE clients (
	id          TEXT    NOT NULL PRIMARY KEY,
	secret_hash TEXT    NOT NULL,
	scopes      TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

-- state: 0 live, 1 rotated, 2 revoked.
CREATE TABLE refresh_tokens (
	digest     BLOB    NOT NULL PRIMARY KEY,
	family_id  TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	issued_at  INTEGER NOT NULL,
	auth_time  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	state      INTEGER NOT NULL CHECK (state IN (0, 1, 2))
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE refresh_access_tokens (
	refresh_digest BLOB    NOT NULL REFERENCES refresh_tokens (digest) ON DELETE CASCADE,
	jti            TEXT    NOT NULL,
	expires_at     INTEGER NOT NULL,
	PRIMARY KEY (refresh_digest, jti)
) STRICT;

-- The revocation feed. AUTOINCREMENT: sequence numbers are never reused,
-- even after the newest events are pruned.
CREATE TABLE revocations (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	jti        TEXT,
	subject    TEXT,
	expires_at INTEGER NOT NULL,
	not_before INTEGER NOT NULL,
	CHECK ((jti IS NULL) <> (subject IS NULL))
) STRICT;
CREATE INDEX revocations_expiry ON revocations (expires_at) WHERE jti IS NOT NULL;
`,
		// 2: client revocation and refresh retries.
		`
-- A client's not-before time: tokens issued to it earlier are over.
ALTER TABLE clients ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;

-- Subject events name a user (0) or an OAuth client (1).
ALTER TABLE revocations ADD COLUMN subject_kind INTEGER NOT NULL DEFAULT 0 CHECK (subject_kind IN (0, 1));

-- Set when a token is rotated: when, its successor's digest, and the
-- sealed successor a retry within the grace period is answered with.
ALTER TABLE refresh_tokens ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN successor BLOB;
ALTER TABLE refresh_tokens ADD COLUMN sealed BLOB;
CREATE INDEX refresh_tokens_client ON refresh_tokens (client_id) WHERE client_id <> '';
`,
		// 3: identity links of login through external providers.
		linksMigration,
		// 4: started logins through external providers.
		loginStatesMigration,
	}
}

// SchemaVersion is the version of the schema this code migrates to.
func SchemaVersion() int { return len(migrations()) }

// Migrate implements SchemaMigrator.
func (s *Store) Migrate(ctx context.Context) (store.SchemaVersions, error) {
	if _, err := s.migrate(ctx); err != nil {
		return store.SchemaVersions{}, err
	}
	return store.SchemaVersions{Opened: s.opened, Current: len(migrations())}, nil
}

// migrate applies the migrations not yet recorded in schema_version, each
// in its own transaction together with its record, so a crash leaves the
// schema at a known version and concurrent openers do not apply one twice.
// It returns the version it found.
func (s *Store) migrate(ctx context.Context) (int, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`
	if _, err := s.write.ExecContext(ctx, create); err != nil {
		return 0, fmt.Errorf("auth: sqlite: create schema_version: %w", err)
	}
	steps := migrations()
	var current int
	if err := s.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return 0, fmt.Errorf("auth: sqlite: read schema version: %w", err)
	}
	if current > len(steps) {
		return 0, fmt.Errorf("auth: sqlite: the database schema is at version %d, newer than this server supports (%d)", current, len(steps))
	}
	for i, m := range steps {
		version := i + 1
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var applied int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_version WHERE version = ?`, version).Scan(&applied); err != nil {
				return err
			}
			if applied > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
				version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("auth: sqlite: migrate to version %d: %w", version, err)
		}
	}
	return current, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE), committing if fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// encodeScopes stores a scope list as a JSON array.
func encodeScopes(scopes []string) string {
	b, _ := json.Marshal(store.NormScopes(scopes)) // a []string always marshals
	return string(b)
}

// scopeList scans a scope list stored as a JSON array.
type scopeList []string

// Scan implements sql.Scanner.
func (l *scopeList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("corrupt scope list: a %T", src)
	}
	if err := json.Unmarshal(b, (*[]string)(l)); err != nil {
		return fmt.Errorf("corrupt scope list: %w", err)
	}
	return nil
}

// jsonScopes is the destination of a scope list column (sqlstore.Scopes).
func jsonScopes(p *[]string) any { return (*scopeList)(p) }

// The rows SQLite keeps as PostgreSQL does.

func scanUser(r sqlstore.Scanner) (store.User, error) {
	return sqlstore.ScanUser(r, jsonScopes)
}

func scanAPIKey(r sqlstore.Scanner) (store.APIKey, error) {
	return sqlstore.ScanAPIKey(r, jsonScopes)
}

func scanClient(r sqlstore.Scanner) (store.Client, error) {
	return sqlstore.ScanClient(r, jsonScopes)
}

// sqliteErr wraps a database error with what was being done; sql.ErrNoRows
// becomes ErrNotFound.
func sqliteErr(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return fmt.Errorf("auth: sqlite: %s: %w", what, err)
}

// CreateUser implements Store.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := store.CheckUser(u); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO users (`+sqlstore.UserColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.Username, u.PasswordHash, encodeScopes(u.Scopes), u.Disabled, store.TimeToNanos(u.NotBefore), store.TimeToNanos(u.CreatedAt))
	return insertResult(fmt.Sprintf("user %q", u.Username), res, err)
}

// insertResult turns the result of an INSERT ... ON CONFLICT DO NOTHING into
// ErrExists when nothing was inserted.
func insertResult(what string, res sql.Result, err error) error {
	if err != nil {
		return sqliteErr("insert "+what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return sqliteErr("insert "+what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", store.ErrExists, what)
	}
	return nil
}

// User implements Store.
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+sqlstore.UserColumns+` FROM users WHERE username = ?`, username))
	if err != nil {
		return store.User{}, sqliteErr(fmt.Sprintf("user %q", username), err)
	}
	return u, nil
}

// UpdateUser implements Store. The fields c does not set are kept by the
// statement itself (coalesce), not read and written back; a later
// NotBefore is appended to the revocation feed in the same transaction.
func (s *Store) UpdateUser(ctx context.Context, username string, c store.UserChange) error {
	what := fmt.Sprintf("user %q", username)
	hash, scopes, disabled := sqlstore.UserChangeArgs(c, func(sc []string) any { return encodeScopes(sc) })
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var oldNotBefore int64
		err := tx.QueryRowContext(ctx, `SELECT not_before FROM users WHERE username = ?`, username).Scan(&oldNotBefore)
		if err != nil {
			return sqliteErr(what, err)
		}
		notBefore := max(store.TimeToNanos(c.NotBefore), oldNotBefore)
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = coalesce(?, password_hash), scopes = coalesce(?, scopes),
			disabled = coalesce(?, disabled), not_before = ? WHERE username = ?`,
			hash, scopes, disabled, notBefore, username)
		if err != nil {
			return sqliteErr("update "+what, err)
		}
		if notBefore != oldNotBefore {
			_, err = tx.ExecContext(ctx,
				`INSERT INTO revocations (subject, not_before, expires_at) VALUES (?, ?, 0)`, username, notBefore)
			if err != nil {
				return sqliteErr("record revocation of "+what, err)
			}
		}
		return nil
	})
}

// ReplacePasswordHash implements Store, in one conditional UPDATE.
func (s *Store) ReplacePasswordHash(ctx context.Context, username, oldHash, newHash string) error {
	what := fmt.Sprintf("user %q", username)
	res, err := s.write.ExecContext(ctx,
		`UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?`, newHash, username, oldHash)
	if err != nil {
		return sqliteErr("replace password hash of "+what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return sqliteErr("replace password hash of "+what, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s with that password hash", store.ErrNotFound, what)
	}
	return nil
}

// ListUsers implements Store.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return list(ctx, s.read, "list users", `SELECT `+sqlstore.UserColumns+` FROM users ORDER BY username`, scanUser)
}

// queryer is *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// list runs a query and scans every row; an empty result is an empty
// slice, not nil.
func list[T any](ctx context.Context, q queryer, what, query string, scan func(sqlstore.Scanner) (T, error), args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, sqliteErr(what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, sqliteErr(what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr(what, err)
	}
	return out, nil
}

// CreateAPIKey implements Store. A duplicate id or digest is ErrExists.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if err := store.CheckAPIKey(k); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO api_keys (`+sqlstore.APIKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.ID, k.Digest, k.Owner, encodeScopes(k.Scopes), store.TimeToNanos(k.CreatedAt), store.TimeToNanos(k.RevokedAt))
	return insertResult(fmt.Sprintf("API key %q", k.ID), res, err)
}

// APIKeyByDigest implements Store.
func (s *Store) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	k, err := scanAPIKey(s.read.QueryRowContext(ctx,
		`SELECT `+sqlstore.APIKeyColumns+` FROM api_keys WHERE digest = ? AND revoked_at = 0`, digest))
	if err != nil {
		return store.APIKey{}, sqliteErr("API key", err)
	}
	return k, nil
}

// RevokeAPIKey implements Store. Revoking a revoked key keeps its first
// revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("API key %q", id)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var revokedAt int64
		if err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_keys WHERE id = ?`, id).Scan(&revokedAt); err != nil {
			return sqliteErr(what, err)
		}
		if revokedAt != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, store.TimeToNanos(at), id); err != nil {
			return sqliteErr("revoke "+what, err)
		}
		return nil
	})
}

// ListAPIKeys implements Store. Revoked keys are included.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	return list(ctx, s.read, "list API keys", `SELECT `+sqlstore.APIKeyColumns+` FROM api_keys ORDER BY id`, scanAPIKey)
}

// CreateClient implements Store.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	if err := store.CheckClient(c); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO clients (`+sqlstore.ClientColumns+`) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, c.SecretHash, encodeScopes(c.Scopes), store.TimeToNanos(c.NotBefore), store.TimeToNanos(c.CreatedAt))
	return insertResult(fmt.Sprintf("client %q", c.ID), res, err)
}

// UpdateClient implements Store. A later NotBefore is appended to the
// revocation feed in the same transaction.
func (s *Store) UpdateClient(ctx context.Context, id string, c store.ClientChange) error {
	what := fmt.Sprintf("client %q", id)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var oldHash string
		var oldNotBefore int64
		err := tx.QueryRowContext(ctx, `SELECT secret_hash, not_before FROM clients WHERE id = ?`, id).Scan(&oldHash, &oldNotBefore)
		if err != nil {
			return sqliteErr(what, err)
		}
		hash, err := c.SecretHashOver(oldHash)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		notBefore := max(store.TimeToNanos(c.NotBefore), oldNotBefore)
		_, err = tx.ExecContext(ctx, `UPDATE clients SET secret_hash = ?, not_before = ? WHERE id = ?`,
			hash, notBefore, id)
		if err != nil {
			return sqliteErr("update "+what, err)
		}
		if notBefore != oldNotBefore {
			return recordClientRevocation(ctx, tx, id, notBefore)
		}
		return nil
	})
}

// DeleteClient implements Store.
func (s *Store) DeleteClient(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("client %q", id)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err != nil {
			return sqliteErr("delete "+what, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return sqliteErr(what, cmp.Or(err, sql.ErrNoRows))
		}
		if err := recordClientRevocation(ctx, tx, id, store.TimeToNanos(at)); err != nil {
			return err
		}
		return revokeFamiliesOf(ctx, tx, "client_id", id, "client", at)
	})
}

// revokeFamiliesOf revokes, as revokeFamily does, the refresh families
// bound to a client or of a subject (column is client_id or subject), in
// the order of their ids.
func revokeFamiliesOf(ctx context.Context, tx *sql.Tx, column, value, what string, now time.Time) error {
	families, err := list(ctx, tx, "find refresh families of "+what,
		`SELECT DISTINCT family_id FROM refresh_tokens WHERE `+column+` = ? ORDER BY family_id`,
		func(r sqlstore.Scanner) (f string, err error) { return f, r.Scan(&f) }, value)
	if err != nil {
		return err
	}
	for _, f := range families {
		if err := revokeFamily(ctx, tx, f, now); err != nil {
			return err
		}
	}
	return nil
}

// recordClientRevocation appends a client's not-before time to the feed.
func recordClientRevocation(ctx context.Context, tx *sql.Tx, clientID string, notBefore int64) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO revocations (subject, subject_kind, not_before, expires_at) VALUES (?, 1, ?, 0)`, clientID, notBefore)
	if err != nil {
		return sqliteErr(fmt.Sprintf("record revocation of client %q", clientID), err)
	}
	return nil
}

// Client implements Store.
func (s *Store) Client(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.read.QueryRowContext(ctx, `SELECT `+sqlstore.ClientColumns+` FROM clients WHERE id = ?`, id))
	if err != nil {
		return store.Client{}, sqliteErr(fmt.Sprintf("client %q", id), err)
	}
	return c, nil
}

// ListClients implements Store.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	return list(ctx, s.read, "list clients", `SELECT `+sqlstore.ClientColumns+` FROM clients ORDER BY id`, scanClient)
}

// insertRefresh inserts t (already checked) and its access token jtis.
func insertRefresh(ctx context.Context, tx *sql.Tx, t store.RefreshToken) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens
		(digest, family_id, subject, client_id, scopes, issued_at, auth_time, expires_at, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING`,
		t.Digest, t.FamilyID, t.Subject, t.ClientID, encodeScopes(t.Scopes),
		store.TimeToNanos(t.IssuedAt), store.TimeToNanos(t.AuthTime), store.TimeToNanos(t.ExpiresAt))
	if err := insertResult("refresh token", res, err); err != nil {
		return err
	}
	for _, a := range t.AccessJTIs {
		if err := addAccessJTI(ctx, tx, t.Digest, a); err != nil {
			return err
		}
	}
	return nil
}

func addAccessJTI(ctx context.Context, tx *sql.Tx, digest []byte, a store.DeniedToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_access_tokens (refresh_digest, jti, expires_at)
		VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at`,
		digest, a.JTI, store.TimeToNanos(a.ExpiresAt))
	if err != nil {
		return sqliteErr("record access token", err)
	}
	return nil
}

// CreateRefresh implements Store. A duplicate digest is ErrExists.
func (s *Store) CreateRefresh(ctx context.Context, t store.RefreshToken) error {
	if err := store.CheckRefresh(t); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.prune(ctx, tx, t.IssuedAt); err != nil {
			return err
		}
		return insertRefresh(ctx, tx, t)
	})
}

// refreshByDigest reads a refresh token and its rotation state; the access
// tokens recorded on it are read only if withJTIs.
func refreshByDigest(ctx context.Context, tx *sql.Tx, digest []byte, withJTIs bool) (store.RefreshRow, error) {
	var (
		r                             store.RefreshRow
		issuedAt, authTime, expiresAt int64
		rotatedAt                     int64
	)
	t := &r.Token
	err := tx.QueryRowContext(ctx, `SELECT digest, family_id, subject, client_id, scopes, issued_at, auth_time, expires_at,
			state, rotated_at, successor, sealed
		FROM refresh_tokens WHERE digest = ?`, digest).
		Scan(&t.Digest, &t.FamilyID, &t.Subject, &t.ClientID, jsonScopes(&t.Scopes), &issuedAt, &authTime, &expiresAt,
			&r.State, &rotatedAt, &r.Successor, &r.Sealed)
	if err != nil {
		return store.RefreshRow{}, sqliteErr("refresh token", err)
	}
	t.Scopes = store.NormScopes(t.Scopes)
	t.IssuedAt, t.AuthTime, t.ExpiresAt = store.NanosToTime(issuedAt), store.NanosToTime(authTime), store.NanosToTime(expiresAt)
	r.RotatedAt = store.NanosToTime(rotatedAt)
	if withJTIs {
		if t.AccessJTIs, err = accessJTIs(ctx, tx, digest); err != nil {
			return store.RefreshRow{}, err
		}
	}
	return r, nil
}

// accessJTIs returns the access tokens recorded on a refresh token, by
// expiry then jti.
func accessJTIs(ctx context.Context, tx *sql.Tx, digest []byte) ([]store.DeniedToken, error) {
	rows, err := tx.QueryContext(ctx, `SELECT jti, expires_at FROM refresh_access_tokens
		WHERE refresh_digest = ? ORDER BY expires_at, jti`, digest)
	if err != nil {
		return nil, sqliteErr("read access tokens of refresh token", err)
	}
	defer rows.Close()
	var out []store.DeniedToken
	for rows.Next() {
		var (
			d   store.DeniedToken
			exp int64
		)
		if err := rows.Scan(&d.JTI, &exp); err != nil {
			return nil, sqliteErr("read access tokens of refresh token", err)
		}
		d.ExpiresAt = store.NanosToTime(exp)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("read access tokens of refresh token", err)
	}
	return out, nil
}

// RotateRefresh implements Store. An expired family is ErrNotFound; next
// scopes wider than old's are ErrScopeExceeded. The whole rotation is one
// IMMEDIATE transaction, so concurrent rotations of one token are
// serialised and only the first finds it live.
func (s *Store) RotateRefresh(ctx context.Context, r store.RefreshRotation) (store.RefreshRotated, error) {
	now := r.Now
	var (
		out    store.RefreshRotated
		reused bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.prune(ctx, tx, now); err != nil {
			return err
		}
		cur, err := refreshByDigest(ctx, tx, r.Old, false)
		if err != nil {
			return err
		}
		if !now.Before(cur.Token.ExpiresAt) {
			return fmt.Errorf("%w: refresh token", store.ErrNotFound)
		}
		if cur.Retryable(r) {
			next, err := refreshByDigest(ctx, tx, cur.Successor, true)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil && next.State == store.TokenLive {
				out = store.RefreshRotated{Token: next.Token, Retry: true, Sealed: cur.Sealed}
				return nil
			}
		}
		if cur.State != store.TokenLive {
			// Commit the revocation, then report the reuse.
			reused = true
			return revokeFamily(ctx, tx, cur.Token.FamilyID, now)
		}
		nt, err := store.Successor(cur.Token, r.Next, now)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET state = 1, rotated_at = ?, successor = ?, sealed = ?
			WHERE digest = ? AND state = 0`, store.TimeToNanos(now), nt.Digest, sqlstore.NilIfEmpty(r.Sealed), r.Old)
		if err != nil {
			return sqliteErr("rotate refresh token", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			// Cannot happen inside the transaction; refuse rather than
			// create a second live successor.
			return fmt.Errorf("auth: sqlite: rotate refresh token: token changed during rotation")
		}
		if err := insertRefresh(ctx, tx, nt); err != nil {
			return err
		}
		out = store.RefreshRotated{Token: nt}
		return nil
	})
	if err != nil {
		return store.RefreshRotated{}, err
	}
	if reused {
		return store.RefreshRotated{}, store.ErrRefreshReused
	}
	return out, nil
}

// revokeFamily revokes every token of the family and denies the access
// tokens recorded on tokens not revoked before that a verifier may still
// accept at now (their exp plus MaxLeeway is after now).
func revokeFamily(ctx context.Context, tx *sql.Tx, family string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revocations (jti, expires_at, not_before)
		SELECT a.jti, a.expires_at, 0
		FROM refresh_access_tokens a JOIN refresh_tokens r ON r.digest = a.refresh_digest
		WHERE r.family_id = ? AND r.state <> 2 AND a.expires_at > ?
		ORDER BY a.expires_at, a.jti`, family, store.TimeToNanos(now.Add(-store.MaxLeeway)))
	if err != nil {
		return sqliteErr("deny access tokens of refresh family", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET state = 2 WHERE family_id = ? AND state <> 2`, family); err != nil {
		return sqliteErr("revoke refresh family", err)
	}
	return nil
}

// RevokeRefresh implements Store. Revoking a revoked family is a no-op.
func (s *Store) RevokeRefresh(ctx context.Context, digest []byte, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var family string
		if err := tx.QueryRowContext(ctx, `SELECT family_id FROM refresh_tokens WHERE digest = ?`, digest).Scan(&family); err != nil {
			return sqliteErr("refresh token", err)
		}
		return revokeFamily(ctx, tx, family, now)
	})
}

// Deny implements Store.
func (s *Store) Deny(ctx context.Context, tokens ...store.DeniedToken) error {
	if err := store.CheckDenied(tokens); err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range tokens {
			_, err := tx.ExecContext(ctx, `INSERT INTO revocations (jti, expires_at, not_before) VALUES (?, ?, 0)`,
				d.JTI, store.TimeToNanos(d.ExpiresAt))
			if err != nil {
				return sqliteErr("deny access token", err)
			}
		}
		return nil
	})
}

// RevocationsSince implements Store.
func (s *Store) RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error) {
	return list(ctx, s.read, "read revocations", `SELECT `+sqlstore.RevocationColumns+`
		FROM revocations WHERE seq > ? ORDER BY seq`, sqlstore.ScanRevocation, seq)
}

// prune deletes expired refresh families (their access token records go
// with them) and denylist events MaxLeeway past their token's expiry, at
// most once per pruneInterval of the caller's clock.
func (s *Store) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if !s.pruning.Due(now) {
		return nil
	}
	n := store.TimeToNanos(now)
	if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= ?`, n); err != nil {
		return sqliteErr("prune refresh tokens", err)
	}
	expired := store.TimeToNanos(now.Add(-store.MaxLeeway))
	if _, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE jti IS NOT NULL AND expires_at <= ?`, expired); err != nil {
		return sqliteErr("prune revocations", err)
	}
	// Recorded even if the transaction later rolls back: pruning is only
	// housekeeping and will happen on a later call.
	s.pruning.Done(now)
	return nil
}

// Close implements Store.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}
