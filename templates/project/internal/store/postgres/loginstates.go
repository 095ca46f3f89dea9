package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/internal/sqlstore"
)

// Migration 4: started logins through external providers, so that any
// instance can finish a login another started. The key is the SHA-256
// digest of the state parameter.
const loginStatesMigration = `
CREATE TABLE login_states (
	key        bytea NOT NULL PRIMARY KEY,
	provider   text NOT NULL,
	addr       text NOT NULL,
	binding    bytea NOT NULL,
	verifier   text NOT NULL,
	nonce      text NOT NULL,
	return_to  text NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX login_states_addr ON login_states (addr, expires_at);
CREATE INDEX login_states_expiry ON login_states (expires_at);
`

// PutLoginState implements LoginStateStore. The starts of one address,
// from any instance, are serialized by an advisory lock of the address
// (held to the end of the transaction), so that two of them cannot both
// count 19 live states and both insert. Other addresses do not wait
// (unless their 64-bit hashes collide, which only serializes them).
// Expired states of other addresses are removed a few at a time, skipping
// rows another transaction holds.
func (s *Store) PutLoginState(ctx context.Context, key []byte, st store.LoginState, now time.Time) error {
	if err := store.CheckLoginState(key, st); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n := store.TimeToNanos(now)
	return s.inTx(ctx, "put login state", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`DELETE FROM login_states WHERE key IN (SELECT key FROM login_states WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			n, sqlstore.LoginSweep); err != nil {
			return pgErr("remove expired login states", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`, st.Addr, s.loginLock); err != nil {
			return pgErr("lock the login states of an address", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM login_states WHERE addr = $1 AND expires_at <= $2`, st.Addr, n); err != nil {
			return pgErr("remove expired login states", err)
		}
		var live int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM login_states WHERE addr = $1`, st.Addr).Scan(&live); err != nil {
			return pgErr("count login states", err)
		}
		if live >= store.MaxLoginStatesPerAddress {
			return store.ErrTooManyLogins
		}
		tag, err := tx.Exec(ctx,
			`INSERT INTO login_states (key, `+sqlstore.LoginStateColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			key, st.Provider, st.Addr, st.Binding, st.Verifier, st.Nonce, st.ReturnTo, store.TimeToNanos(st.Expires))
		return pgInserted("login state", tag, err)
	})
}

// TakeLoginState implements LoginStateStore: one DELETE ... RETURNING, so
// of concurrent takes, from any instance, only the one whose delete finds
// the row gets it.
func (s *Store) TakeLoginState(ctx context.Context, key []byte, now time.Time) (store.LoginState, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	st, err := sqlstore.ScanLoginState(s.pool.QueryRow(ctx,
		`DELETE FROM login_states WHERE key = $1 RETURNING `+sqlstore.LoginStateColumns, key))
	if err != nil {
		return store.LoginState{}, pgErr("take login state", err)
	}
	if !now.Before(st.Expires) {
		return store.LoginState{}, fmt.Errorf("%w: login state (expired)", store.ErrNotFound)
	}
	return st, nil
}
