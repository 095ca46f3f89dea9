package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrScopeExceeded is returned by RotateRefresh when the next token would
// carry a scope that the presented token does not. The presented token stays
// live. The token endpoint answers it with invalid_scope.
var ErrScopeExceeded = errors.New("auth: requested scope exceeds the granted scope")

// Rules shared by every Store implementation of this package, so that they
// behave identically (the conformance suite checks that they do):
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

// refreshState is the lifecycle of one refresh token.
type refreshState int8

const (
	refreshLive    refreshState = 0
	refreshRotated refreshState = 1
	refreshRevoked refreshState = 2
)

// pruneInterval is how often, at most, a store deletes expired rows.
const pruneInterval = time.Minute

// pruneSchedule tells a store when to prune: at most once per
// pruneInterval of the caller's clock.
type pruneSchedule struct {
	mu   sync.Mutex
	last time.Time
}

// due reports whether a prune at now is due.
func (p *pruneSchedule) due(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !now.IsZero() && now.Sub(p.last).Abs() >= pruneInterval
}

// done records a prune at now.
func (p *pruneSchedule) done(now time.Time) {
	p.mu.Lock()
	p.last = now
	p.mu.Unlock()
}

// timeToNanos encodes t for storage: 0 for the zero time, otherwise Unix
// nanoseconds. That covers the years 1678 to 2262; times outside are clamped.
// (The instant 1970-01-01T00:00:00Z itself reads back as the zero time.)
func timeToNanos(t time.Time) int64 {
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

// nanosToTime decodes timeToNanos.
func nanosToTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// normTime is what a round trip through storage makes of t.
func normTime(t time.Time) time.Time { return nanosToTime(timeToNanos(t)) }

// storedScopes returns a sorted, de-duplicated copy of scopes, nil if empty.
func storedScopes(scopes []string) []string {
	if len(scopes) == 0 {
		return nil
	}
	s := slices.Clone(scopes)
	slices.Sort(s)
	return slices.Compact(s)
}

// scopesWithin reports whether every scope of sub is in super (both sorted).
func scopesWithin(sub, super []string) bool {
	for _, s := range sub {
		if _, ok := slices.BinarySearch(super, s); !ok {
			return false
		}
	}
	return true
}

func normUser(u User) User {
	u.Scopes = storedScopes(u.Scopes)
	u.NotBefore = normTime(u.NotBefore)
	u.CreatedAt = normTime(u.CreatedAt)
	return u
}

func normAPIKey(k APIKey) APIKey {
	k.Digest = slices.Clone(k.Digest)
	k.Scopes = storedScopes(k.Scopes)
	k.CreatedAt = normTime(k.CreatedAt)
	k.RevokedAt = normTime(k.RevokedAt)
	return k
}

func normClient(c Client) Client {
	c.Scopes = storedScopes(c.Scopes)
	c.NotBefore = normTime(c.NotBefore)
	c.CreatedAt = normTime(c.CreatedAt)
	return c
}

func normRefresh(t RefreshToken) RefreshToken {
	t.Digest = slices.Clone(t.Digest)
	t.Scopes = storedScopes(t.Scopes)
	t.IssuedAt = normTime(t.IssuedAt)
	t.AuthTime = normTime(t.AuthTime)
	t.ExpiresAt = normTime(t.ExpiresAt)
	jtis := make([]DeniedToken, 0, len(t.AccessJTIs))
	for _, d := range t.AccessJTIs {
		jtis = append(jtis, DeniedToken{JTI: d.JTI, ExpiresAt: normTime(d.ExpiresAt)})
	}
	t.AccessJTIs = nil
	if len(jtis) > 0 {
		t.AccessJTIs = jtis
	}
	return t
}

func checkUser(u User) error {
	if u.Username == "" {
		return errors.New("auth: store: user has no name")
	}
	return nil
}

// userChangeArgs returns the statement arguments of an update of the
// fields c sets, and nil (NULL: the statement keeps the stored value) for
// the others: the password hash, the scopes as encode stores them, and the
// disabled flag.
func userChangeArgs(c UserChange, encode func([]string) any) (hash, scopes, disabled any) {
	if c.PasswordHash != "" {
		hash = c.PasswordHash
	}
	if c.Scopes != nil {
		scopes = encode(c.Scopes)
	}
	if c.Disabled != nil {
		disabled = *c.Disabled
	}
	return hash, scopes, disabled
}

func checkAPIKey(k APIKey) error {
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

func checkClient(c Client) error {
	if c.ID == "" {
		return errors.New("auth: store: client has no id")
	}
	return nil
}

func checkRefresh(t RefreshToken) error {
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
	return checkDenied(t.AccessJTIs)
}

func checkDenied(tokens []DeniedToken) error {
	for _, d := range tokens {
		if d.JTI == "" {
			return errors.New("auth: store: access token without jti")
		}
	}
	return nil
}

// successor builds the token that replaces old in a rotation. The family,
// subject, client, login time and absolute expiry are inherited from old:
// whatever next says about them is ignored, so rotation can never extend a
// family or move it to another user. Empty next.Scopes means old's scopes
// (RFC 6749 §6); otherwise they must be within old's.
func successor(old, next RefreshToken, now time.Time) (RefreshToken, error) {
	next = normRefresh(next)
	if len(next.Digest) == 0 {
		return RefreshToken{}, errors.New("auth: store: refresh token has no digest")
	}
	if err := checkDenied(next.AccessJTIs); err != nil {
		return RefreshToken{}, err
	}
	if next.Scopes == nil {
		next.Scopes = old.Scopes
	} else if !scopesWithin(next.Scopes, old.Scopes) {
		return RefreshToken{}, ErrScopeExceeded
	}
	next.FamilyID = old.FamilyID
	next.Subject = old.Subject
	next.ClientID = old.ClientID
	next.AuthTime = old.AuthTime
	next.ExpiresAt = old.ExpiresAt
	if next.IssuedAt.IsZero() {
		next.IssuedAt = normTime(now)
	}
	return next, nil
}

// MemoryStore is a Store that keeps everything in memory, for tests and for
// servers that need no persistence. Everything is lost when the process
// exits, and it cannot be shared between processes.
type MemoryStore struct {
	mu          sync.Mutex
	users       map[string]User
	apiKeys     map[string]APIKey // by id
	keyDigests  map[string]string // digest -> id
	clients     map[string]Client
	refresh     map[string]*memRefresh // by digest
	families    map[string][]string    // family id -> digests
	revocations []Revocation
	seq         int64
	lastPrune   time.Time
	links       map[string]IdentityLink // issuer+subject (see links_gen.go), created on first use
}

type memRefresh struct {
	tok   RefreshToken
	state refreshState
	// Set when the token is rotated: when, into which successor, and what
	// the rotation was given to answer retries with.
	rotatedAt time.Time
	successor string
	sealed    []byte
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		users:      make(map[string]User),
		apiKeys:    make(map[string]APIKey),
		keyDigests: make(map[string]string),
		clients:    make(map[string]Client),
		refresh:    make(map[string]*memRefresh),
		families:   make(map[string][]string),
	}
}

// CreateUser implements Store.
func (s *MemoryStore) CreateUser(_ context.Context, u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.Username]; ok {
		return fmt.Errorf("%w: user %q", ErrExists, u.Username)
	}
	s.users[u.Username] = normUser(u)
	return nil
}

