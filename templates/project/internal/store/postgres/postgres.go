// Package postgres is the Store for several server instances: one
// PostgreSQL database they all share, through pgx, with versioned
// migrations and, to tell every instance of a revocation at once,
// LISTEN/NOTIFY (listen.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Store is a store.Store in a PostgreSQL database, shared by any number of
// server instances and admin commands. It has the semantics of the SQLite
// store (package sqlite); where SQLite has one writer at a time, PostgreSQL
// has concurrent transactions, so each operation that reads before it
// writes holds a lock on what it read:
//
//   - Every change to the tokens of a refresh family (rotation with its
//     access token, a retry within the grace period, reuse detection,
//     revocation, the removal of its client) first locks the family's row
//     in refresh_families, so changes to one family are serialised across
//     instances, and each statement after the lock sees what the previous
//     holder committed (READ COMMITTED takes a new snapshot per
//     statement). A lock on the presented token alone would not do:
//     revoking a family while a sibling token rotates could miss the
//     successor being inserted.
//   - Updates of a user or a client lock its row, so that concurrent
//     updates from several processes each see the previous one's
//     not-before time.
//   - Every insert into the revocation feed holds a transaction-level
//     advisory lock (see lockFeed), so sequence numbers are committed in
//     order and a reader of the feed never skips an event.
//   - Schema migrations hold a session-level advisory lock (see Migrate).
//
// Every call is bounded by its context and by callTimeout. When the server
// cannot be reached or does not answer, errors wrap store.ErrUnavailable.
type Store struct {
	pool        *pgxpool.Pool
	callTimeout time.Duration
	// feedLock and migrateLock are advisory lock keys, derived from the
	// schema so that two stores in different schemas of one database do not
	// wait for each other.
	feedLock    int64
	migrateLock int64
	// loginLock seeds the advisory locks that serialize the login starts
	// of one client address (see PutLoginState), per schema.
	loginLock int64
	// channel is where each transaction that appends to the feed sends a
	// NOTIFY (see lockFeed), also one per schema; conn is how
	// ListenRevocations connects to listen to it.
	channel string
	conn    *pgx.ConnConfig
	opened  int // schema version found when the store was opened
	pruning store.PruneSchedule
}

var (
	_ store.Store              = (*Store)(nil)
	_ store.SchemaMigrator     = (*Store)(nil)
	_ store.RevocationListener = (*Store)(nil)
	_ store.SessionStore       = (*Store)(nil)
	_ store.IdentityLinkStore  = (*Store)(nil)
	_ store.LoginStateStore    = (*Store)(nil)
)

// defaultCallTimeout bounds each store call, in addition to the caller's
// context: a server that accepts connections but does not answer must not
// hold a request (or the revocation poll) forever.
const defaultCallTimeout = 5 * time.Second

// Open connects to the database of a postgres:// URL (or a libpq
// key=value string) and brings its schema up to date. The URL may carry
// libpq's parameters (sslmode, sslrootcert, connect_timeout, search_path,
// ...) and pgxpool's (pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time,
// pool_health_check_period). It refuses a schema newer than this code.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := parseURL(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg)
}

// parseURL parses a DATABASE_URL. pgx's own messages mask the
// password; the URL is not repeated here.
func parseURL(dsn string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("auth: postgres: %w", err)
	}
	return cfg, nil
}

// OpenConfig is Open with the pool configuration cfg: one parsed with
// pgxpool.ParseConfig, then changed in code. It migrates the schema.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	s, err := newStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	v, err := s.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.opened = v.Opened
	return s, nil
}

// newStore connects and finds the schema, without migrating.
func newStore(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("auth: postgres: %w", err)
	}
	s := &Store{pool: pool, callTimeout: defaultCallTimeout, opened: -1, conn: cfg.ConnConfig.Copy()}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	var schema *string
	if err := pool.QueryRow(bctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, pgErr("connect", err)
	}
	if schema == nil {
		pool.Close()
		return nil, errors.New("auth: postgres: no schema of the search_path exists; create the schema or set search_path in DATABASE_URL")
	}
	s.feedLock = advisoryKey("gatehouse revocation feed", *schema)
	s.migrateLock = advisoryKey("gatehouse migrations", *schema)
	s.loginLock = advisoryKey("gatehouse login states", *schema)
	s.channel = fmt.Sprintf("gatehouse_revocations_%016x", uint64(advisoryKey("gatehouse revocation channel", *schema)))
	return s, nil
}

