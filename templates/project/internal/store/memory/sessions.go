package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Sessions implements SessionStore.
func (s *Store) Sessions(_ context.Context, subject string, now time.Time) ([]store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []store.Session{}
	for _, r := range s.refresh {
		t := r.Token
		if r.State != store.TokenLive || t.Subject != subject || !t.ExpiresAt.After(now) {
			continue
		}
		out = append(out, store.Session{
			FamilyID: t.FamilyID, Subject: t.Subject, ClientID: t.ClientID, Scopes: store.NormScopes(t.Scopes),
			AuthTime: t.AuthTime, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt,
		})
	}
	store.SortSessions(out)
	return out, nil
}

// RevokeSession implements SessionStore.
func (s *Store) RevokeSession(_ context.Context, familyID string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.families[familyID]) == 0 {
		return fmt.Errorf("%w: session %q", store.ErrNotFound, familyID)
	}
	s.revokeFamily(familyID, now)
	return nil
}

// DeleteUser implements SessionStore.
func (s *Store) DeleteUser(_ context.Context, username string, notBefore, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[username]; !ok {
		return fmt.Errorf("%w: user %q", store.ErrNotFound, username)
	}
	delete(s.users, username)
	for id, k := range s.apiKeys {
		if k.Owner == username && k.RevokedAt.IsZero() {
			k.RevokedAt = store.NormTime(now)
			s.apiKeys[id] = k
		}
	}
	s.appendRevocation(store.Revocation{Subject: username, NotBefore: store.NormTime(notBefore)})
	s.revokeFamilies(func(t store.RefreshToken) bool { return t.Subject == username }, now)
	return nil
}