// User implements Store.
func (s *MemoryStore) User(_ context.Context, username string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, username)
	}
	return normUser(u), nil
}

// UpdateUser implements Store. A later NotBefore is appended to the
// revocation feed.
func (s *MemoryStore) UpdateUser(_ context.Context, username string, c UserChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, username)
	}
	if c.PasswordHash != "" {
		u.PasswordHash = c.PasswordHash
	}
	if c.Scopes != nil {
		u.Scopes = storedScopes(c.Scopes)
	}
	if c.Disabled != nil {
		u.Disabled = *c.Disabled
	}
	if nb := normTime(c.NotBefore); nb.After(u.NotBefore) {
		u.NotBefore = nb
		s.appendRevocation(Revocation{Subject: username, NotBefore: nb})
	}
	s.users[username] = u
	return nil
}

// ReplacePasswordHash implements Store.
func (s *MemoryStore) ReplacePasswordHash(_ context.Context, username, oldHash, newHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok || u.PasswordHash != oldHash {
		return fmt.Errorf("%w: user %q with that password hash", ErrNotFound, username)
	}
	u.PasswordHash = newHash
	s.users[username] = u
	return nil
}

// ListUsers implements Store.
func (s *MemoryStore) ListUsers(_ context.Context) ([]User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, normUser(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// CreateAPIKey implements Store. A duplicate id or digest is ErrExists.
func (s *MemoryStore) CreateAPIKey(_ context.Context, k APIKey) error {
	if err := checkAPIKey(k); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apiKeys[k.ID]; ok {
		return fmt.Errorf("%w: API key %q", ErrExists, k.ID)
	}
	if _, ok := s.keyDigests[string(k.Digest)]; ok {
		return fmt.Errorf("%w: API key digest", ErrExists)
	}
	k = normAPIKey(k)
	s.apiKeys[k.ID] = k
	s.keyDigests[string(k.Digest)] = k.ID
	return nil
}

// APIKeyByDigest implements Store.
func (s *MemoryStore) APIKeyByDigest(_ context.Context, digest []byte) (APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.keyDigests[string(digest)]
	if !ok {
		return APIKey{}, fmt.Errorf("%w: API key", ErrNotFound)
	}
	k := s.apiKeys[id]
	if !k.RevokedAt.IsZero() {
		return APIKey{}, fmt.Errorf("%w: API key", ErrNotFound)
	}
	return normAPIKey(k), nil
}

// RevokeAPIKey implements Store. Revoking a revoked key keeps its first
// revocation time.
func (s *MemoryStore) RevokeAPIKey(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.apiKeys[id]
	if !ok {
		return fmt.Errorf("%w: API key %q", ErrNotFound, id)
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = normTime(at)
		s.apiKeys[id] = k
	}
	return nil
}

// ListAPIKeys implements Store. Revoked keys are included.
func (s *MemoryStore) ListAPIKeys(_ context.Context) ([]APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]APIKey, 0, len(s.apiKeys))
	for _, k := range s.apiKeys {
		out = append(out, normAPIKey(k))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateClient implements Store.
func (s *MemoryStore) CreateClient(_ context.Context, c Client) error {
	if err := checkClient(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("%w: client %q", ErrExists, c.ID)
	}
	s.clients[c.ID] = normClient(c)
	return nil
}

// Client implements Store.
func (s *MemoryStore) Client(_ context.Context, id string) (Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return Client{}, fmt.Errorf("%w: client %q", ErrNotFound, id)
	}
	return normClient(c), nil
}

// UpdateClient implements Store.
func (s *MemoryStore) UpdateClient(_ context.Context, id string, ch ClientChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("%w: client %q", ErrNotFound, id)
	}
	if ch.SecretHash != "" {
		if c.SecretHash != ch.IfSecretHash {
			return fmt.Errorf("client %q: %w", id, ErrSecretRotatedMeanwhile)
		}
		c.SecretHash = ch.SecretHash
	}
	if nb := normTime(ch.NotBefore); nb.After(c.NotBefore) {
		c.NotBefore = nb
		s.appendRevocation(Revocation{ClientID: id, NotBefore: nb})
	}
	s.clients[id] = c
	return nil
}

