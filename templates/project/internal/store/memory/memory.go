// Package memory is a Store that keeps everything in the process's memory.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Store is a store.Store that keeps everything in memory, for tests and for
// servers that need no persistence (the minimal and resource-server
// templates keep their static API keys in one). Everything is lost when the
// process exits, and it cannot be shared between processes.
type Store struct {
	mu          sync.Mutex
	users       map[string]store.User
	apiKeys     map[string]store.APIKey // by id
	keyDigests  map[string]string       // digest -> id
	clients     map[string]store.Client
	refresh     map[string]*store.RefreshRow // by digest
	families    map[string][]string          // family id -> digests
	revocations []store.Revocation
	seq         int64
	lastPrune   time.Time
	links       map[string]store.IdentityLink // issuer+subject (see links_gen.go), created on first use
	logins      loginStates                   // started provider logins, under a lock of their own
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.SessionStore      = (*Store)(nil)
	_ store.IdentityLinkStore = (*Store)(nil)
	_ store.LoginStateStore   = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{
		users:      make(map[string]store.User),
		apiKeys:    make(map[string]store.APIKey),
		keyDigests: make(map[string]string),
		clients:    make(map[string]store.Client),
		refresh:    make(map[string]*store.RefreshRow),
		families:   make(map[string][]string),
	}
}

// CreateUser implements Store.
func (s *Store) CreateUser(_ context.Context, u store.User) error {
	if err := store.CheckUser(u); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.Username]; ok {
		return fmt.Errorf("%w: user %q", store.ErrExists, u.Username)
	}
	s.users[u.Username] = store.NormUser(u)
	return nil
}

// User implements Store.
func (s *Store) User(_ context.Context, username string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return store.User{}, fmt.Errorf("%w: user %q", store.ErrNotFound, username)
	}
	return store.NormUser(u), nil
}

// UpdateUser implements Store. A later NotBefore is appended to the
// revocation feed.
func (s *Store) UpdateUser(_ context.Context, username string, c store.UserChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		return fmt.Errorf("%w: user %q", store.ErrNotFound, username)
	}
	if c.PasswordHash != "" {
		u.PasswordHash = c.PasswordHash
	}
	if c.Scopes != nil {
		u.Scopes = store.NormScopes(c.Scopes)
	}
	if c.Disabled != nil {
		u.Disabled = *c.Disabled
	}
	if nb := store.NormTime(c.NotBefore); nb.After(u.NotBefore) {
		u.NotBefore = nb
		s.appendRevocation(store.Revocation{Subject: username, NotBefore: nb})
	}
	s.users[username] = u
	return nil
}

// ReplacePasswordHash implements Store.
func (s *Store) ReplacePasswordHash(_ context.Context, username, oldHash, newHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok || u.PasswordHash != oldHash {
		return fmt.Errorf("%w: user %q with that password hash", store.ErrNotFound, username)
	}
	u.PasswordHash = newHash
	s.users[username] = u
	return nil
}

