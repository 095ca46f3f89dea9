package auth

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
)

// SQLiteStore is a Store in one SQLite file: the default, with no database
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
type SQLiteStore struct {
	write *sql.DB
	read  *sql.DB

	opened  int // schema version found when the store was opened
	pruning pruneSchedule
}

var _ Store = (*SQLiteStore)(nil)
var _ SchemaMigrator = (*SQLiteStore)(nil)

// sqliteBusyTimeout is how long a statement waits for another process's
// write lock before failing.
const sqliteBusyTimeout = 10 * time.Second

// OpenSQLite opens the SQLite database at path, creating the file (mode
// 0600) and its directory (mode 0700) if needed, and brings its schema up to
// date. It refuses a database whose schema is newer than this code.
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
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

	s := &SQLiteStore{write: write}
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

// sqliteMigrations returns the schema changes in order; migration i brings
// the schema to version i+1. Released migrations are never edited, only
// appended to. Times are Unix nanoseconds (0 for none), digests BLOBs, scope
// lists JSON arrays of strings.
func sqliteMigrations() []string {
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
		sqliteLinksMigration,
	}
}

// Migrate implements SchemaMigrator.
func (s *SQLiteStore) Migrate(ctx context.Context) (SchemaVersions, error) {
	if _, err := s.migrate(ctx); err != nil {
		return SchemaVersions{}, err
	}
	return SchemaVersions{Opened: s.opened, Current: len(sqliteMigrations())}, nil
}

