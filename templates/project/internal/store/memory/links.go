package memory

import (
	"context"
	"fmt"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// CreateIdentityLink implements IdentityLinkStore.
func (s *Store) CreateIdentityLink(_ context.Context, l store.IdentityLink) error {
	if err := store.CheckIdentityLink(l); err != nil {
		return err
	}
	l.CreatedAt = store.NormTime(l.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[l.Username]; !ok {
		return fmt.Errorf("%w: user %q", store.ErrNotFound, l.Username)
	}
	k := linkKey(l.Issuer, l.Subject)
	if _, ok := s.links[k]; ok {
		return fmt.Errorf("%w: identity link %q %q", store.ErrExists, l.Issuer, l.Subject)
	}
	if s.links == nil {
		s.links = make(map[string]store.IdentityLink)
	}
	s.links[k] = l
	return nil
}

// IdentityLink implements IdentityLinkStore.
func (s *Store) IdentityLink(_ context.Context, issuer, subject string) (store.IdentityLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[linkKey(issuer, subject)]
	if !ok {
		return store.IdentityLink{}, fmt.Errorf("%w: identity link %q %q", store.ErrNotFound, issuer, subject)
	}
	return l, nil
}

// ListIdentityLinks implements IdentityLinkStore.
func (s *Store) ListIdentityLinks(context.Context) ([]store.IdentityLink, error) {
	s.mu.Lock()
	out := make([]store.IdentityLink, 0, len(s.links))
	for _, l := range s.links {
		out = append(out, l)
	}
	s.mu.Unlock()
	store.SortIdentityLinks(out)
	return out, nil
}

// DeleteIdentityLink implements IdentityLinkStore.
func (s *Store) DeleteIdentityLink(_ context.Context, issuer, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := linkKey(issuer, subject)
	if _, ok := s.links[k]; !ok {
		return fmt.Errorf("%w: identity link %q %q", store.ErrNotFound, issuer, subject)
	}
	delete(s.links, k)
	return nil
}

func linkKey(issuer, subject string) string { return issuer + "\x00" + subject }