// ListUsers implements Store.
func (s *Store) ListUsers(_ context.Context) ([]store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, store.NormUser(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// CreateAPIKey implements Store. A duplicate id or digest is ErrExists.
func (s *Store) CreateAPIKey(_ context.Context, k store.APIKey) error {
	if err := store.CheckAPIKey(k); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apiKeys[k.ID]; ok {
		return fmt.Errorf("%w: API key %q", store.ErrExists, k.ID)
	}
	if _, ok := s.keyDigests[string(k.Digest)]; ok {
		return fmt.Errorf("%w: API key digest", store.ErrExists)
	}
	k = store.NormAPIKey(k)
	s.apiKeys[k.ID] = k
	s.keyDigests[string(k.Digest)] = k.ID
	return nil
}

// APIKeyByDigest implements Store.
func (s *Store) APIKeyByDigest(_ context.Context, digest []byte) (store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.keyDigests[string(digest)]
	if !ok {
		return store.APIKey{}, fmt.Errorf("%w: API key", store.ErrNotFound)
	}
	k := s.apiKeys[id]
	if !k.RevokedAt.IsZero() {
		return store.APIKey{}, fmt.Errorf("%w: API key", store.ErrNotFound)
	}
	return store.NormAPIKey(k), nil
}

// RevokeAPIKey implements Store. Revoking a revoked key keeps its first
// revocation time.
func (s *Store) RevokeAPIKey(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.apiKeys[id]
	if !ok {
		return fmt.Errorf("%w: API key %q", store.ErrNotFound, id)
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = store.NormTime(at)
		s.apiKeys[id] = k
	}
	return nil
}

// ListAPIKeys implements Store. Revoked keys are included.
func (s *Store) ListAPIKeys(_ context.Context) ([]store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.APIKey, 0, len(s.apiKeys))
	for _, k := range s.apiKeys {
		out = append(out, store.NormAPIKey(k))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateClient implements Store.
func (s *Store) CreateClient(_ context.Context, c store.Client) error {
	if err := store.CheckClient(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("%w: client %q", store.ErrExists, c.ID)
	}
	s.clients[c.ID] = store.NormClient(c)
	return nil
}

// Client implements Store.
func (s *Store) Client(_ context.Context, id string) (store.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return store.Client{}, fmt.Errorf("%w: client %q", store.ErrNotFound, id)
	}
	return store.NormClient(c), nil
}

// UpdateClient implements Store.
func (s *Store) UpdateClient(_ context.Context, id string, ch store.ClientChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("%w: client %q", store.ErrNotFound, id)
	}
	hash, err := ch.SecretHashOver(c.SecretHash)
	if err != nil {
		return fmt.Errorf("client %q: %w", id, err)
	}
	c.SecretHash = hash
	if nb := store.NormTime(ch.NotBefore); nb.After(c.NotBefore) {
		c.NotBefore = nb
		s.appendRevocation(store.Revocation{ClientID: id, NotBefore: nb})
	}
	s.clients[id] = c
	return nil
}

// DeleteClient implements Store.
func (s *Store) DeleteClient(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("%w: client %q", store.ErrNotFound, id)
	}
	delete(s.clients, id)
	s.appendRevocation(store.Revocation{ClientID: id, NotBefore: store.NormTime(at)})
	s.revokeFamilies(func(t store.RefreshToken) bool { return t.ClientID == id }, at)
	return nil
}