// migrate applies the migrations not yet recorded in schema_version, each
// in its own transaction together with its record, so a crash leaves the
// schema at a known version and concurrent openers do not apply one twice.
// It returns the version it found.
func (s *SQLiteStore) migrate(ctx context.Context) (int, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at INTEGER NOT NULL
) STRICT`
	if _, err := s.write.ExecContext(ctx, create); err != nil {
		return 0, fmt.Errorf("auth: sqlite: create schema_version: %w", err)
	}
	migrations := sqliteMigrations()
	var current int
	if err := s.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return 0, fmt.Errorf("auth: sqlite: read schema version: %w", err)
	}
	if current > len(migrations) {
		return 0, fmt.Errorf("auth: sqlite: the database schema is at version %d, newer than this server supports (%d)", current, len(migrations))
	}
	for i, m := range migrations {
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
func (s *SQLiteStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
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
	b, _ := json.Marshal(storedScopes(scopes)) // a []string always marshals
	return string(b)
}

func decodeScopes(s string) ([]string, error) {
	var scopes []string
	if err := json.Unmarshal([]byte(s), &scopes); err != nil {
		return nil, fmt.Errorf("corrupt scope list: %w", err)
	}
	return storedScopes(scopes), nil
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// sqliteErr wraps a database error with what was being done; sql.ErrNoRows
// becomes ErrNotFound.
func sqliteErr(what string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return fmt.Errorf("auth: sqlite: %s: %w", what, err)
}

const userColumns = `username, password_hash, scopes, disabled, not_before, created_at`

func scanUser(r rowScanner) (User, error) {
	var (
		u                    User
		scopes               string
		notBefore, createdAt int64
	)
	if err := r.Scan(&u.Username, &u.PasswordHash, &scopes, &u.Disabled, &notBefore, &createdAt); err != nil {
		return User{}, err
	}
	var err error
	if u.Scopes, err = decodeScopes(scopes); err != nil {
		return User{}, err
	}
	u.NotBefore, u.CreatedAt = nanosToTime(notBefore), nanosToTime(createdAt)
	return u, nil
}

// CreateUser implements Store.
func (s *SQLiteStore) CreateUser(ctx context.Context, u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.Username, u.PasswordHash, encodeScopes(u.Scopes), u.Disabled, timeToNanos(u.NotBefore), timeToNanos(u.CreatedAt))
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
		return fmt.Errorf("%w: %s", ErrExists, what)
	}
	return nil
}

// User implements Store.
func (s *SQLiteStore) User(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if err != nil {
		return User{}, sqliteErr(fmt.Sprintf("user %q", username), err)
	}
	return u, nil
}

// UpdateUser implements Store. The fields c does not set are kept by the
// statement itself (coalesce), not read and written back; a later
// NotBefore is appended to the revocation feed in the same transaction.
func (s *SQLiteStore) UpdateUser(ctx context.Context, username string, c UserChange) error {
	what := fmt.Sprintf("user %q", username)
	hash, scopes, disabled := userChangeArgs(c, func(sc []string) any { return encodeScopes(sc) })
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var oldNotBefore int64
		err := tx.QueryRowContext(ctx, `SELECT not_before FROM users WHERE username = ?`, username).Scan(&oldNotBefore)
		if err != nil {
			return sqliteErr(what, err)
		}
		notBefore := max(timeToNanos(c.NotBefore), oldNotBefore)
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
func (s *SQLiteStore) ReplacePasswordHash(ctx context.Context, username, oldHash, newHash string) error {
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
		return fmt.Errorf("%w: %s with that password hash", ErrNotFound, what)
	}
	return nil
}

// ListUsers implements Store.
func (s *SQLiteStore) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, sqliteErr("list users", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, sqliteErr("list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("list users", err)
	}
	return out, nil
}

const apiKeyColumns = `id, digest, owner, scopes, created_at, revoked_at`

func scanAPIKey(r rowScanner) (APIKey, error) {
	var (
		k                    APIKey
		scopes               string
		createdAt, revokedAt int64
	)
	if err := r.Scan(&k.ID, &k.Digest, &k.Owner, &scopes, &createdAt, &revokedAt); err != nil {
		return APIKey{}, err
	}
	var err error
	if k.Scopes, err = decodeScopes(scopes); err != nil {
		return APIKey{}, err
	}
	k.CreatedAt, k.RevokedAt = nanosToTime(createdAt), nanosToTime(revokedAt)
	return k, nil
}

// CreateAPIKey implements Store. A duplicate id or digest is ErrExists.
func (s *SQLiteStore) CreateAPIKey(ctx context.Context, k APIKey) error {
	if err := checkAPIKey(k); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		k.ID, k.Digest, k.Owner, encodeScopes(k.Scopes), timeToNanos(k.CreatedAt), timeToNanos(k.RevokedAt))
	return insertResult(fmt.Sprintf("API key %q", k.ID), res, err)
}

// APIKeyByDigest implements Store.
func (s *SQLiteStore) APIKeyByDigest(ctx context.Context, digest []byte) (APIKey, error) {
	k, err := scanAPIKey(s.read.QueryRowContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE digest = ? AND revoked_at = 0`, digest))
	if err != nil {
		return APIKey{}, sqliteErr("API key", err)
	}
	return k, nil
}