// advisoryKey names an advisory lock of one schema.
func advisoryKey(purpose, schema string) int64 {
	h := fnv.New64a()
	io.WriteString(h, purpose+"\x00"+schema)
	return int64(h.Sum64())
}

// bound limits ctx to the store's call timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.callTimeout)
}

// migrations returns the schema changes in order; migration i
// brings the schema to version i+1. Released migrations are never edited,
// only appended to. As in SQLite, times are Unix nanoseconds (0 for none),
// because the conformance suite keeps nanoseconds and timestamptz keeps
// microseconds; scope lists are sorted text arrays.
func migrations() []string {
	return []string{
		// 1: initial schema.
		`
CREATE TABLE users (
	username      text    NOT NULL PRIMARY KEY,
	password_hash text    NOT NULL,
	scopes        text[]  NOT NULL,
	disabled      boolean NOT NULL,
	not_before    bigint  NOT NULL,
	created_at    bigint  NOT NULL
);

CREATE TABLE api_keys (
	id         text   NOT NULL PRIMARY KEY,
	digest     bytea  NOT NULL UNIQUE,
	owner      text   NOT NULL,
	scopes     text[] NOT NULL,
	created_at bigint NOT NULL,
	revoked_at bigint NOT NULL
);

CREATE TABLE clients (
	id          text   NOT NULL PRIMARY KEY,
	secret_hash text   NOT NULL,
	scopes      text[] NOT NULL,
	created_at  bigint NOT NULL
);

-- One row per login session, with what every token of the family shares.
-- Its row lock serialises the changes to the family's tokens.
CREATE TABLE refresh_families (
	id         text   NOT NULL PRIMARY KEY,
	subject    text   NOT NULL,
	client_id  text   NOT NULL,
	auth_time  bigint NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX refresh_families_expiry ON refresh_families (expires_at);

-- state: 0 live, 1 rotated, 2 revoked.
CREATE TABLE refresh_tokens (
	digest    bytea    NOT NULL PRIMARY KEY,
	family_id text     NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
	scopes    text[]   NOT NULL,
	issued_at bigint   NOT NULL,
	state     smallint NOT NULL CHECK (state IN (0, 1, 2))
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE refresh_access_tokens (
	refresh_digest bytea  NOT NULL REFERENCES refresh_tokens (digest) ON DELETE CASCADE,
	jti            text   NOT NULL,
	expires_at     bigint NOT NULL,
	PRIMARY KEY (refresh_digest, jti)
);

-- The revocation feed. An identity column is a sequence: numbers are never
-- reused, even after the newest events are pruned.
CREATE TABLE revocations (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	jti        text,
	subject    text,
	expires_at bigint NOT NULL,
	not_before bigint NOT NULL,
	CHECK ((jti IS NULL) <> (subject IS NULL))
);
CREATE INDEX revocations_expiry ON revocations (expires_at) WHERE jti IS NOT NULL;
`,
		// 2: client revocation and refresh retries (as SQLite's version 2).
		`
-- A client's not-before time: tokens issued to it earlier are over.
ALTER TABLE clients ADD COLUMN not_before bigint NOT NULL DEFAULT 0;

-- Subject events name a user (0) or an OAuth client (1).
ALTER TABLE revocations ADD COLUMN subject_kind smallint NOT NULL DEFAULT 0 CHECK (subject_kind IN (0, 1));

-- Set when a token is rotated: when, its successor's digest, and the
-- sealed successor a retry within the grace period is answered with.
ALTER TABLE refresh_tokens ADD COLUMN rotated_at bigint NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN successor bytea;
ALTER TABLE refresh_tokens ADD COLUMN sealed bytea;
CREATE INDEX refresh_families_client ON refresh_families (client_id) WHERE client_id <> '';
`,
		// 3: identity links of login through external providers.
		linksMigration,
		// 4: started logins through external providers.
		loginStatesMigration,
	}
}

// SchemaVersion is the version of the schema this code migrates to.
func SchemaVersion() int { return len(migrations()) }

// Stat returns the statistics of the store's connection pool.
func (s *Store) Stat() *pgxpool.Stat { return s.pool.Stat() }

