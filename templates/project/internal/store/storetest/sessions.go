package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// confSessionStore returns s as a SessionStore, which every store
// implements.
func confSessionStore(t *testing.T, s store.Store) store.SessionStore {
	t.Helper()
	ss, ok := s.(store.SessionStore)
	if !ok {
		t.Fatalf("%T does not implement SessionStore", s)
	}
	return ss
}

func confSessionsListAndRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	ss := confSessionStore(t, s)
	base := confBase()
	// alice: a (rotated once), b (logged in later), an expired one; bob: one.
	NoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, Family("a", base)))
	_, err := Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("a2"), Scopes: []string{"read"},
		IssuedAt:   base.Add(time.Minute),
		AccessJTIs: []store.DeniedToken{{JTI: "jti-a2", ExpiresAt: base.Add(time.Hour)}}}, base.Add(time.Minute))
	NoErr(t, "RotateRefresh a", err)
	later := Family("b", base.Add(-time.Hour))
	later.AuthTime, later.IssuedAt = base.Add(time.Second), base.Add(time.Second)
	NoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, later))
	expired := Family("x", base.Add(-8*24*time.Hour))
	NoErr(t, "CreateRefresh x", s.CreateRefresh(ctx, expired))
	bob := Family("bob", base)
	bob.Subject = "bob"
	NoErr(t, "CreateRefresh bob", s.CreateRefresh(ctx, bob))

	now := base.Add(2 * time.Minute)
	got, err := ss.Sessions(ctx, "alice", now)
	NoErr(t, "Sessions", err)
	var ids []string
	for _, se := range got {
		ids = append(ids, se.FamilyID)
	}
	SameStrings(t, "alice's sessions", ids, []string{"fam-a", "fam-b"})
	a := got[0]
	if a.Subject != "alice" || a.ClientID != "web" {
		t.Errorf("session a = %+v", a)
	}
	SameStrings(t, "session a's scopes (the live token's)", a.Scopes, []string{"read"})
	confSameTime(t, "session a's AuthTime", a.AuthTime, base)
	confSameTime(t, "session a's IssuedAt (the last refresh)", a.IssuedAt, base.Add(time.Minute))
	confSameTime(t, "session a's ExpiresAt", a.ExpiresAt, base.Add(7*24*time.Hour))
	none, err := ss.Sessions(ctx, "carol", now)
	NoErr(t, "Sessions of a user without any", err)
	if none == nil || len(none) != 0 {
		t.Errorf("Sessions(carol) = %#v, want an empty slice", none)
	}

	WantErr(t, "RevokeSession unknown", ss.RevokeSession(ctx, "fam-nope", now), store.ErrNotFound)
	NoErr(t, "RevokeSession", ss.RevokeSession(ctx, "fam-a", now))
	NoErr(t, "RevokeSession again", ss.RevokeSession(ctx, "fam-a", now))
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2"})
	_, err = Rotate(s, Digest("a2"), store.RefreshToken{Digest: Digest("a3")}, now)
	WantErr(t, "RotateRefresh of a revoked session", err, store.ErrRefreshReused)
	got, err = ss.Sessions(ctx, "alice", now)
	NoErr(t, "Sessions after revoke", err)
	if len(got) != 1 || got[0].FamilyID != "fam-b" {
		t.Errorf("Sessions after revoke = %+v, want fam-b only", got)
	}
}

func confDeleteUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	ss := confSessionStore(t, s)
	base := confBase()
	WantErr(t, "DeleteUser unknown", ss.DeleteUser(ctx, "alice", base, base), store.ErrNotFound)
	for _, name := range []string{"alice", "bob"} {
		NoErr(t, "CreateUser "+name, s.CreateUser(ctx, store.User{Username: name, PasswordHash: "h", CreatedAt: base}))
		NoErr(t, "CreateAPIKey "+name, s.CreateAPIKey(ctx, store.APIKey{ID: "k-" + name, Digest: Digest("key-" + name), Owner: name, CreatedAt: base}))
		f := Family(name, base)
		f.Subject = name
		NoErr(t, "CreateRefresh "+name, s.CreateRefresh(ctx, f))
	}
	nb, now := base.Add(time.Millisecond), base.Add(time.Second)
	NoErr(t, "DeleteUser", ss.DeleteUser(ctx, "alice", nb, now))

	_, err := s.User(ctx, "alice")
	WantErr(t, "User after delete", err, store.ErrNotFound)
	_, err = s.APIKeyByDigest(ctx, Digest("key-alice"))
	WantErr(t, "the deleted user's API key", err, store.ErrNotFound)
	_, err = s.APIKeyByDigest(ctx, Digest("key-bob"))
	NoErr(t, "another user's API key", err)
	_, err = Rotate(s, Digest("alice"), store.RefreshToken{Digest: Digest("alice2")}, now)
	WantErr(t, "RotateRefresh of the deleted user's session", err, store.ErrRefreshReused)
	_, err = Rotate(s, Digest("bob"), store.RefreshToken{Digest: Digest("bob2")}, now)
	NoErr(t, "RotateRefresh of another user's session", err)
	SameStrings(t, "denied", DeniedJTIs(t, s), []string{"jti-alice"})
	evs, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	var subjects []string
	for _, ev := range evs {
		if ev.Subject != "" {
			subjects = append(subjects, ev.Subject)
			confSameTime(t, "the subject event's NotBefore", ev.NotBefore, nb)
		}
	}
	SameStrings(t, "subject events", subjects, []string{"alice"})
	WantErr(t, "DeleteUser again", ss.DeleteUser(ctx, "alice", nb, now), store.ErrNotFound)
	// The name is free again; the new user inherits no session.
	NoErr(t, "CreateUser alice again", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h2", CreatedAt: now}))
	got, err := ss.Sessions(ctx, "alice", now)
	NoErr(t, "Sessions", err)
	if len(got) != 0 {
		t.Errorf("the new alice has sessions %+v", got)
	}
}
