package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Migration 4: started logins through external providers, so that any
// instance can finish a login another started. The key is the SHA-256
// digest of the state parameter.
const loginStatesMigration = `
CREATE TABLE login_states (
	key        BLOB NOT NULL PRIMARY KEY,
	provider   TEXT NOT NULL,
	addr       TEXT NOT NULL,
	binding    BLOB NOT NULL,
	verifier   TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	return_to  TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX login_states_addr ON login_states (addr, expires_at);
CREATE INDEX login_states_expiry ON login_states (expires_at);
`

// PutLoginState implements LoginStateStore. Writes go through one
// connection, so the count of the address's states and the insert are
// not interleaved with another put.
func (s *Store) PutLoginState(ctx context.Context, key []byte, st store.LoginState, now time.Time) error {
	if err := store.CheckLoginState(key, st); err != nil {
		return err
	}
	n := store.TimeToNanos(now)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return sqliteErr("begin", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM login_states WHERE key IN (SELECT key FROM login_states WHERE expires_at <= ? LIMIT ?)`, n, sqlstore.LoginSweep); err != nil {
		return sqliteErr("remove expired login states", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_states WHERE addr = ? AND expires_at <= ?`, st.Addr, n); err != nil {
		return sqliteErr("remove expired login states", err)
	}
	var live int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM login_states WHERE addr = ?`, st.Addr).Scan(&live); err != nil {
		return sqliteErr("count login states", err)
	}
	if live >= store.MaxLoginStatesPerAddress {
		return store.ErrTooManyLogins
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO login_states (key, `+sqlstore.LoginStateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		key, st.Provider, st.Addr, st.Binding, st.Verifier, st.Nonce, st.ReturnTo, store.TimeToNanos(st.Expires))
	if err := insertResult("login state", res, err); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return sqliteErr("commit", err)
	}
	return nil
}

// TakeLoginState implements LoginStateStore: one DELETE ... RETURNING, so
// of concurrent takes only the one that deletes the row gets it.
func (s *Store) TakeLoginState(ctx context.Context, key []byte, now time.Time) (store.LoginState, error) {
	st, err := sqlstore.ScanLoginState(s.write.QueryRowContext(ctx,
		`DELETE FROM login_states WHERE key = ? RETURNING `+sqlstore.LoginStateColumns, key))
	if err != nil {
		return store.LoginState{}, sqliteErr("take login state", err)
	}
	if !now.Before(st.Expires) {
		return store.LoginState{}, fmt.Errorf("%w: login state (expired)", store.ErrNotFound)
	}
	return st, nil
}