// Migrate implements SchemaMigrator. It holds a session-level advisory lock
// on one connection while it works, so that instances starting together
// apply each migration once: the others wait, then find the schema current.
// Each migration runs in its own transaction with its row in
// schema_migrations, so a failure leaves the schema at a known version. The
// wait for the lock is bounded by ctx only: another instance may be running
// a long migration.
func (s *Store) Migrate(ctx context.Context) (store.SchemaVersions, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return store.SchemaVersions{}, pgErr("migrate", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.migrateLock); err != nil {
		return store.SchemaVersions{}, pgErr("migrate: wait for other instances' migrations", err)
	}
	defer func() {
		uctx, cancel := s.bound(context.WithoutCancel(ctx))
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, s.migrateLock); err != nil {
			// Ending the session releases the lock.
			conn.Conn().Close(uctx)
		}
	}()

	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
	if _, err := conn.Exec(ctx, create); err != nil {
		return store.SchemaVersions{}, pgErr("create schema_migrations", err)
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return store.SchemaVersions{}, pgErr("read schema version", err)
	}
	steps := migrations()
	if current > len(steps) {
		return store.SchemaVersions{}, fmt.Errorf("auth: postgres: the database schema is at version %d, newer than this server supports (%d); run a newer server", current, len(steps))
	}
	for i := current; i < len(steps); i++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, steps[i]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1)
			return err
		})
		if err != nil {
			return store.SchemaVersions{}, pgErr(fmt.Sprintf("migrate to version %d", i+1), err)
		}
	}
	opened := current
	if s.opened >= 0 {
		opened = s.opened
	}
	return store.SchemaVersions{Opened: opened, Current: len(steps)}, nil
}

// inTx runs fn in a READ COMMITTED transaction, committing if fn returns
// nil. The locking above relies on READ COMMITTED: each statement sees what
// was committed before it started, in particular by the previous holder of
// a lock just acquired. (Under REPEATABLE READ it would fail with
// serialization errors instead.) fn's errors are returned as they are.
func (s *Store) inTx(ctx context.Context, what string, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return pgErr(what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return pgErr(what, err)
	}
	return nil
}

// pgErr wraps a database error with what was being done: no rows is
// ErrNotFound, a unique violation ErrExists, a failure to reach the server
// or to get an answer in time ErrUnavailable.
func pgErr(what string, err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	case errors.As(err, &pe) && pe.Code == "23505": // unique_violation
		return fmt.Errorf("%w: %s", store.ErrExists, what)
	case pgUnavailable(err):
		return fmt.Errorf("%w: postgres: %s: %w", store.ErrUnavailable, what, err)
	}
	return fmt.Errorf("auth: postgres: %s: %w", what, err)
}

// pgUnavailable reports whether err says that the server could not be
// reached or did not answer, rather than that it refused the statement.
func pgUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		class := pe.Code // SQLSTATE: two characters of class, three of condition
		if len(class) > 2 {
			class = class[:2]
		}
		switch class {
		case "08", // connection exception
			"53", // insufficient resources: too many connections, disk full
			"57", // operator intervention: shutdown, statement_timeout, cannot connect now
			"40": // transaction rollback: serialization failure, deadlock
			return true
		}
		// lock_not_available (lock_timeout); read-only transaction (a
		// standby, during a failover).
		return pe.Code == "55P03" || pe.Code == "25006"
	}
	var (
		connect *pgconn.ConnectError
		netErr  net.Error
	)
	return errors.As(err, &connect) || errors.As(err, &netErr) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed)
}

// pgText reports whether s can be stored in a text column: PostgreSQL
// refuses invalid UTF-8 and NUL. No stored name is otherwise, so a look-up
// of such a name finds nothing rather than failing.
func pgText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// pgScopes stores a scope list: sorted, never NULL.
func pgScopes(scopes []string) []string {
	if s := store.NormScopes(scopes); s != nil {
		return s
	}
	return []string{}
}

// textScopes is the destination of a scope list column (sqlstore.Scopes):
// pgx scans text[] into the list itself.
func textScopes(p *[]string) any { return p }

// The rows PostgreSQL keeps as SQLite does.

func pgScanUser(r sqlstore.Scanner) (store.User, error) {
	return sqlstore.ScanUser(r, textScopes)
}

func pgScanAPIKey(r sqlstore.Scanner) (store.APIKey, error) {
	return sqlstore.ScanAPIKey(r, textScopes)
}

func pgScanClient(r sqlstore.Scanner) (store.Client, error) {
	return sqlstore.ScanClient(r, textScopes)
}

// pgInserted turns the result of an INSERT ... ON CONFLICT DO NOTHING into
// ErrExists when no row was inserted.
func pgInserted(what string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return pgErr("insert "+what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", store.ErrExists, what)
	}
	return nil
}

