package auth

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

// IdentityLink ties an identity at an external provider to a local user.
// It is keyed by the provider's issuer and its subject identifier, never by
// an email address: an email can be reassigned, or claimed unverified, at
// the provider.
type IdentityLink struct {
	Issuer    string // OIDC issuer URL, or the configured issuer of a plain OAuth2 provider
	Subject   string // the provider's stable identifier of the account (OIDC sub)
	Username  string // the local user
	Provider  string // the configured provider name, for lists and logs
	Email     string // the email the provider gave when the link was made, for lists only
	CreatedAt time.Time
}

// IdentityLinkStore is implemented by every store (memory, SQLite,
// PostgreSQL) and used by login through external providers. It is a
// separate interface so that a store written for an older version of this
// code still compiles; the server refuses to enable provider login on a
// store without it.
type IdentityLinkStore interface {
	// CreateIdentityLink stores l. ErrExists if Issuer+Subject is already
	// linked (to any user), ErrNotFound if the user does not exist.
	CreateIdentityLink(ctx context.Context, l IdentityLink) error
	// IdentityLink returns the link of Issuer+Subject (ErrNotFound).
	IdentityLink(ctx context.Context, issuer, subject string) (IdentityLink, error)
	// ListIdentityLinks returns every link sorted by username, issuer and
	// subject.
	ListIdentityLinks(ctx context.Context) ([]IdentityLink, error)
	// DeleteIdentityLink removes the link of Issuer+Subject (ErrNotFound).
	DeleteIdentityLink(ctx context.Context, issuer, subject string) error
}

var (
	_ IdentityLinkStore = (*MemoryStore)(nil)
	_ IdentityLinkStore = (*SQLiteStore)(nil)
	_ IdentityLinkStore = (*PostgresStore)(nil)
)

// maxLinkField bounds every field of a link: providers' issuers and
// subjects are short (OIDC limits sub to 255 ASCII characters).
const maxLinkField = 1024

func checkIdentityLink(l IdentityLink) error {
	for _, f := range []struct{ name, v string }{
		{"issuer", l.Issuer}, {"subject", l.Subject}, {"username", l.Username},
		{"provider", l.Provider}, {"email", l.Email},
	} {
		if (f.v == "" && f.name != "email" && f.name != "provider") || len(f.v) > maxLinkField ||
			!utf8.ValidString(f.v) || containsNUL(f.v) {
			return fmt.Errorf("auth: identity link: invalid %s", f.name)
		}
	}
	return nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func sortIdentityLinks(links []IdentityLink) {
	slices.SortFunc(links, func(a, b IdentityLink) int {
		return cmp.Or(cmp.Compare(a.Username, b.Username), cmp.Compare(a.Issuer, b.Issuer), cmp.Compare(a.Subject, b.Subject))
	})
}

func linkKey(issuer, subject string) string { return issuer + "\x00" + subject }

// CreateIdentityLink implements IdentityLinkStore.
func (s *MemoryStore) CreateIdentityLink(_ context.Context, l IdentityLink) error {
	if err := checkIdentityLink(l); err != nil {
		return err
	}
	l.CreatedAt = normTime(l.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[l.Username]; !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, l.Username)
	}
	k := linkKey(l.Issuer, l.Subject)
	if _, ok := s.links[k]; ok {
		return fmt.Errorf("%w: identity link %q %q", ErrExists, l.Issuer, l.Subject)
	}
	if s.links == nil {
		s.links = make(map[string]IdentityLink)
	}
	s.links[k] = l
	return nil
}

// IdentityLink implements IdentityLinkStore.
func (s *MemoryStore) IdentityLink(_ context.Context, issuer, subject string) (IdentityLink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[linkKey(issuer, subject)]
	if !ok {
		return IdentityLink{}, fmt.Errorf("%w: identity link %q %q", ErrNotFound, issuer, subject)
	}
	return l, nil
}

// ListIdentityLinks implements IdentityLinkStore.
func (s *MemoryStore) ListIdentityLinks(context.Context) ([]IdentityLink, error) {
	s.mu.Lock()
	out := make([]IdentityLink, 0, len(s.links))
	for _, l := range s.links {
		out = append(out, l)
	}
	s.mu.Unlock()
	sortIdentityLinks(out)
	return out, nil
}

// DeleteIdentityLink implements IdentityLinkStore.
func (s *MemoryStore) DeleteIdentityLink(_ context.Context, issuer, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := linkKey(issuer, subject)
	if _, ok := s.links[k]; !ok {
		return fmt.Errorf("%w: identity link %q %q", ErrNotFound, issuer, subject)
	}
	delete(s.links, k)
	return nil
}
