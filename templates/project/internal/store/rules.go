package store

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Rules shared by every Store implementation, so that they behave
// identically (the conformance suite, storetest, checks that they do). The
// functions below implement them for the backends of this runtime, and
// for one of your own:
//
//   - Times are kept at nanosecond precision in UTC, and returned as UTC
//     without a monotonic clock reading; the zero time stays zero.
//   - Scope lists are returned as sorted copies, nil when empty.
//   - A refresh family whose ExpiresAt is not after now is expired:
//     RotateRefresh treats its tokens as unknown (ErrNotFound), because a
//     client cannot tell a pruned token from an expired one anyway.
//   - Expired refresh families and expired denylist events are pruned when a
//     refresh token is created or rotated, relative to that call's time (the
//     new token's IssuedAt, or now), so the stores follow the caller's clock.
//     A denial is expired MaxLeeway after the token's exp: verifiers accept
//     a token that long, so until then a process that starts and reads the
//     feed must still learn of the denial. Likewise a revoked family denies
//     only the access tokens that some verifier may still accept. Subject
//     and client (NotBefore) events are never pruned.

// RefreshState is the lifecycle of one refresh token. The SQL stores keep
// its number.
type RefreshState int8

const (
	TokenLive    RefreshState = 0
	TokenRotated RefreshState = 1
	TokenRevoked RefreshState = 2
)

// RefreshRow is a stored refresh token with its rotation state.
type RefreshRow struct {
	Token RefreshToken
	State RefreshState
	// Set when the token is rotated: when, into which successor (its
	// digest), and what the rotation was given to answer retries with.
	RotatedAt time.Time
	Successor []byte
	Sealed    []byte
}

// Retryable reports whether presenting r's token again, in rotation rot,
// is a retry to answer with its successor rather than reuse: r was rotated
// within rot.Grace before rot.Now and keeps what to answer with. The
// successor must still be live, which the caller checks.
func (r RefreshRow) Retryable(rot RefreshRotation) bool {
	return r.State == TokenRotated && withinGrace(r.RotatedAt, rot.Grace, rot.Now) && len(r.Sealed) > 0
}

// PruneInterval is how often, at most, a store deletes expired rows.
const PruneInterval = time.Minute

// PruneSchedule tells a store when to prune: at most once per
// PruneInterval of the caller's clock.
type PruneSchedule struct {
	mu   sync.Mutex
	last time.Time
}

// Due reports whether a prune at now is due.
func (p *PruneSchedule) Due(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !now.IsZero() && now.Sub(p.last).Abs() >= PruneInterval
}

// Done records a prune at now.
func (p *PruneSchedule) Done(now time.Time) {
	p.mu.Lock()
	p.last = now
	p.mu.Unlock()
}

// TimeToNanos encodes t for storage: 0 for the zero time, otherwise Unix
// nanoseconds. That covers the years 1678 to 2262; times outside are clamped.
// (The instant 1970-01-01T00:00:00Z itself reads back as the zero time.)
func TimeToNanos(t time.Time) int64 {
	const limit = math.MaxInt64 / int64(time.Second) // seconds either side of 1970
	switch sec := t.Unix(); {
	case t.IsZero():
		return 0
	case sec >= limit:
		return math.MaxInt64
	case sec <= -limit:
		return -limit * int64(time.Second)
	}
	return t.UnixNano()
}

// NanosToTime decodes TimeToNanos.
func NanosToTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NormTime is what a round trip through storage makes of t.
func NormTime(t time.Time) time.Time { return NanosToTime(TimeToNanos(t)) }

// NormScopes returns a sorted, de-duplicated copy of scopes, nil if empty:
// a scope list as stores return it.
func NormScopes(scopes []string) []string {
	if len(scopes) == 0 {
		return nil
	}
	s := slices.Clone(scopes)
	slices.Sort(s)
	return slices.Compact(s)
}

// ScopesWithin reports whether every scope of sub is in super (both sorted).
func ScopesWithin(sub, super []string) bool {
	for _, s := range sub {
		if _, ok := slices.BinarySearch(super, s); !ok {
			return false
		}
	}
	return true
}

// NormUser is what a round trip through a store makes of u.
func NormUser(u User) User {
	u.Scopes = NormScopes(u.Scopes)
	u.NotBefore = NormTime(u.NotBefore)
	u.CreatedAt = NormTime(u.CreatedAt)
	return u
}

// NormAPIKey is what a round trip through a store makes of k.
func NormAPIKey(k APIKey) APIKey {
	k.Digest = slices.Clone(k.Digest)
	k.Scopes = NormScopes(k.Scopes)
	k.CreatedAt = NormTime(k.CreatedAt)
	k.RevokedAt = NormTime(k.RevokedAt)
	return k
}