// The SQL of each entity is kept together: its column list, how a row is
// scanned, and its statements.

// CreateUser implements Store.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := store.CheckUser(u); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO users (`+sqlstore.UserColumns+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		u.Username, u.PasswordHash, pgScopes(u.Scopes), u.Disabled, store.TimeToNanos(u.NotBefore), store.TimeToNanos(u.CreatedAt))
	return pgInserted(fmt.Sprintf("user %q", u.Username), tag, err)
}

// User implements Store.
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	what := fmt.Sprintf("user %q", username)
	if !pgText(username) {
		return store.User{}, fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := pgScanUser(s.pool.QueryRow(ctx, `SELECT `+sqlstore.UserColumns+` FROM users WHERE username = $1`, username))
	if err != nil {
		return store.User{}, pgErr(what, err)
	}
	return u, nil
}

// UpdateUser implements Store. The fields c does not set are kept by the
// statement itself (coalesce), not read and written back; a later
// NotBefore is appended to the revocation feed in the same transaction.
// The row is locked first, so that of two concurrent updates the second
// sees the first's NotBefore: it never moves back, and the feed records
// every move.
func (s *Store) UpdateUser(ctx context.Context, username string, c store.UserChange) error {
	what := fmt.Sprintf("user %q", username)
	if !pgText(username) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	hash, scopes, disabled := sqlstore.UserChangeArgs(c, func(sc []string) any { return pgScopes(sc) })
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "update "+what, func(tx pgx.Tx) error {
		var oldNotBefore int64
		err := tx.QueryRow(ctx, `SELECT not_before FROM users WHERE username = $1 FOR UPDATE`, username).Scan(&oldNotBefore)
		if err != nil {
			return pgErr(what, err)
		}
		notBefore := max(store.TimeToNanos(c.NotBefore), oldNotBefore)
		_, err = tx.Exec(ctx, `UPDATE users SET password_hash = coalesce($2, password_hash), scopes = coalesce($3, scopes),
			disabled = coalesce($4, disabled), not_before = $5 WHERE username = $1`,
			username, hash, scopes, disabled, notBefore)
		if err != nil {
			return pgErr("update "+what, err)
		}
		if notBefore == oldNotBefore {
			return nil
		}
		if err := s.lockFeed(ctx, tx); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			`INSERT INTO revocations (subject, not_before, expires_at) VALUES ($1, $2, 0)`, username, notBefore)
		if err != nil {
			return pgErr("record revocation of "+what, err)
		}
		return nil
	})
}

// ReplacePasswordHash implements Store, in one conditional UPDATE.
func (s *Store) ReplacePasswordHash(ctx context.Context, username, oldHash, newHash string) error {
	what := fmt.Sprintf("user %q with that password hash", username)
	if !pgText(username) || !pgText(oldHash) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`UPDATE users SET password_hash = $3 WHERE username = $1 AND password_hash = $2`, username, oldHash, newHash)
	if err != nil {
		return pgErr("replace password hash of "+what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return nil
}

// ListUsers implements Store.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return pgList(ctx, s, "list users", `SELECT `+sqlstore.UserColumns+` FROM users ORDER BY username`, pgScanUser)
}

// pgList runs a query and scans every row; an empty result is an empty
// slice, not nil. (A method cannot have type parameters.)
func pgList[T any](ctx context.Context, s *Store, what, query string, scan func(sqlstore.Scanner) (T, error), args ...any) ([]T, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, pgErr(what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, pgErr(what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, pgErr(what, err)
	}
	return out, nil
}

// CreateAPIKey implements Store. A duplicate id or digest is ErrExists.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if err := store.CheckAPIKey(k); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO api_keys (`+sqlstore.APIKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		k.ID, k.Digest, k.Owner, pgScopes(k.Scopes), store.TimeToNanos(k.CreatedAt), store.TimeToNanos(k.RevokedAt))
	return pgInserted(fmt.Sprintf("API key %q", k.ID), tag, err)
}

// APIKeyByDigest implements Store.
func (s *Store) APIKeyByDigest(ctx context.Context, digest []byte) (store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := pgScanAPIKey(s.pool.QueryRow(ctx,
		`SELECT `+sqlstore.APIKeyColumns+` FROM api_keys WHERE digest = $1 AND revoked_at = 0`, digest))
	if err != nil {
		return store.APIKey{}, pgErr("API key", err)
	}
	return k, nil
}