// RevokeAPIKey implements Store. Revoking a revoked key keeps its first
// revocation time.
func (s *SQLiteStore) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("API key %q", id)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var revokedAt int64
		if err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_keys WHERE id = ?`, id).Scan(&revokedAt); err != nil {
			return sqliteErr(what, err)
		}
		if revokedAt != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, timeToNanos(at), id); err != nil {
			return sqliteErr("revoke "+what, err)
		}
		return nil
	})
}

// ListAPIKeys implements Store. Revoked keys are included.
func (s *SQLiteStore) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, sqliteErr("list API keys", err)
	}
	defer rows.Close()
	out := []APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, sqliteErr("list API keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("list API keys", err)
	}
	return out, nil
}

const clientColumns = `id, secret_hash, scopes, not_before, created_at`

func scanClient(r rowScanner) (Client, error) {
	var (
		c                    Client
		scopes               string
		notBefore, createdAt int64
	)
	if err := r.Scan(&c.ID, &c.SecretHash, &scopes, &notBefore, &createdAt); err != nil {
		return Client{}, err
	}
	var err error
	if c.Scopes, err = decodeScopes(scopes); err != nil {
		return Client{}, err
	}
	c.NotBefore, c.CreatedAt = nanosToTime(notBefore), nanosToTime(createdAt)
	return c, nil
}

// CreateClient implements Store.
func (s *SQLiteStore) CreateClient(ctx context.Context, c Client) error {
	if err := checkClient(c); err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.ID, c.SecretHash, encodeScopes(c.Scopes), timeToNanos(c.NotBefore), timeToNanos(c.CreatedAt))
	return insertResult(fmt.Sprintf("client %q", c.ID), res, err)
}

// UpdateClient implements Store. A later NotBefore is appended to the
// revocation feed in the same transaction.
func (s *SQLiteStore) UpdateClient(ctx context.Context, id string, c ClientChange) error {
	what := fmt.Sprintf("client %q", id)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var oldHash string
		var oldNotBefore int64
		err := tx.QueryRowContext(ctx, `SELECT secret_hash, not_before FROM clients WHERE id = ?`, id).Scan(&oldHash, &oldNotBefore)
		if err != nil {
			return sqliteErr(what, err)
		}
		hash := oldHash
		if c.SecretHash != "" {
			if oldHash != c.IfSecretHash {
				return fmt.Errorf("%s: %w", what, ErrSecretRotatedMeanwhile)
			}
			hash = c.SecretHash
		}
		notBefore := max(timeToNanos(c.NotBefore), oldNotBefore)
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
func (s *SQLiteStore) DeleteClient(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("client %q", id)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err != nil {
			return sqliteErr("delete "+what, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return sqliteErr(what, cmp.Or(err, sql.ErrNoRows))
		}
		if err := recordClientRevocation(ctx, tx, id, timeToNanos(at)); err != nil {
			return err
		}
		families, err := clientFamilies(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, f := range families {
			if err := revokeFamily(ctx, tx, f, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// clientFamilies returns the refresh families bound to a client, sorted.
func clientFamilies(ctx context.Context, tx *sql.Tx, clientID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT family_id FROM refresh_tokens WHERE client_id = ? ORDER BY family_id`, clientID)
	if err != nil {
		return nil, sqliteErr("find refresh families of client", err)
	}
	defer rows.Close()
	var families []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, sqliteErr("find refresh families of client", err)
		}
		families = append(families, f)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("find refresh families of client", err)
	}
	return families, nil
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
func (s *SQLiteStore) Client(ctx context.Context, id string) (Client, error) {
	c, err := scanClient(s.read.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	if err != nil {
		return Client{}, sqliteErr(fmt.Sprintf("client %q", id), err)
	}
	return c, nil
}

// ListClients implements Store.
func (s *SQLiteStore) ListClients(ctx context.Context) ([]Client, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, sqliteErr("list clients", err)
	}
	defer rows.Close()
	out := []Client{}
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, sqliteErr("list clients", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("list clients", err)
	}
	return out, nil
}

// insertRefresh inserts t (already checked) and its access token jtis.
func insertRefresh(ctx context.Context, tx *sql.Tx, t RefreshToken) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens
		(digest, family_id, subject, client_id, scopes, issued_at, auth_time, expires_at, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING`,
		t.Digest, t.FamilyID, t.Subject, t.ClientID, encodeScopes(t.Scopes),
		timeToNanos(t.IssuedAt), timeToNanos(t.AuthTime), timeToNanos(t.ExpiresAt))
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

func addAccessJTI(ctx context.Context, tx *sql.Tx, digest []byte, a DeniedToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_access_tokens (refresh_digest, jti, expires_at)
		VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at`,
		digest, a.JTI, timeToNanos(a.ExpiresAt))
	if err != nil {
		return sqliteErr("record access token", err)
	}
	return nil
}

