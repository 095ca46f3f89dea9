package auth

import (
	"context"
	"slices"
	"testing"
	"time"
)

// confSessionStore returns s as a SessionStore, which every store of this
// package implements.
func confSessionStore(t *testing.T, s Store) SessionStore {
	t.Helper()
	ss, ok := s.(SessionStore)
	if !ok {
		t.Fatalf("%T does not implement SessionStore", s)
	}
	return ss
}

func confSessionsListAndRevoke(t *testing.T, s Store) {
	ctx := context.Background()
	ss := confSessionStore(t, s)
	base := confBase()
	// alice: a (rotated once), b (logged in later), an expired one; bob: one.
	confNoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, confFamily("a", base)))
	_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2"), Scopes: []string{"read"},
		IssuedAt:   base.Add(time.Minute),
		AccessJTIs: []DeniedToken{{JTI: "jti-a2", ExpiresAt: base.Add(time.Hour)}}}, base.Add(time.Minute))
	confNoErr(t, "RotateRefresh a", err)
	later := confFamily("b", base.Add(-time.Hour))
	later.AuthTime, later.IssuedAt = base.Add(time.Second), base.Add(time.Second)
	confNoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, later))
	expired := confFamily("x", base.Add(-8*24*time.Hour))
	confNoErr(t, "CreateRefresh x", s.CreateRefresh(ctx, expired))
	bob := confFamily("bob", base)
	bob.Subject = "bob"
	confNoErr(t, "CreateRefresh bob", s.CreateRefresh(ctx, bob))

	now := base.Add(2 * time.Minute)
	got, err := ss.Sessions(ctx, "alice", now)
	confNoErr(t, "Sessions", err)
	var ids []string
	for _, se := range got {
		ids = append(ids, se.FamilyID)
	}
	confSameStrings(t, "alice's sessions", ids, []string{"fam-a", "fam-b"})
	a := got[0]
	if a.Subject != "alice" || a.ClientID != "web" {
		t.Errorf("session a = %+v", a)
	}
	confSameStrings(t, "session a's scopes (the live token's)", a.Scopes, []string{"read"})
	confSameTime(t, "session a's AuthTime", a.AuthTime, base)
	confSameTime(t, "session a's IssuedAt (the last refresh)", a.IssuedAt, base.Add(time.Minute))
	confSameTime(t, "session a's ExpiresAt", a.ExpiresAt, base.Add(7*24*time.Hour))
	none, err := ss.Sessions(ctx, "carol", now)
	confNoErr(t, "Sessions of a user without any", err)
	if none == nil || len(none) != 0 {
		t.Errorf("Sessions(carol) = %#v, want an empty slice", none)
	}

	confWantErr(t, "RevokeSession unknown", ss.RevokeSession(ctx, "fam-nope", now), ErrNotFound)
	confNoErr(t, "RevokeSession", ss.RevokeSession(ctx, "fam-a", now))
	confNoErr(t, "RevokeSession again", ss.RevokeSession(ctx, "fam-a", now))
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2"})
	_, err = confRotate(s, confDigest("a2"), RefreshToken{Digest: confDigest("a3")}, now)
	confWantErr(t, "RotateRefresh of a revoked session", err, ErrRefreshReused)
	got, err = ss.Sessions(ctx, "alice", now)
	confNoErr(t, "Sessions after revoke", err)
	if len(got) != 1 || got[0].FamilyID != "fam-b" {
		t.Errorf("Sessions after revoke = %+v, want fam-b only", got)
	}
}

func confDeleteUser(t *testing.T, s Store) {
	ctx := context.Background()
	ss := confSessionStore(t, s)
	base := confBase()
	confWantErr(t, "DeleteUser unknown", ss.DeleteUser(ctx, "alice", base, base), ErrNotFound)
	for _, name := range []string{"alice", "bob"} {
		confNoErr(t, "CreateUser "+name, s.CreateUser(ctx, User{Username: name, PasswordHash: "h", CreatedAt: base}))
		confNoErr(t, "CreateAPIKey "+name, s.CreateAPIKey(ctx, APIKey{ID: "k-" + name, Digest: confDigest("key-" + name), Owner: name, CreatedAt: base}))
		f := confFamily(name, base)
		f.Subject = name
		confNoErr(t, "CreateRefresh "+name, s.CreateRefresh(ctx, f))
	}
	nb, now := base.Add(time.Millisecond), base.Add(time.Second)
	confNoErr(t, "DeleteUser", ss.DeleteUser(ctx, "alice", nb, now))

	_, err := s.User(ctx, "alice")
	confWantErr(t, "User after delete", err, ErrNotFound)
	_, err = s.APIKeyByDigest(ctx, confDigest("key-alice"))
	confWantErr(t, "the deleted user's API key", err, ErrNotFound)
	_, err = s.APIKeyByDigest(ctx, confDigest("key-bob"))
	confNoErr(t, "another user's API key", err)
	_, err = confRotate(s, confDigest("alice"), RefreshToken{Digest: confDigest("alice2")}, now)
	confWantErr(t, "RotateRefresh of the deleted user's session", err, ErrRefreshReused)
	_, err = confRotate(s, confDigest("bob"), RefreshToken{Digest: confDigest("bob2")}, now)
	confNoErr(t, "RotateRefresh of another user's session", err)
	confSameStrings(t, "denied", confDeniedJTIs(t, s), []string{"jti-alice"})
	evs, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	var subjects []string
	for _, ev := range evs {
		if ev.Subject != "" {
			subjects = append(subjects, ev.Subject)
			confSameTime(t, "the subject event's NotBefore", ev.NotBefore, nb)
		}
	}
	confSameStrings(t, "subject events", subjects, []string{"alice"})
	confWantErr(t, "DeleteUser again", ss.DeleteUser(ctx, "alice", nb, now), ErrNotFound)
	// The name is free again; the new user inherits no session.
	confNoErr(t, "CreateUser alice again", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h2", CreatedAt: now}))
	got, err := ss.Sessions(ctx, "alice", now)
	confNoErr(t, "Sessions", err)
	if len(got) != 0 {
		t.Errorf("the new alice has sessions %+v", got)
	}
}