// RevokeAPIKey implements Store. Revoking a revoked key keeps its first
// revocation time: one conditional update.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("API key %q", id)
	if !pgText(id) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END WHERE id = $1`,
		id, store.TimeToNanos(at))
	if err != nil {
		return pgErr("revoke "+what, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	return nil
}

// ListAPIKeys implements Store. Revoked keys are included.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	return pgList(ctx, s, "list API keys", `SELECT `+sqlstore.APIKeyColumns+` FROM api_keys ORDER BY id`, pgScanAPIKey)
}

// CreateClient implements Store.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	if err := store.CheckClient(c); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO clients (`+sqlstore.ClientColumns+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		c.ID, c.SecretHash, pgScopes(c.Scopes), store.TimeToNanos(c.NotBefore), store.TimeToNanos(c.CreatedAt))
	return pgInserted(fmt.Sprintf("client %q", c.ID), tag, err)
}

// UpdateClient implements Store. The row is locked first, so that of two
// concurrent updates the second sees the first's NotBefore: it never moves
// back, and the feed records every move.
func (s *Store) UpdateClient(ctx context.Context, id string, c store.ClientChange) error {
	what := fmt.Sprintf("client %q", id)
	if !pgText(id) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "update "+what, func(tx pgx.Tx) error {
		var oldHash string
		var oldNotBefore int64
		err := tx.QueryRow(ctx, `SELECT secret_hash, not_before FROM clients WHERE id = $1 FOR UPDATE`, id).Scan(&oldHash, &oldNotBefore)
		if err != nil {
			return pgErr(what, err)
		}
		hash, err := c.SecretHashOver(oldHash)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		notBefore := max(store.TimeToNanos(c.NotBefore), oldNotBefore)
		_, err = tx.Exec(ctx, `UPDATE clients SET secret_hash = $2, not_before = $3 WHERE id = $1`,
			id, hash, notBefore)
		if err != nil {
			return pgErr("update "+what, err)
		}
		if notBefore == oldNotBefore {
			return nil
		}
		return s.recordClientRevocation(ctx, tx, id, notBefore)
	})
}

// DeleteClient implements Store. The client's families are locked, in
// order, before the feed: a rotation in one of them either committed
// before (and its successor is revoked with the rest) or waits and then
// finds its token revoked.
func (s *Store) DeleteClient(ctx context.Context, id string, at time.Time) error {
	what := fmt.Sprintf("client %q", id)
	if !pgText(id) {
		return fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "delete "+what, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err != nil {
			return pgErr("delete "+what, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: %s", store.ErrNotFound, what)
		}
		families, err := lockFamiliesOf(ctx, tx, "client_id", id, what)
		if err != nil {
			return err
		}
		if err := s.recordClientRevocation(ctx, tx, id, store.TimeToNanos(at)); err != nil {
			return err
		}
		return s.revokeFamilies(ctx, tx, families, at)
	})
}

