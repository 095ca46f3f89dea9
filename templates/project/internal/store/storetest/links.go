package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// confIdentityLinks is the conformance suite's part for identity links:
// every store implements IdentityLinkStore, keys links by issuer and
// subject, refuses a second link of one identity and a link to an unknown
// user, and lists links sorted.
func confIdentityLinks(t *testing.T, s store.Store) {
	ls, ok := s.(store.IdentityLinkStore)
	if !ok {
		t.Fatalf("%T does not implement IdentityLinkStore", s)
	}
	ctx := context.Background()
	base := confBase()
	for _, u := range []string{"alice", "bob"} {
		NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: u, PasswordHash: "h"}))
	}
	in := store.IdentityLink{Issuer: "https://idp.example", Subject: "248289761001", Username: "bob",
		Provider: "google", Email: "bob@example.com", CreatedAt: base}
	NoErr(t, "CreateIdentityLink", ls.CreateIdentityLink(ctx, in))
	got, err := ls.IdentityLink(ctx, in.Issuer, in.Subject)
	NoErr(t, "IdentityLink", err)
	if got.Username != "bob" || got.Provider != "google" || got.Email != in.Email {
		t.Errorf("IdentityLink = %+v, want %+v", got, in)
	}
	confSameTime(t, "CreatedAt", got.CreatedAt, base)

	// The same subject at another issuer is another identity.
	other := in
	other.Issuer, other.Username, other.Email = "https://github.com", "alice", ""
	NoErr(t, "CreateIdentityLink other issuer", ls.CreateIdentityLink(ctx, other))
	if _, err := ls.IdentityLink(ctx, in.Issuer, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IdentityLink of an unknown subject: %v, want ErrNotFound", err)
	}
	dup := in
	dup.Username = "alice"
	if err := ls.CreateIdentityLink(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Errorf("second link of one identity: %v, want ErrExists", err)
	}
	if got, _ := ls.IdentityLink(ctx, in.Issuer, in.Subject); got.Username != "bob" {
		t.Errorf("a refused second link changed the first: %+v", got)
	}
	nobody := in
	nobody.Subject, nobody.Username = "x", "carol"
	if err := ls.CreateIdentityLink(ctx, nobody); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link to an unknown user: %v, want ErrNotFound", err)
	}
	if err := ls.CreateIdentityLink(ctx, store.IdentityLink{Issuer: in.Issuer, Username: "bob"}); err == nil {
		t.Error("a link without a subject was stored")
	}

	list, err := ls.ListIdentityLinks(ctx)
	NoErr(t, "ListIdentityLinks", err)
	if len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
		t.Errorf("ListIdentityLinks = %+v, want alice's then bob's", list)
	}

	NoErr(t, "DeleteIdentityLink", ls.DeleteIdentityLink(ctx, in.Issuer, in.Subject))
	if _, err := ls.IdentityLink(ctx, in.Issuer, in.Subject); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("IdentityLink after delete: %v, want ErrNotFound", err)
	}
	if err := ls.DeleteIdentityLink(ctx, in.Issuer, in.Subject); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if list, _ := ls.ListIdentityLinks(ctx); len(list) != 1 {
		t.Errorf("after delete, %d links listed, want 1", len(list))
	}
}
