package store

import (
	"context"
	"time"
)

// Counts keeps the counts that every instance of a server shares: the
// failed-login throttle's and the request rate limits'. Package redis
// implements it (REDIS_URL). Its callers, auth.Throttle and
// auth.RateLimiter, decide with the answers, and count in their own memory
// while it does not answer.
type Counts interface {
	ThrottleCounts
	RateCounts
	Close() error
}

// ThrottleCounts keeps the counts of a failed-login throttle, implementing
// the rules of auth.Throttle (see there) with limits l. Times are the
// caller's clock (now), as in the throttle's own tables: expiry is judged
// by them. Each call is bounded by ctx and by the implementation's own
// time-out.
type ThrottleCounts interface {
	// ReserveAttempt holds a's places in every count it is subject to,
	// unless a limit refuses it: then ok is false, and wait is how long
	// until it may proceed. known reports whether a.Account is known at
	// a.Addr, where only the pair's own limit applies; the caller passes
	// it back in EndAttempt.
	ReserveAttempt(ctx context.Context, l ThrottleLimits, a ThrottleAttempt, now time.Time) (wait time.Duration, ok, known bool, err error)
	// EndAttempt ends a's reservation with outcome: OutcomeFail counts a
	// failure against every limit it was reserved under, OutcomeSucceed
	// forgets the pair's failures and makes the address known for the
	// account, and OutcomeCancel counts nothing. A reservation never ended
	// lapses by itself.
	EndAttempt(ctx context.Context, l ThrottleLimits, a ThrottleAttempt, outcome string, now time.Time) error
}

// ThrottleLimits are the rules of a throttle's counts: those of
// auth.ThrottleConfig, and the two the throttle fixes.
type ThrottleLimits struct {
	AccountAddressLimit int
	AddressLimit        int
	Window              time.Duration
	AccountSlowAfter    int
	AccountDelay        time.Duration
	AccountMaxDelay     time.Duration
	AccountWindow       time.Duration
	KnownFor            time.Duration
	// MaxKnown bounds the addresses remembered for one account.
	MaxKnown int
	// PendingRetry is the wait of an attempt refused because others,
	// still being checked, fill the allowance.
	PendingRetry time.Duration
}

// ThrottleAttempt is one login attempt in the shared counts.
type ThrottleAttempt struct {
	ID      string // of its reservation, random
	Account string // "" when counted against the address only
	Addr    string // the client address's key; "" when not counted on its own
	Known   bool   // ReserveAttempt's answer, passed back to EndAttempt
}

// PairKey is the key of an (account, address) pair in a throttle's counts;
// "" without an account. Account names and address keys contain no NUL.
func PairKey(account, addrKey string) string {
	if account == "" {
		return ""
	}
	return account + "\x00" + addrKey
}

// The outcomes of an attempt (ThrottleCounts.EndAttempt).
const (
	OutcomeFail    = "fail"
	OutcomeSucceed = "succeed"
	OutcomeCancel  = "cancel"
)

// RateCounts keeps the counts of request rate limits, by GCRA: per key, a
// "theoretical arrival time" that each request moves interval ahead, and
// that may run at most capacity ahead of now (the caller's clock).
type RateCounts interface {
	// CountRequest counts one request of key, and answers whether it is
	// let through. A refused request is not counted.
	CountRequest(ctx context.Context, key string, interval, capacity time.Duration, now time.Time) (RateDecision, error)
}

// RateDecision is the answer to one request.
type RateDecision struct {
	Allowed   bool
	Remaining int           // requests left now
	Reset     time.Duration // until the allowance is whole again
	Retry     time.Duration // when refused: until one more is let through
}