// lockFamiliesOf locks, in the order of their ids, the refresh families
// bound to a client or of a subject (column is client_id or subject), and
// returns their ids.
func lockFamiliesOf(ctx context.Context, tx pgx.Tx, column, value, what string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM refresh_families WHERE `+column+` = $1 ORDER BY id FOR UPDATE`, value)
	if err != nil {
		return nil, pgErr("lock refresh families of "+what, err)
	}
	families, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, pgErr("lock refresh families of "+what, err)
	}
	return families, nil
}

// recordClientRevocation appends a client's not-before time to the feed.
// The caller has taken its row locks.
func (s *Store) recordClientRevocation(ctx context.Context, tx pgx.Tx, clientID string, notBefore int64) error {
	if err := s.lockFeed(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx,
		`INSERT INTO revocations (subject, subject_kind, not_before, expires_at) VALUES ($1, 1, $2, 0)`, clientID, notBefore)
	if err != nil {
		return pgErr(fmt.Sprintf("record revocation of client %q", clientID), err)
	}
	return nil
}

// Client implements Store.
func (s *Store) Client(ctx context.Context, id string) (store.Client, error) {
	what := fmt.Sprintf("client %q", id)
	if !pgText(id) {
		return store.Client{}, fmt.Errorf("%w: %s", store.ErrNotFound, what)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c, err := pgScanClient(s.pool.QueryRow(ctx, `SELECT `+sqlstore.ClientColumns+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return store.Client{}, pgErr(what, err)
	}
	return c, nil
}

// ListClients implements Store.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	return pgList(ctx, s, "list clients", `SELECT `+sqlstore.ClientColumns+` FROM clients ORDER BY id`, pgScanClient)
}

// Refresh token families. Statements that change a family's tokens run in
// a transaction that first calls lockFamily.

// pgInsertRefresh inserts t (already checked and normalised) into its
// family, with its access token jtis.
func pgInsertRefresh(ctx context.Context, tx pgx.Tx, t store.RefreshToken) error {
	tag, err := tx.Exec(ctx,
		`INSERT INTO refresh_tokens (digest, family_id, scopes, issued_at, state) VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING`,
		t.Digest, t.FamilyID, pgScopes(t.Scopes), store.TimeToNanos(t.IssuedAt))
	if err := pgInserted("refresh token", tag, err); err != nil {
		return err
	}
	for _, a := range t.AccessJTIs {
		_, err := tx.Exec(ctx, `INSERT INTO refresh_access_tokens (refresh_digest, jti, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (refresh_digest, jti) DO UPDATE SET expires_at = excluded.expires_at`,
			t.Digest, a.JTI, store.TimeToNanos(a.ExpiresAt))
		if err != nil {
			return pgErr("record access token", err)
		}
	}
	return nil
}

// CreateRefresh implements Store. A duplicate digest, or a family that
// exists already, is ErrExists.
func (s *Store) CreateRefresh(ctx context.Context, t store.RefreshToken) error {
	if err := store.CheckRefresh(t); err != nil {
		return err
	}
	t = store.NormRefresh(t)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.prune(ctx, t.IssuedAt); err != nil {
		return err
	}
	return s.inTx(ctx, "store refresh token", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO refresh_families (id, subject, client_id, auth_time, expires_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			t.FamilyID, t.Subject, t.ClientID, store.TimeToNanos(t.AuthTime), store.TimeToNanos(t.ExpiresAt))
		if err := pgInserted("refresh token family", tag, err); err != nil {
			return err
		}
		return pgInsertRefresh(ctx, tx, t)
	})
}

// lockFamily locks the family of the token with this digest and returns
// what the family's tokens share. ErrNotFound if the token is unknown.
// Statements after it see every change committed by earlier holders of
// the lock.
func lockFamily(ctx context.Context, tx pgx.Tx, digest []byte) (store.RefreshToken, error) {
	var (
		f                   store.RefreshToken
		authTime, expiresAt int64
	)
	err := tx.QueryRow(ctx, `SELECT f.id, f.subject, f.client_id, f.auth_time, f.expires_at
		FROM refresh_families f JOIN refresh_tokens t ON t.family_id = f.id
		WHERE t.digest = $1 FOR UPDATE OF f`, digest).
		Scan(&f.FamilyID, &f.Subject, &f.ClientID, &authTime, &expiresAt)
	if err != nil {
		return store.RefreshToken{}, pgErr("refresh token", err)
	}
	f.AuthTime, f.ExpiresAt = store.NanosToTime(authTime), store.NanosToTime(expiresAt)
	return f, nil
}

// pgFamilyToken reads the token of family f (locked by the caller) with
// this digest, and its rotation state; the access tokens recorded on it
// only if withJTIs. ErrNotFound if the family has no such token.
func pgFamilyToken(ctx context.Context, tx pgx.Tx, f store.RefreshToken, digest []byte, withJTIs bool) (store.RefreshRow, error) {
	var (
		r                   store.RefreshRow
		state               int16
		issuedAt, rotatedAt int64
	)
	r.Token = f
	err := tx.QueryRow(ctx, `SELECT scopes, issued_at, state, rotated_at, successor, sealed
		FROM refresh_tokens WHERE digest = $1 AND family_id = $2`, digest, f.FamilyID).
		Scan(&r.Token.Scopes, &issuedAt, &state, &rotatedAt, &r.Successor, &r.Sealed)
	if err != nil {
		return store.RefreshRow{}, pgErr("refresh token", err)
	}
	r.Token.Digest = digest
	r.Token.Scopes, r.Token.IssuedAt = store.NormScopes(r.Token.Scopes), store.NanosToTime(issuedAt)
	r.State, r.RotatedAt = store.RefreshState(state), store.NanosToTime(rotatedAt)
	if withJTIs {
		rows, err := tx.Query(ctx, `SELECT jti, expires_at FROM refresh_access_tokens
			WHERE refresh_digest = $1 ORDER BY expires_at, jti`, digest)
		if err != nil {
			return store.RefreshRow{}, pgErr("read access tokens of refresh token", err)
		}
		r.Token.AccessJTIs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DeniedToken, error) {
			var (
				d   store.DeniedToken
				exp int64
			)
			err := row.Scan(&d.JTI, &exp)
			d.ExpiresAt = store.NanosToTime(exp)
			return d, err
		})
		if err != nil {
			return store.RefreshRow{}, pgErr("read access tokens of refresh token", err)
		}
	}
	return r, nil
}

// RotateRefresh implements Store. An expired family is ErrNotFound; next
// scopes wider than old's are ErrScopeExceeded. One transaction: the
// family is locked, so that rotations, retries and revocations of its
// tokens, from any instance, take turns and each sees what the previous
// one committed; then old is read and, if live, marked rotated (with what
// a retry needs) and next inserted with its access token. Concurrent
// rotations of old queue on the lock and find it rotated: a retry within
// the grace period, reuse otherwise. A refusal after the update rolls it
// back, so old stays live.
func (s *Store) RotateRefresh(ctx context.Context, r store.RefreshRotation) (store.RefreshRotated, error) {
	now := r.Now
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.prune(ctx, now); err != nil {
		return store.RefreshRotated{}, err
	}
	var (
		out    store.RefreshRotated
		reused bool
	)
	err := s.inTx(ctx, "rotate refresh token", func(tx pgx.Tx) error {
		f, err := lockFamily(ctx, tx, r.Old)
		if err != nil {
			return err
		}
		if !now.Before(f.ExpiresAt) {
			return fmt.Errorf("%w: refresh token", store.ErrNotFound)
		}
		cur, err := pgFamilyToken(ctx, tx, f, r.Old, false)
		if err != nil {
			return err
		}
		if cur.Retryable(r) {
			next, err := pgFamilyToken(ctx, tx, f, cur.Successor, true)
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
			return s.revokeFamily(ctx, tx, f.FamilyID, now)
		}
		nt, err := store.Successor(cur.Token, r.Next, now)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET state = 1, rotated_at = $2, successor = $3, sealed = $4
			WHERE digest = $1 AND state = 0`, r.Old, store.TimeToNanos(now), nt.Digest, sqlstore.NilIfEmpty(r.Sealed))
		if err != nil {
			return pgErr("rotate refresh token", err)
		}
		if tag.RowsAffected() != 1 {
			// Cannot happen under the family lock; refuse rather than
			// create a second live successor.
			return errors.New("auth: postgres: rotate refresh token: token changed during rotation")
		}
		if err := pgInsertRefresh(ctx, tx, nt); err != nil {
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
// accept at now (their exp plus MaxLeeway is after now). The caller holds
// the family lock.
func (s *Store) revokeFamily(ctx context.Context, tx pgx.Tx, family string, now time.Time) error {
	rows, err := tx.Query(ctx, `UPDATE refresh_tokens SET state = 2 WHERE family_id = $1 AND state <> 2 RETURNING digest`, family)
	if err != nil {
		return pgErr("revoke refresh family", err)
	}
	digests, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return pgErr("revoke refresh family", err)
	}
	if len(digests) == 0 {
		return nil // revoked before, its access tokens denied then
	}
	if err := s.lockFeed(ctx, tx); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO revocations (jti, expires_at, not_before)
		SELECT jti, expires_at, 0 FROM refresh_access_tokens
		WHERE refresh_digest = ANY($1) AND expires_at > $2
		ORDER BY expires_at, jti`, digests, store.TimeToNanos(now.Add(-store.MaxLeeway)))
	if err != nil {
		return pgErr("deny access tokens of refresh family", err)
	}
	return nil
}

// revokeFamilies revokes each of families (locked by the caller) as
// revokeFamily does.
func (s *Store) revokeFamilies(ctx context.Context, tx pgx.Tx, families []string, now time.Time) error {
	for _, f := range families {
		if err := s.revokeFamily(ctx, tx, f, now); err != nil {
			return err
		}
	}
	return nil
}

// RevokeRefresh implements Store. Revoking a revoked family is a no-op.
func (s *Store) RevokeRefresh(ctx context.Context, digest []byte, now time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "revoke refresh token", func(tx pgx.Tx) error {
		f, err := lockFamily(ctx, tx, digest)
		if err != nil {
			return err
		}
		return s.revokeFamily(ctx, tx, f.FamilyID, now)
	})
}

// lockFeed takes the lock that every insert into the revocation feed holds
// until its transaction ends, and queues the notification that tells the
// listening instances (see ListenRevocations) to pull the feed. PostgreSQL
// delivers a NOTIFY when, and only if, its transaction commits, so a
// notification always means an event is there to be read.
//
// Without it the feed could skip events: sequence numbers are drawn when a
// row is inserted, but become visible when its transaction commits, and
// transactions commit in any order. If a transaction drew 11 and another
// 12, and 12 committed first, a reader could see 12, move its cursor
// there, and never ask for 11. Under the lock one transaction at a time
// draws numbers and commits, and PostgreSQL makes a commit visible before
// it releases the transaction's locks, so whoever sees an event sees every
// event numbered below it. The cost is that revocations (logouts, reuse,
// password changes) are written one at a time across all instances; they
// are rare next to reads. Pruning only deletes expired events and needs no
// lock. The lock is taken after the row locks that order a transaction's
// writes (of the user, the client, the refresh families), and whatever a
// transaction writes after taking it is covered by those, so it cannot
// deadlock with them.
func (s *Store) lockFeed(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1), pg_notify($2, '')`, s.feedLock, s.channel); err != nil {
		return pgErr("lock the revocation feed", err)
	}
	return nil
}