// CreateRefresh implements Store. A duplicate digest is ErrExists.
func (s *SQLiteStore) CreateRefresh(ctx context.Context, t RefreshToken) error {
	if err := checkRefresh(t); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.prune(ctx, tx, t.IssuedAt); err != nil {
			return err
		}
		return insertRefresh(ctx, tx, t)
	})
}

// refreshRow is a stored refresh token with its rotation state.
type refreshRow struct {
	tok       RefreshToken
	state     refreshState
	rotatedAt time.Time
	successor []byte
	sealed    []byte
}

// refreshByDigest reads a refresh token and its rotation state; the access
// tokens recorded on it are read only if withJTIs.
func refreshByDigest(ctx context.Context, tx *sql.Tx, digest []byte, withJTIs bool) (refreshRow, error) {
	var (
		r                             refreshRow
		scopes                        string
		issuedAt, authTime, expiresAt int64
		rotatedAt                     int64
	)
	t := &r.tok
	err := tx.QueryRowContext(ctx, `SELECT digest, family_id, subject, client_id, scopes, issued_at, auth_time, expires_at,
			state, rotated_at, successor, sealed
		FROM refresh_tokens WHERE digest = ?`, digest).
		Scan(&t.Digest, &t.FamilyID, &t.Subject, &t.ClientID, &scopes, &issuedAt, &authTime, &expiresAt,
			&r.state, &rotatedAt, &r.successor, &r.sealed)
	if err != nil {
		return refreshRow{}, sqliteErr("refresh token", err)
	}
	if t.Scopes, err = decodeScopes(scopes); err != nil {
		return refreshRow{}, sqliteErr("refresh token", err)
	}
	t.IssuedAt, t.AuthTime, t.ExpiresAt = nanosToTime(issuedAt), nanosToTime(authTime), nanosToTime(expiresAt)
	r.rotatedAt = nanosToTime(rotatedAt)
	if withJTIs {
		if t.AccessJTIs, err = accessJTIs(ctx, tx, digest); err != nil {
			return refreshRow{}, err
		}
	}
	return r, nil
}