// DeleteClient implements Store.
func (s *MemoryStore) DeleteClient(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("%w: client %q", ErrNotFound, id)
	}
	delete(s.clients, id)
	s.appendRevocation(Revocation{ClientID: id, NotBefore: normTime(at)})
	families := make(map[string]bool)
	for _, r := range s.refresh {
		if r.tok.ClientID == id {
			families[r.tok.FamilyID] = true
		}
	}
	// Sorted, so the feed's order does not depend on map iteration.
	for _, f := range slices.Sorted(maps.Keys(families)) {
		s.revokeFamily(f, at)
	}
	return nil
}

// ListClients implements Store.
func (s *MemoryStore) ListClients(_ context.Context) ([]Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, normClient(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateRefresh implements Store. A duplicate digest is ErrExists.
func (s *MemoryStore) CreateRefresh(_ context.Context, t RefreshToken) error {
	if err := checkRefresh(t); err != nil {
		return err
	}
	t = normRefresh(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(t.IssuedAt)
	if _, ok := s.refresh[string(t.Digest)]; ok {
		return fmt.Errorf("%w: refresh token", ErrExists)
	}
	s.refresh[string(t.Digest)] = &memRefresh{tok: t}
	s.families[t.FamilyID] = append(s.families[t.FamilyID], string(t.Digest))
	return nil
}

// RotateRefresh implements Store. An expired family is ErrNotFound; next
// scopes wider than old's are ErrScopeExceeded.
func (s *MemoryStore) RotateRefresh(_ context.Context, r RefreshRotation) (RefreshRotated, error) {
	now := r.Now
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	cur, ok := s.refresh[string(r.Old)]
	if !ok || !now.Before(cur.tok.ExpiresAt) {
		return RefreshRotated{}, fmt.Errorf("%w: refresh token", ErrNotFound)
	}
	if cur.state == refreshRotated && withinGrace(cur.rotatedAt, r.Grace, now) && len(cur.sealed) > 0 {
		if next := s.refresh[cur.successor]; next != nil && next.state == refreshLive {
			return RefreshRotated{Token: normRefresh(next.tok), Retry: true, Sealed: slices.Clone(cur.sealed)}, nil
		}
	}
	if cur.state != refreshLive {
		s.revokeFamily(cur.tok.FamilyID, now)
		return RefreshRotated{}, ErrRefreshReused
	}
	nt, err := successor(cur.tok, r.Next, now)
	if err != nil {
		return RefreshRotated{}, err
	}
	if _, ok := s.refresh[string(nt.Digest)]; ok {
		return RefreshRotated{}, fmt.Errorf("%w: refresh token", ErrExists)
	}
	cur.state = refreshRotated
	cur.rotatedAt = normTime(now)
	cur.successor = string(nt.Digest)
	cur.sealed = slices.Clone(r.Sealed)
	s.refresh[string(nt.Digest)] = &memRefresh{tok: nt}
	s.families[nt.FamilyID] = append(s.families[nt.FamilyID], string(nt.Digest))
	return RefreshRotated{Token: normRefresh(nt)}, nil
}

// withinGrace reports whether a retry at now of a token rotated at
// rotatedAt falls within grace. A clock behind the rotating process's (now
// before rotatedAt) counts as within.
func withinGrace(rotatedAt time.Time, grace time.Duration, now time.Time) bool {
	return grace > 0 && now.Before(rotatedAt.Add(grace))
}

// RevokeRefresh implements Store. Revoking a revoked family is a no-op.
func (s *MemoryStore) RevokeRefresh(_ context.Context, digest []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.refresh[string(digest)]
	if !ok {
		return fmt.Errorf("%w: refresh token", ErrNotFound)
	}
	s.revokeFamily(cur.tok.FamilyID, now)
	return nil
}

// revokeFamily marks every token of the family revoked and denies the access
// tokens recorded on tokens not revoked before (those already were) that a
// verifier may still accept at now. The caller holds s.mu.
func (s *MemoryStore) revokeFamily(family string, now time.Time) {
	var deny []DeniedToken
	for _, d := range s.families[family] {
		r := s.refresh[d]
		if r == nil || r.state == refreshRevoked {
			continue
		}
		r.state = refreshRevoked
		for _, a := range r.tok.AccessJTIs {
			if !expiredForGood(a.ExpiresAt, now) {
				deny = append(deny, a)
			}
		}
	}
	sortDenied(deny)
	for _, d := range deny {
		s.appendRevocation(Revocation{JTI: d.JTI, ExpiresAt: d.ExpiresAt})
	}
}

// sortDenied orders tokens by expiry, then jti, so every store appends a
// family's denials to the feed in the same order.
func sortDenied(d []DeniedToken) {
	slices.SortFunc(d, func(a, b DeniedToken) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.JTI, b.JTI)
	})
}

// Deny implements Store.
func (s *MemoryStore) Deny(_ context.Context, tokens ...DeniedToken) error {
	if err := checkDenied(tokens); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range tokens {
		s.appendRevocation(Revocation{JTI: d.JTI, ExpiresAt: normTime(d.ExpiresAt)})
	}
	return nil
}

// RevocationsSince implements Store.
func (s *MemoryStore) RevocationsSince(_ context.Context, seq int64) ([]Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.revocations), func(i int) bool { return s.revocations[i].Seq > seq })
	if i == len(s.revocations) {
		return nil, nil
	}
	return slices.Clone(s.revocations[i:]), nil
}

// Close implements Store. A MemoryStore holds no resources.
func (s *MemoryStore) Close() error { return nil }

// appendRevocation adds ev to the feed with the next sequence number. The
// caller holds s.mu.
func (s *MemoryStore) appendRevocation(ev Revocation) {
	s.seq++
	ev.Seq = s.seq
	s.revocations = append(s.revocations, ev)
}

// prune deletes expired refresh families and denylist events, at most once
// per pruneInterval of the caller's clock. The caller holds s.mu.
func (s *MemoryStore) prune(now time.Time) {
	if now.IsZero() || now.Sub(s.lastPrune).Abs() < pruneInterval {
		return
	}
	s.lastPrune = now
	for d, r := range s.refresh {
		if !now.Before(r.tok.ExpiresAt) {
			delete(s.refresh, d)
		}
	}
	for f, ds := range s.families {
		ds = slices.DeleteFunc(ds, func(d string) bool { return s.refresh[d] == nil })
		if len(ds) == 0 {
			delete(s.families, f)
		} else {
			s.families[f] = ds
		}
	}
	s.revocations = slices.DeleteFunc(s.revocations, func(ev Revocation) bool {
		return ev.JTI != "" && expiredForGood(ev.ExpiresAt, now)
	})
}
