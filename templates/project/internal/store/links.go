package store

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

// MaxLinkField bounds every field of a link: providers' issuers and
// subjects are short (OIDC limits sub to 255 ASCII characters).
const MaxLinkField = 1024

// CheckIdentityLink refuses a link a store must not keep: a missing
// issuer, subject or username, or a field too long, not UTF-8 or with a
// NUL (which PostgreSQL's text refuses).
func CheckIdentityLink(l IdentityLink) error {
	for _, f := range []struct{ name, v string }{
		{"issuer", l.Issuer}, {"subject", l.Subject}, {"username", l.Username},
		{"provider", l.Provider}, {"email", l.Email},
	} {
		if (f.v == "" && f.name != "email" && f.name != "provider") || len(f.v) > MaxLinkField ||
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

// SortIdentityLinks orders links as ListIdentityLinks returns them: by
// username, issuer and subject.
func SortIdentityLinks(links []IdentityLink) {
	slices.SortFunc(links, func(a, b IdentityLink) int {
		return cmp.Or(cmp.Compare(a.Username, b.Username), cmp.Compare(a.Issuer, b.Issuer), cmp.Compare(a.Subject, b.Subject))
	})
}