// accessJTIs returns the access tokens recorded on a refresh token, by
// expiry then jti.
func accessJTIs(ctx context.Context, tx *sql.Tx, digest []byte) ([]DeniedToken, error) {
	rows, err := tx.QueryContext(ctx, `SELECT jti, expires_at FROM refresh_access_tokens
		WHERE refresh_digest = ? ORDER BY expires_at, jti`, digest)
	if err != nil {
		return nil, sqliteErr("read access tokens of refresh token", err)
	}
	defer rows.Close()
	var out []DeniedToken
	for rows.Next() {
		var (
			d   DeniedToken
			exp int64
		)
		if err := rows.Scan(&d.JTI, &exp); err != nil {
			return nil, sqliteErr("read access tokens of refresh token", err)
		}
		d.ExpiresAt = nanosToTime(exp)
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
func (s *SQLiteStore) RotateRefresh(ctx context.Context, r RefreshRotation) (RefreshRotated, error) {
	now := r.Now
	var (
		out    RefreshRotated
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
		if !now.Before(cur.tok.ExpiresAt) {
			return fmt.Errorf("%w: refresh token", ErrNotFound)
		}
		if cur.state == refreshRotated && withinGrace(cur.rotatedAt, r.Grace, now) && len(cur.sealed) > 0 {
			next, err := refreshByDigest(ctx, tx, cur.successor, true)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err == nil && next.state == refreshLive {
				out = RefreshRotated{Token: next.tok, Retry: true, Sealed: cur.sealed}
				return nil
			}
		}
		if cur.state != refreshLive {
			// Commit the revocation, then report the reuse.
			reused = true
			return revokeFamily(ctx, tx, cur.tok.FamilyID, now)
		}
		nt, err := successor(cur.tok, r.Next, now)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET state = 1, rotated_at = ?, successor = ?, sealed = ?
			WHERE digest = ? AND state = 0`, timeToNanos(now), nt.Digest, nilIfEmpty(r.Sealed), r.Old)
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
		out = RefreshRotated{Token: nt}
		return nil
	})
	if err != nil {
		return RefreshRotated{}, err
	}
	if reused {
		return RefreshRotated{}, ErrRefreshReused
	}
	return out, nil
}

// nilIfEmpty stores an empty byte slice as NULL.
func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// revokeFamily revokes every token of the family and denies the access
// tokens recorded on tokens not revoked before that a verifier may still
// accept at now (their exp plus MaxLeeway is after now).
func revokeFamily(ctx context.Context, tx *sql.Tx, family string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO revocations (jti, expires_at, not_before)
		SELECT a.jti, a.expires_at, 0
		FROM refresh_access_tokens a JOIN refresh_tokens r ON r.digest = a.refresh_digest
		WHERE r.family_id = ? AND r.state <> 2 AND a.expires_at > ?
		ORDER BY a.expires_at, a.jti`, family, timeToNanos(now.Add(-MaxLeeway)))
	if err != nil {
		return sqliteErr("deny access tokens of refresh family", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET state = 2 WHERE family_id = ? AND state <> 2`, family); err != nil {
		return sqliteErr("revoke refresh family", err)
	}
	return nil
}

// RevokeRefresh implements Store. Revoking a revoked family is a no-op.
func (s *SQLiteStore) RevokeRefresh(ctx context.Context, digest []byte, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var family string
		if err := tx.QueryRowContext(ctx, `SELECT family_id FROM refresh_tokens WHERE digest = ?`, digest).Scan(&family); err != nil {
			return sqliteErr("refresh token", err)
		}
		return revokeFamily(ctx, tx, family, now)
	})
}

// Deny implements Store.
func (s *SQLiteStore) Deny(ctx context.Context, tokens ...DeniedToken) error {
	if err := checkDenied(tokens); err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range tokens {
			_, err := tx.ExecContext(ctx, `INSERT INTO revocations (jti, expires_at, not_before) VALUES (?, ?, 0)`,
				d.JTI, timeToNanos(d.ExpiresAt))
			if err != nil {
				return sqliteErr("deny access token", err)
			}
		}
		return nil
	})
}

// RevocationsSince implements Store.
func (s *SQLiteStore) RevocationsSince(ctx context.Context, seq int64) ([]Revocation, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT seq, coalesce(jti, ''), coalesce(subject, ''), subject_kind, expires_at, not_before
		FROM revocations WHERE seq > ? ORDER BY seq`, seq)
	if err != nil {
		return nil, sqliteErr("read revocations", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var (
			r                    Revocation
			subjectKind          int
			expiresAt, notBefore int64
		)
		if err := rows.Scan(&r.Seq, &r.JTI, &r.Subject, &subjectKind, &expiresAt, &notBefore); err != nil {
			return nil, sqliteErr("read revocations", err)
		}
		if subjectKind == 1 {
			r.ClientID, r.Subject = r.Subject, ""
		}
		r.ExpiresAt, r.NotBefore = nanosToTime(expiresAt), nanosToTime(notBefore)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, sqliteErr("read revocations", err)
	}
	return out, nil
}

// prune deletes expired refresh families (their access token records go
// with them) and denylist events MaxLeeway past their token's expiry, at
// most once per pruneInterval of the caller's clock.
func (s *SQLiteStore) prune(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if !s.pruning.due(now) {
		return nil
	}
	n := timeToNanos(now)
	if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= ?`, n); err != nil {
		return sqliteErr("prune refresh tokens", err)
	}
	expired := timeToNanos(now.Add(-MaxLeeway))
	if _, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE jti IS NOT NULL AND expires_at <= ?`, expired); err != nil {
		return sqliteErr("prune revocations", err)
	}
	// Recorded even if the transaction later rolls back: pruning is only
	// housekeeping and will happen on a later call.
	s.pruning.done(now)
	return nil
}

// Close implements Store.
func (s *SQLiteStore) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}
