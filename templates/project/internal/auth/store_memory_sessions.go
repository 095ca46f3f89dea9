package auth

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Sessions implements SessionStore.
func (s *MemoryStore) Sessions(_ context.Context, subject string, now time.Time) ([]Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Session{}
	for _, r := range s.refresh {
		t := r.tok
		if r.state != refreshLive || t.Subject != subject || !t.ExpiresAt.After(now) {
			continue
		}
		out = append(out, Session{
			FamilyID: t.FamilyID, Subject: t.Subject, ClientID: t.ClientID, Scopes: storedScopes(t.Scopes),
			AuthTime: t.AuthTime, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt,
		})
	}
	sortSessions(out)
	return out, nil
}

// sortSessions orders sessions by login time, then family id.
func sortSessions(out []Session) {
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

// RevokeSession implements SessionStore.
func (s *MemoryStore) RevokeSession(_ context.Context, familyID string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.families[familyID]) == 0 {
		return fmt.Errorf("%w: session %q", ErrNotFound, familyID)
	}
	s.revokeFamily(familyID, now)
	return nil
}

// DeleteUser implements SessionStore.
func (s *MemoryStore) DeleteUser(_ context.Context, username string, notBefore, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[username]; !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, username)
	}
	delete(s.users, username)
	for id, k := range s.apiKeys {
		if k.Owner == username && k.RevokedAt.IsZero() {
			k.RevokedAt = normTime(now)
			s.apiKeys[id] = k
		}
	}
	s.appendRevocation(Revocation{Subject: username, NotBefore: normTime(notBefore)})
	families := make(map[string]bool)
	for _, r := range s.refresh {
		if r.tok.Subject == username {
			families[r.tok.FamilyID] = true
		}
	}
	// Sorted, so the feed's order does not depend on map iteration.
	for _, f := range slices.Sorted(maps.Keys(families)) {
		s.revokeFamily(f, now)
	}
	return nil
}
