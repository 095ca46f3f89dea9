package postgres

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// The listener's reconnection backoff: it doubles from the first delay to
// the last, with jitter, so that instances cut off together do not all
// reconnect at the same moment. Meanwhile the poll keeps the revocation
// state current, so the backoff costs latency, never correctness.
const (
	listenFirstBackoff = 100 * time.Millisecond
	ListenMaxBackoff   = 10 * time.Second
)

// listenCheckEvery is how long the listener waits for a notification
// before it checks that its connection still answers. A server that went
// away without closing the connection (a failover, a cut network) would
// otherwise leave it waiting for good.
const listenCheckEvery = 30 * time.Second

// ListenRevocations implements RevocationListener with LISTEN on a
// connection of its own, outside the pool: a listening session must stay
// open, and a pooled one would be handed to other work. A nil log
// discards.
func (s *Store) ListenRevocations(ctx context.Context, notify func(), log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := listenFirstBackoff
	failing := false
	listening := func() {
		if failing {
			log.LogAttrs(ctx, slog.LevelInfo, "revocation push is listening again")
			failing = false
		}
		backoff = listenFirstBackoff
		notify() // catch up with what was committed while not listening
	}
	for {
		err := s.listen(ctx, listening, notify)
		if ctx.Err() != nil {
			return
		}
		if !failing {
			failing = true
			log.LogAttrs(ctx, slog.LevelWarn, "revocation push failed: reconnecting, and polling the revocation feed meanwhile",
				slog.String("error", err.Error()))
		}
		// Full jitter in the upper half: between backoff/2 and backoff.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, ListenMaxBackoff)
	}
}

// listen connects, listens on the store's channel, calls listening, then
// notify for each notification, until the connection fails (the error is
// returned) or ctx is done.
func (s *Store) listen(ctx context.Context, listening, notify func()) error {
	cctx, cancel := s.bound(ctx)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, s.conn.Copy())
	if err != nil {
		return pgErr("listen for revocations: connect", err)
	}
	defer func() {
		closeCtx, cancel := s.bound(context.WithoutCancel(ctx))
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return pgErr("listen for revocations", err)
	}
	listening()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenCheckEvery)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			notify()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet for a while: check that the server is still there.
			// (A timed-out wait leaves the connection usable.)
			pctx, cancel := s.bound(ctx)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return pgErr("listen for revocations: check the connection", err)
			}
		default:
			return pgErr("listen for revocations", err)
		}
	}
}