// ListClients implements Store.
func (s *Store) ListClients(_ context.Context) ([]store.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, store.NormClient(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateRefresh implements Store. A duplicate digest is ErrExists.
func (s *Store) CreateRefresh(_ context.Context, t store.RefreshToken) error {
	if err := store.CheckRefresh(t); err != nil {
		return err
	}
	t = store.NormRefresh(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(t.IssuedAt)
	if _, ok := s.refresh[string(t.Digest)]; ok {
		return fmt.Errorf("%w: refresh token", store.ErrExists)
	}
	s.refresh[string(t.Digest)] = &store.RefreshRow{Token: t}
	s.families[t.FamilyID] = append(s.families[t.FamilyID], string(t.Digest))
	return nil
}

// RotateRefresh implements Store. An expired family is ErrNotFound; next
// scopes wider than old's are ErrScopeExceeded.
func (s *Store) RotateRefresh(_ context.Context, r store.RefreshRotation) (store.RefreshRotated, error) {
	now := r.Now
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	cur, ok := s.refresh[string(r.Old)]
	if !ok || !now.Before(cur.Token.ExpiresAt) {
		return store.RefreshRotated{}, fmt.Errorf("%w: refresh token", store.ErrNotFound)
	}
	if cur.Retryable(r) {
		if next := s.refresh[string(cur.Successor)]; next != nil && next.State == store.TokenLive {
			return store.RefreshRotated{Token: store.NormRefresh(next.Token), Retry: true, Sealed: slices.Clone(cur.Sealed)}, nil
		}
	}
	if cur.State != store.TokenLive {
		s.revokeFamily(cur.Token.FamilyID, now)
		return store.RefreshRotated{}, store.ErrRefreshReused
	}
	nt, err := store.Successor(cur.Token, r.Next, now)
	if err != nil {
		return store.RefreshRotated{}, err
	}
	if _, ok := s.refresh[string(nt.Digest)]; ok {
		return store.RefreshRotated{}, fmt.Errorf("%w: refresh token", store.ErrExists)
	}
	cur.State = store.TokenRotated
	cur.RotatedAt = store.NormTime(now)
	cur.Successor = slices.Clone(nt.Digest)
	cur.Sealed = slices.Clone(r.Sealed)
	s.refresh[string(nt.Digest)] = &store.RefreshRow{Token: nt}
	s.families[nt.FamilyID] = append(s.families[nt.FamilyID], string(nt.Digest))
	return store.RefreshRotated{Token: store.NormRefresh(nt)}, nil
}

// RevokeRefresh implements Store. Revoking a revoked family is a no-op.
func (s *Store) RevokeRefresh(_ context.Context, digest []byte, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.refresh[string(digest)]
	if !ok {
		return fmt.Errorf("%w: refresh token", store.ErrNotFound)
	}
	s.revokeFamily(cur.Token.FamilyID, now)
	return nil
}

// revokeFamilies revokes, as revokeFamily does, every family with a token
// that match selects. The caller holds s.mu.
func (s *Store) revokeFamilies(match func(store.RefreshToken) bool, now time.Time) {
	families := make(map[string]bool)
	for _, r := range s.refresh {
		if match(r.Token) {
			families[r.Token.FamilyID] = true
		}
	}
	// Sorted, so the feed's order does not depend on map iteration.
	for _, f := range slices.Sorted(maps.Keys(families)) {
		s.revokeFamily(f, now)
	}
}

// revokeFamily marks every token of the family revoked and denies the access
// tokens recorded on tokens not revoked before (those already were) that a
// verifier may still accept at now. The caller holds s.mu.
func (s *Store) revokeFamily(family string, now time.Time) {
	var deny []store.DeniedToken
	for _, d := range s.families[family] {
		r := s.refresh[d]
		if r == nil || r.State == store.TokenRevoked {
			continue
		}
		r.State = store.TokenRevoked
		for _, a := range r.Token.AccessJTIs {
			if !store.ExpiredForGood(a.ExpiresAt, now) {
				deny = append(deny, a)
			}
		}
	}
	store.SortDenied(deny)
	for _, d := range deny {
		s.appendRevocation(store.Revocation{JTI: d.JTI, ExpiresAt: d.ExpiresAt})
	}
}

// Deny implements Store.
func (s *Store) Deny(_ context.Context, tokens ...store.DeniedToken) error {
	if err := store.CheckDenied(tokens); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range tokens {
		s.appendRevocation(store.Revocation{JTI: d.JTI, ExpiresAt: store.NormTime(d.ExpiresAt)})
	}
	return nil
}

// RevocationsSince implements Store.
func (s *Store) RevocationsSince(_ context.Context, seq int64) ([]store.Revocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.revocations), func(i int) bool { return s.revocations[i].Seq > seq })
	if i == len(s.revocations) {
		return nil, nil
	}
	return slices.Clone(s.revocations[i:]), nil
}

// Close implements Store. A memory Store holds no resources.
func (s *Store) Close() error { return nil }

// appendRevocation adds ev to the feed with the next sequence number. The
// caller holds s.mu.
func (s *Store) appendRevocation(ev store.Revocation) {
	s.seq++
	ev.Seq = s.seq
	s.revocations = append(s.revocations, ev)
}

// prune deletes expired refresh families and denylist events, at most once
// per pruneInterval of the caller's clock. The caller holds s.mu.
func (s *Store) prune(now time.Time) {
	if now.IsZero() || now.Sub(s.lastPrune).Abs() < store.PruneInterval {
		return
	}
	s.lastPrune = now
	for d, r := range s.refresh {
		if !now.Before(r.Token.ExpiresAt) {
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
	s.revocations = slices.DeleteFunc(s.revocations, func(ev store.Revocation) bool {
		return ev.JTI != "" && store.ExpiredForGood(ev.ExpiresAt, now)
	})
}