// NormClient is what a round trip through a store makes of c.
func NormClient(c Client) Client {
	c.Scopes = NormScopes(c.Scopes)
	c.NotBefore = NormTime(c.NotBefore)
	c.CreatedAt = NormTime(c.CreatedAt)
	return c
}

// NormRefresh is what a round trip through a store makes of t.
func NormRefresh(t RefreshToken) RefreshToken {
	t.Digest = slices.Clone(t.Digest)
	t.Scopes = NormScopes(t.Scopes)
	t.IssuedAt = NormTime(t.IssuedAt)
	t.AuthTime = NormTime(t.AuthTime)
	t.ExpiresAt = NormTime(t.ExpiresAt)
	jtis := make([]DeniedToken, 0, len(t.AccessJTIs))
	for _, d := range t.AccessJTIs {
		jtis = append(jtis, DeniedToken{JTI: d.JTI, ExpiresAt: NormTime(d.ExpiresAt)})
	}
	t.AccessJTIs = nil
	if len(jtis) > 0 {
		t.AccessJTIs = jtis
	}
	return t
}

// CheckUser refuses a user a store must not keep; likewise CheckAPIKey,
// CheckClient, CheckRefresh (a new family's first token) and CheckDenied.
func CheckUser(u User) error {
	if u.Username == "" {
		return errors.New("auth: store: user has no name")
	}
	return nil
}

func CheckAPIKey(k APIKey) error {
	switch {
	case k.ID == "":
		return errors.New("auth: store: API key has no id")
	case len(k.Digest) == 0:
		return errors.New("auth: store: API key has no digest")
	case k.Owner == "":
		return errors.New("auth: store: API key has no owner")
	}
	return nil
}

func CheckClient(c Client) error {
	if c.ID == "" {
		return errors.New("auth: store: client has no id")
	}
	return nil
}

func CheckRefresh(t RefreshToken) error {
	switch {
	case len(t.Digest) == 0:
		return errors.New("auth: store: refresh token has no digest")
	case t.FamilyID == "":
		return errors.New("auth: store: refresh token has no family")
	case t.Subject == "":
		return errors.New("auth: store: refresh token has no subject")
	case t.ExpiresAt.IsZero():
		return errors.New("auth: store: refresh token has no expiry")
	}
	return CheckDenied(t.AccessJTIs)
}

func CheckDenied(tokens []DeniedToken) error {
	for _, d := range tokens {
		if d.JTI == "" {
			return errors.New("auth: store: access token without jti")
		}
	}
	return nil
}

// Successor builds the token that replaces old in a rotation. The family,
// subject, client, login time and absolute expiry are inherited from old:
// whatever next says about them is ignored, so rotation can never extend a
// family or move it to another user. Empty next.Scopes means old's scopes
// (RFC 6749 §6); otherwise they must be within old's.
func Successor(old, next RefreshToken, now time.Time) (RefreshToken, error) {
	next = NormRefresh(next)
	if len(next.Digest) == 0 {
		return RefreshToken{}, errors.New("auth: store: refresh token has no digest")
	}
	if err := CheckDenied(next.AccessJTIs); err != nil {
		return RefreshToken{}, err
	}
	if next.Scopes == nil {
		next.Scopes = old.Scopes
	} else if !ScopesWithin(next.Scopes, old.Scopes) {
		return RefreshToken{}, ErrScopeExceeded
	}
	next.FamilyID = old.FamilyID
	next.Subject = old.Subject
	next.ClientID = old.ClientID
	next.AuthTime = old.AuthTime
	next.ExpiresAt = old.ExpiresAt
	if next.IssuedAt.IsZero() {
		next.IssuedAt = NormTime(now)
	}
	return next, nil
}

// withinGrace reports whether a retry at now of a token rotated at
// rotatedAt falls within grace. A clock behind the rotating process's (now
// before rotatedAt) counts as within.
func withinGrace(rotatedAt time.Time, grace time.Duration, now time.Time) bool {
	return grace > 0 && now.Before(rotatedAt.Add(grace))
}

// SortDenied orders tokens by expiry, then jti, so every store appends a
// family's denials to the feed in the same order.
func SortDenied(d []DeniedToken) {
	slices.SortFunc(d, func(a, b DeniedToken) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.JTI, b.JTI)
	})
}

// SortSessions orders sessions by login time, then family id.
func SortSessions(out []Session) {
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.AuthTime.Compare(b.AuthTime); c != 0 {
			return c
		}
		if a.FamilyID < b.FamilyID {
			return -1
		}
		if a.FamilyID > b.FamilyID {
			return 1
		}
		return 0
	})
}