// Deny implements Store.
func (s *Store) Deny(ctx context.Context, tokens ...store.DeniedToken) error {
	if err := store.CheckDenied(tokens); err != nil {
		return err
	}
	if len(tokens) == 0 {
		return nil
	}
	jtis := make([]string, len(tokens))
	expiries := make([]int64, len(tokens))
	for i, d := range tokens {
		jtis[i], expiries[i] = d.JTI, store.TimeToNanos(d.ExpiresAt)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.inTx(ctx, "deny access token", func(tx pgx.Tx) error {
		if err := s.lockFeed(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO revocations (jti, expires_at, not_before)
			SELECT jti, expires_at, 0 FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS d (jti, expires_at, n)
			ORDER BY n`, jtis, expiries)
		if err != nil {
			return pgErr("deny access token", err)
		}
		return nil
	})
}

// RevocationsSince implements Store.
func (s *Store) RevocationsSince(ctx context.Context, seq int64) ([]store.Revocation, error) {
	return pgList(ctx, s, "read revocations", `SELECT `+sqlstore.RevocationColumns+`
		FROM revocations WHERE seq > $1 ORDER BY seq`, sqlstore.ScanRevocation, seq)
}

// prune deletes expired refresh families (their tokens and access token
// records go with them) and denylist events MaxLeeway past their token's
// expiry, at most once per pruneInterval of the caller's clock and per
// process. Each DELETE is its own transaction, outside the caller's, so
// that the caller's locks are not held while it runs.
func (s *Store) prune(ctx context.Context, now time.Time) error {
	if !s.pruning.Due(now) {
		return nil
	}
	n := store.TimeToNanos(now)
	if _, err := s.pool.Exec(ctx, `DELETE FROM refresh_families WHERE expires_at <= $1`, n); err != nil {
		return pgErr("prune refresh tokens", err)
	}
	expired := store.TimeToNanos(now.Add(-store.MaxLeeway))
	if _, err := s.pool.Exec(ctx, `DELETE FROM revocations WHERE jti IS NOT NULL AND expires_at <= $1`, expired); err != nil {
		return pgErr("prune revocations", err)
	}
	s.pruning.Done(now)
	return nil
}

// Close implements Store. It waits for the connections in use to be
// returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// CheckURL validates a postgres:// DATABASE_URL without connecting, and
// returns warnings about it: a connection that may go
// unencrypted over a network.
func CheckURL(dsn string) (warnings []string, err error) {
	cfg, err := parseURL(dsn)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "auth: postgres: "))
	}
	c := cfg.ConnConfig
	plaintext := c.TLSConfig == nil
	for _, f := range c.Fallbacks {
		plaintext = plaintext || f.TLSConfig == nil
	}
	if plaintext && !store.LocalHost(c.Host) {
		warnings = append(warnings, fmt.Sprintf("DATABASE_URL: the connection to %s may be unencrypted "+
			"(sslmode is disable, allow, or prefer, the default), and password hashes and token digests cross it; "+
			"add sslmode=verify-full to the URL", c.Host))
	}
	return warnings, nil
}
