package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// testStoreConformance checks that a Store implementation behaves as the
// Store interface documents. open must return a new, empty store for each
// call; the suite closes it. A new implementation (PostgreSQL, Redis) only
// needs a test that calls this with its own open function.
//
// Times are relative to the wall clock because stores prune relative to the
// times callers pass; nothing waits on it.
func testStoreConformance(t *testing.T, open func(t *testing.T) Store) {
	fresh := func(t *testing.T) Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"UserRoundTrip", confUserRoundTrip},
		{"UserDuplicateIsErrExists", confUserDuplicate},
		{"UnknownUserIsErrNotFound", confUserUnknown},
		{"UpdateUserChangesOnlyTheFieldsItSets", confUserUpdate},
		{"UpdateUserNotBeforeOnlyMovesForwardAndFeedsRevocations", confUserNotBeforeFeed},
		{"ConcurrentPasswordChangeAndDisableBothTakeEffect", confConcurrentUserUpdates},
		{"ReplacePasswordHashOnlyIfUnchanged", confReplacePasswordHash},
		{"ListUsersSorted", confListUsers},
		{"ReturnedSlicesAreCopies", confCopies},
		{"APIKeyLookupByDigest", confAPIKeyLookup},
		{"APIKeyDuplicateIdOrDigestIsErrExists", confAPIKeyDuplicate},
		{"RevokedAPIKeyIsNotFound", confAPIKeyRevoke},
		{"ListAPIKeysSorted", confListAPIKeys},
		{"ClientRoundTripAndErrors", confClient},
		{"ListClientsSorted", confListClients},
		{"UpdateClientNotBeforeOnlyMovesForwardAndFeedsRevocations", confClientUpdate},
		{"ConcurrentClientRotationsOneWinsAndRevocationsStay", confConcurrentClientUpdates},
		{"DeleteClientEndsItsTokensAndSessions", confClientDelete},
		{"CreateRefreshValidatesAndRejectsDuplicates", confCreateRefresh},
		{"RotateInheritsFamilyFields", confRotateInherits},
		{"RotateChain", confRotateChain},
		{"RotateUnknownIsErrNotFound", confRotateUnknown},
		{"RotateExpiredIsErrNotFound", confRotateExpired},
		{"RotateWiderScopeIsRefused", confRotateScope},
		{"RotateOntoExistingDigestIsErrExists", confRotateDuplicateNext},
		{"ReuseRevokesFamilyIncludingNewest", confReuse},
		{"ReuseTwiceDeniesOnce", confReuseTwice},
		{"ConcurrentRotationHasOneWinner", confConcurrentRotation},
		{"RetryWithinGraceReturnsTheSameSuccessor", confRetryWithinGrace},
		{"RetryOfAnOlderGenerationIsReuse", confRetryOlderGeneration},
		{"RetryWithoutSealedSuccessorOrAfterLogoutIsReuse", confRetryNeedsLiveSealedSuccessor},
		{"ConcurrentRetriesWithinGraceShareOneSuccessor", confConcurrentRetries},
		{"RevokeRefreshRevokesFamily", confRevokeRefresh},
		{"RevocationFeedOrdered", confFeedOrder},
		{"DenyValidates", confDenyValidates},
		{"ExpiredDenialsArePruned", confPrune},
		{"DenialsOutliveExpiryByMaxLeeway", confPruneKeepsLeeway},
		{"IdentityLinks", confIdentityLinks},
		{"SessionsListsLiveFamiliesAndRevokeSessionEndsOne", confSessionsListAndRevoke},
		{"DeleteUserEndsItsKeysSessionsAndTokens", confDeleteUser},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

// confBase is a fixed instant with sub-second precision in a non-UTC zone,
// near the wall clock (see testStoreConformance).
func confBase() time.Time {
	return time.Now().Truncate(time.Second).Add(123456789 * time.Nanosecond).In(time.FixedZone("X", 3600))
}

func confDigest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func confNoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func confWantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func confSameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// confRotate rotates old into next at now, strictly (no grace period).
func confRotate(s Store, old []byte, next RefreshToken, now time.Time) (RefreshToken, error) {
	r, err := s.RotateRefresh(context.Background(), RefreshRotation{Old: old, Next: next, Now: now})
	if err == nil && r.Retry {
		return r.Token, errors.New("strict rotation answered as a retry")
	}
	return r.Token, err
}

func confSameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func confUserRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	in := User{
		Username: "alice", PasswordHash: "$argon2id$x", Scopes: []string{"write", "read", "read"},
		Disabled: true, NotBefore: base.Add(time.Hour), CreatedAt: base,
	}
	confNoErr(t, "CreateUser", s.CreateUser(ctx, in))
	got, err := s.User(ctx, "alice")
	confNoErr(t, "User", err)
	if got.Username != "alice" || got.PasswordHash != in.PasswordHash || !got.Disabled {
		t.Errorf("User = %+v, want fields of %+v", got, in)
	}
	confSameStrings(t, "Scopes", got.Scopes, []string{"read", "write"})
	confSameTime(t, "NotBefore", got.NotBefore, in.NotBefore)
	confSameTime(t, "CreatedAt", got.CreatedAt, in.CreatedAt)

	confNoErr(t, "CreateUser zero times", s.CreateUser(ctx, User{Username: "bob", PasswordHash: "h"}))
	got, err = s.User(ctx, "bob")
	confNoErr(t, "User", err)
	if !got.NotBefore.IsZero() || !got.CreatedAt.IsZero() || got.Scopes != nil || got.Disabled {
		t.Errorf("zero fields did not round-trip: %+v", got)
	}
	if err := s.CreateUser(ctx, User{PasswordHash: "h"}); err == nil {
		t.Error("CreateUser without a name succeeded")
	}
}

func confUserDuplicate(t *testing.T, s Store) {
	ctx := context.Background()
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "first"}))
	confWantErr(t, "CreateUser again", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "second"}), ErrExists)
	got, err := s.User(ctx, "alice")
	confNoErr(t, "User", err)
	if got.PasswordHash != "first" {
		t.Errorf("duplicate create overwrote the user: hash %q", got.PasswordHash)
	}
}

func confUserUnknown(t *testing.T, s Store) {
	ctx := context.Background()
	_, err := s.User(ctx, "nobody")
	confWantErr(t, "User", err, ErrNotFound)
	confWantErr(t, "UpdateUser", s.UpdateUser(ctx, "nobody", UserChange{PasswordHash: "h"}), ErrNotFound)
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h"}))
	// Look-ups are exact: normalising names is the caller's job.
	_, err = s.User(ctx, "Alice")
	confWantErr(t, "User with other case", err, ErrNotFound)
}

func confUserUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	created := User{Username: "alice", PasswordHash: "old", Scopes: []string{"a"}, NotBefore: base, CreatedAt: base}
	confNoErr(t, "CreateUser", s.CreateUser(ctx, created))
	check := func(step string, want User) {
		t.Helper()
		got, err := s.User(ctx, "alice")
		confNoErr(t, "User", err)
		if got.PasswordHash != want.PasswordHash || got.Disabled != want.Disabled {
			t.Errorf("after %s: %+v, want %+v", step, got, want)
		}
		confSameStrings(t, step+": Scopes", got.Scopes, want.Scopes)
		confSameTime(t, step+": NotBefore", got.NotBefore, want.NotBefore)
		confSameTime(t, step+": CreatedAt (kept)", got.CreatedAt, base)
	}
	// Each change touches only the fields it sets.
	want := created
	confNoErr(t, "UpdateUser nothing", s.UpdateUser(ctx, "alice", UserChange{}))
	check("an empty change", want)
	confNoErr(t, "UpdateUser hash", s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "new"}))
	want.PasswordHash = "new"
	check("a new hash", want)
	confNoErr(t, "UpdateUser scopes", s.UpdateUser(ctx, "alice", UserChange{Scopes: []string{"c", "b", "c"}}))
	want.Scopes = []string{"b", "c"}
	check("new scopes", want)
	confNoErr(t, "UpdateUser disabled", s.UpdateUser(ctx, "alice", UserChange{Disabled: new(true)}))
	want.Disabled = true
	check("disabling", want)
	confNoErr(t, "UpdateUser not-before", s.UpdateUser(ctx, "alice", UserChange{NotBefore: base.Add(time.Minute)}))
	want.NotBefore = base.Add(time.Minute)
	check("a later not-before", want)
	confNoErr(t, "UpdateUser earlier not-before", s.UpdateUser(ctx, "alice", UserChange{NotBefore: base}))
	check("an earlier not-before (never moves back)", want)
	confNoErr(t, "UpdateUser enabled, no scopes", s.UpdateUser(ctx, "alice", UserChange{Disabled: new(false), Scopes: []string{}}))
	want.Disabled, want.Scopes = false, nil
	check("enabling and removing the scopes", want)
}

func confUserNotBeforeFeed(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h"}))
	confNoErr(t, "UpdateUser hash only", s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "h2"}))
	evs, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	if len(evs) != 0 {
		t.Fatalf("an update that kept NotBefore produced events: %+v", evs)
	}
	confNoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "h3", NotBefore: base}))
	confNoErr(t, "UpdateUser same NotBefore", s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "h4", NotBefore: base}))
	confNoErr(t, "UpdateUser earlier", s.UpdateUser(ctx, "alice", UserChange{NotBefore: base.Add(-time.Second)}))
	confNoErr(t, "UpdateUser later", s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "h5", NotBefore: base.Add(time.Second)}))
	evs, err = s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2: %+v", len(evs), evs)
	}
	for i, want := range []time.Time{base, base.Add(time.Second)} {
		ev := evs[i]
		if ev.Subject != "alice" || ev.JTI != "" {
			t.Errorf("event %d = %+v, want a subject event for alice", i, ev)
		}
		confSameTime(t, fmt.Sprintf("event %d NotBefore", i), ev.NotBefore, want)
	}
	if evs[1].Seq <= evs[0].Seq {
		t.Errorf("sequence numbers not increasing: %d then %d", evs[0].Seq, evs[1].Seq)
	}
}

// confConcurrentUserUpdates races, for several users, a password change
// against a disable and a change of scopes, as admin commands run by two
// processes at once would: every change must take effect, whatever the
// order, and the not-before time must end at the later of the two.
func confConcurrentUserUpdates(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	const users = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range users {
		name := fmt.Sprint("user", i)
		confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: name, PasswordHash: "old", Scopes: []string{"a"}}))
		for _, c := range []UserChange{
			{PasswordHash: "new", NotBefore: base.Add(time.Duration(i) * time.Millisecond)},
			{Disabled: new(true), NotBefore: base.Add(time.Second)},
			{Scopes: []string{"b"}},
		} {
			wg.Go(func() {
				<-start
				if err := s.UpdateUser(ctx, name, c); err != nil {
					t.Errorf("UpdateUser(%s, %+v): %v", name, c, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for i := range users {
		name := fmt.Sprint("user", i)
		u, err := s.User(ctx, name)
		confNoErr(t, "User", err)
		if u.PasswordHash != "new" || !u.Disabled || !slices.Equal(u.Scopes, []string{"b"}) {
			t.Errorf("%s lost a concurrent update: %+v, want the new hash, disabled and scopes [b]", name, u)
		}
		confSameTime(t, name+" NotBefore", u.NotBefore, base.Add(time.Second))
	}
	// The feed ends, for each user, with the later not-before time.
	evs, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	last := map[string]time.Time{}
	for _, ev := range evs {
		last[ev.Subject] = ev.NotBefore
	}
	for i := range users {
		name := fmt.Sprint("user", i)
		confSameTime(t, name+" last fed NotBefore", last[name], base.Add(time.Second))
	}
}

func confReplacePasswordHash(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "old", Scopes: []string{"a"}, CreatedAt: base}))
	confNoErr(t, "ReplacePasswordHash", s.ReplacePasswordHash(ctx, "alice", "old", "new"))
	got, err := s.User(ctx, "alice")
	confNoErr(t, "User", err)
	if got.PasswordHash != "new" {
		t.Errorf("hash %q after ReplacePasswordHash, want new", got.PasswordHash)
	}
	// A disable (and a password change) made meanwhile is kept: the
	// replacement is refused and changes nothing.
	confNoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", UserChange{PasswordHash: "changed", Disabled: new(true), NotBefore: base}))
	confWantErr(t, "ReplacePasswordHash of a replaced hash", s.ReplacePasswordHash(ctx, "alice", "new", "newer"), ErrNotFound)
	got, err = s.User(ctx, "alice")
	confNoErr(t, "User", err)
	if got.PasswordHash != "changed" || !got.Disabled {
		t.Errorf("a refused ReplacePasswordHash changed the user: %+v", got)
	}
	confNoErr(t, "ReplacePasswordHash", s.ReplacePasswordHash(ctx, "alice", "changed", "rehashed"))
	got, err = s.User(ctx, "alice")
	confNoErr(t, "User", err)
	if got.PasswordHash != "rehashed" || !got.Disabled {
		t.Errorf("ReplacePasswordHash changed more than the hash: %+v", got)
	}
	confSameTime(t, "NotBefore (kept)", got.NotBefore, base)
	confWantErr(t, "ReplacePasswordHash of an unknown user", s.ReplacePasswordHash(ctx, "bob", "", "x"), ErrNotFound)
	evs, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	if len(evs) != 1 {
		t.Errorf("revocation feed %+v: want only the event of the UpdateUser", evs)
	}
}

func confListUsers(t *testing.T, s Store) {
	ctx := context.Background()
	// Empty listings are empty slices, not nil, so that they encode as [].
	users, err := s.ListUsers(ctx)
	confNoErr(t, "ListUsers", err)
	if users == nil || len(users) != 0 {
		t.Fatalf("empty store lists %#v", users)
	}
	keys, err := s.ListAPIKeys(ctx)
	confNoErr(t, "ListAPIKeys", err)
	clients, err := s.ListClients(ctx)
	confNoErr(t, "ListClients", err)
	if keys == nil || clients == nil || len(keys)+len(clients) != 0 {
		t.Fatalf("empty store lists %#v and %#v", keys, clients)
	}
	for _, n := range []string{"carol", "alice", "dave", "bob"} {
		confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: n, PasswordHash: "h", Scopes: []string{"z", "y"}}))
	}
	users, err = s.ListUsers(ctx)
	confNoErr(t, "ListUsers", err)
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
		confSameStrings(t, u.Username+" scopes", u.Scopes, []string{"y", "z"})
	}
	confSameStrings(t, "ListUsers", names, []string{"alice", "bob", "carol", "dave"})
}

func confCopies(t *testing.T, s Store) {
	ctx := context.Background()
	scopes := []string{"a", "b"}
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h", Scopes: scopes}))
	scopes[0] = "changed-by-caller"
	u, err := s.User(ctx, "alice")
	confNoErr(t, "User", err)
	u.Scopes[1] = "changed-by-reader"
	u, err = s.User(ctx, "alice")
	confNoErr(t, "User", err)
	confSameStrings(t, "Scopes", u.Scopes, []string{"a", "b"})

	digest := confDigest("key")
	confNoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, APIKey{ID: "k", Digest: digest, Owner: "alice"}))
	digest[0] ^= 0xff
	if _, err := s.APIKeyByDigest(ctx, confDigest("key")); err != nil {
		t.Errorf("store kept the caller's digest slice: %v", err)
	}
}

func confAPIKeyLookup(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	in := APIKey{ID: "ak_1", Digest: confDigest("secret-1"), Owner: "alice", Scopes: []string{"w", "r"}, CreatedAt: base}
	confNoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, in))
	got, err := s.APIKeyByDigest(ctx, confDigest("secret-1"))
	confNoErr(t, "APIKeyByDigest", err)
	if got.ID != "ak_1" || got.Owner != "alice" || !slices.Equal(got.Digest, in.Digest) || !got.RevokedAt.IsZero() {
		t.Errorf("APIKeyByDigest = %+v", got)
	}
	confSameStrings(t, "Scopes", got.Scopes, []string{"r", "w"})
	confSameTime(t, "CreatedAt", got.CreatedAt, base)
	_, err = s.APIKeyByDigest(ctx, confDigest("secret-2"))
	confWantErr(t, "APIKeyByDigest unknown", err, ErrNotFound)
	_, err = s.APIKeyByDigest(ctx, nil)
	confWantErr(t, "APIKeyByDigest nil", err, ErrNotFound)
	for _, bad := range []APIKey{
		{Digest: confDigest("x"), Owner: "o"},
		{ID: "x", Owner: "o"},
		{ID: "x", Digest: confDigest("x")},
	} {
		if err := s.CreateAPIKey(ctx, bad); err == nil {
			t.Errorf("CreateAPIKey(%+v) succeeded", bad)
		}
	}
}

func confAPIKeyDuplicate(t *testing.T, s Store) {
	ctx := context.Background()
	confNoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, APIKey{ID: "k1", Digest: confDigest("s1"), Owner: "o"}))
	confWantErr(t, "same id", s.CreateAPIKey(ctx, APIKey{ID: "k1", Digest: confDigest("s2"), Owner: "o"}), ErrExists)
	confWantErr(t, "same digest", s.CreateAPIKey(ctx, APIKey{ID: "k2", Digest: confDigest("s1"), Owner: "o"}), ErrExists)
	keys, err := s.ListAPIKeys(ctx)
	confNoErr(t, "ListAPIKeys", err)
	if len(keys) != 1 {
		t.Errorf("failed creates left keys behind: %+v", keys)
	}
}

func confAPIKeyRevoke(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, APIKey{ID: "k1", Digest: confDigest("s1"), Owner: "o", CreatedAt: base}))
	confWantErr(t, "RevokeAPIKey unknown", s.RevokeAPIKey(ctx, "nope", base), ErrNotFound)
	confNoErr(t, "RevokeAPIKey", s.RevokeAPIKey(ctx, "k1", base.Add(time.Minute)))
	_, err := s.APIKeyByDigest(ctx, confDigest("s1"))
	confWantErr(t, "APIKeyByDigest revoked", err, ErrNotFound)
	confNoErr(t, "RevokeAPIKey again", s.RevokeAPIKey(ctx, "k1", base.Add(time.Hour)))
	keys, err := s.ListAPIKeys(ctx)
	confNoErr(t, "ListAPIKeys", err)
	if len(keys) != 1 {
		t.Fatalf("ListAPIKeys = %+v, want the revoked key", keys)
	}
	confSameTime(t, "RevokedAt (first revocation)", keys[0].RevokedAt, base.Add(time.Minute))
}

func confListAPIKeys(t *testing.T, s Store) {
	ctx := context.Background()
	for _, id := range []string{"k3", "k1", "k2"} {
		confNoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, APIKey{ID: id, Digest: confDigest(id), Owner: "o", Scopes: []string{"b", "a"}}))
	}
	keys, err := s.ListAPIKeys(ctx)
	confNoErr(t, "ListAPIKeys", err)
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
		confSameStrings(t, k.ID+" scopes", k.Scopes, []string{"a", "b"})
		if !slices.Equal(k.Digest, confDigest(k.ID)) {
			t.Errorf("%s digest not listed", k.ID)
		}
	}
	confSameStrings(t, "ListAPIKeys", ids, []string{"k1", "k2", "k3"})
}

func confClient(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	in := Client{ID: "svc", SecretHash: "$argon2id$x", Scopes: []string{"b", "a"}, NotBefore: base.Add(-time.Hour), CreatedAt: base}
	confNoErr(t, "CreateClient", s.CreateClient(ctx, in))
	got, err := s.Client(ctx, "svc")
	confNoErr(t, "Client", err)
	if got.ID != "svc" || got.SecretHash != in.SecretHash {
		t.Errorf("Client = %+v", got)
	}
	confSameStrings(t, "Scopes", got.Scopes, []string{"a", "b"})
	confSameTime(t, "NotBefore", got.NotBefore, in.NotBefore)
	confSameTime(t, "CreatedAt", got.CreatedAt, base)
	confWantErr(t, "CreateClient again", s.CreateClient(ctx, Client{ID: "svc", SecretHash: "other"}), ErrExists)
	_, err = s.Client(ctx, "other")
	confWantErr(t, "Client unknown", err, ErrNotFound)
	if err := s.CreateClient(ctx, Client{SecretHash: "h"}); err == nil {
		t.Error("CreateClient without id succeeded")
	}
}

func confListClients(t *testing.T, s Store) {
	ctx := context.Background()
	for _, id := range []string{"c", "a", "b"} {
		confNoErr(t, "CreateClient", s.CreateClient(ctx, Client{ID: id, SecretHash: "h"}))
	}
	cs, err := s.ListClients(ctx)
	confNoErr(t, "ListClients", err)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	confSameStrings(t, "ListClients", ids, []string{"a", "b", "c"})
}

// confFamily returns the first token of a new family, issued at base and
// expiring a week later, with one access token recorded.
func confFamily(name string, base time.Time) RefreshToken {
	return RefreshToken{
		Digest: confDigest(name), FamilyID: "fam-" + name, Subject: "alice", ClientID: "web",
		Scopes: []string{"read", "write"}, IssuedAt: base, AuthTime: base, ExpiresAt: base.Add(7 * 24 * time.Hour),
		AccessJTIs: []DeniedToken{{JTI: "jti-" + name, ExpiresAt: base.Add(15 * time.Minute)}},
	}
}

// confDeniedJTIs returns the jtis of the feed's access token events.
func confDeniedJTIs(t *testing.T, s Store) []string {
	t.Helper()
	evs, err := s.RevocationsSince(context.Background(), 0)
	confNoErr(t, "RevocationsSince", err)
	var jtis []string
	for _, ev := range evs {
		if ev.JTI != "" {
			jtis = append(jtis, ev.JTI)
		}
	}
	return jtis
}

func confCreateRefresh(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	confWantErr(t, "CreateRefresh same digest", s.CreateRefresh(ctx, confFamily("a", base)), ErrExists)
	for name, mutate := range map[string]func(*RefreshToken){
		"no digest":   func(r *RefreshToken) { r.Digest = nil },
		"no family":   func(r *RefreshToken) { r.FamilyID = "" },
		"no subject":  func(r *RefreshToken) { r.Subject = "" },
		"no expiry":   func(r *RefreshToken) { r.ExpiresAt = time.Time{} },
		"empty jti":   func(r *RefreshToken) { r.AccessJTIs = []DeniedToken{{ExpiresAt: base}} },
		"also no jti": func(r *RefreshToken) { r.AccessJTIs = append(r.AccessJTIs, DeniedToken{}) },
	} {
		tok := confFamily("b-"+name, base)
		mutate(&tok)
		if err := s.CreateRefresh(ctx, tok); err == nil {
			t.Errorf("CreateRefresh with %s succeeded", name)
		}
	}
}

func confRotateInherits(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	first := confFamily("a", base)
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	now := base.Add(time.Hour)
	// The caller tries to move the family; the store must not let it.
	next := RefreshToken{
		Digest: confDigest("a2"), FamilyID: "other", Subject: "mallory", ClientID: "evil",
		AuthTime: now, ExpiresAt: now.Add(365 * 24 * time.Hour),
		AccessJTIs: []DeniedToken{{JTI: "jti-a2", ExpiresAt: now.Add(15 * time.Minute)}},
	}
	got, err := confRotate(s, first.Digest, next, now)
	confNoErr(t, "RotateRefresh", err)
	if !slices.Equal(got.Digest, confDigest("a2")) || got.FamilyID != first.FamilyID ||
		got.Subject != "alice" || got.ClientID != "web" {
		t.Errorf("RotateRefresh = %+v, want the family's identity", got)
	}
	confSameStrings(t, "Scopes (inherited)", got.Scopes, first.Scopes)
	confSameTime(t, "AuthTime", got.AuthTime, first.AuthTime)
	confSameTime(t, "ExpiresAt (not extended)", got.ExpiresAt, first.ExpiresAt)
	confSameTime(t, "IssuedAt (defaults to now)", got.IssuedAt, now)
	if len(got.AccessJTIs) != 1 || got.AccessJTIs[0].JTI != "jti-a2" {
		t.Errorf("AccessJTIs = %+v", got.AccessJTIs)
	}
	// Narrower scopes are fine.
	got, err = confRotate(s, confDigest("a2"), RefreshToken{Digest: confDigest("a3"), Scopes: []string{"read"}, IssuedAt: now}, now)
	confNoErr(t, "RotateRefresh narrower", err)
	confSameStrings(t, "Scopes (narrowed)", got.Scopes, []string{"read"})
}

func confRotateChain(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("t0", base)))
	for i := 1; i <= 5; i++ {
		now := base.Add(time.Duration(i) * time.Hour)
		_, err := confRotate(s, confDigest(fmt.Sprint("t", i-1)), RefreshToken{Digest: confDigest(fmt.Sprint("t", i))}, now)
		confNoErr(t, fmt.Sprintf("rotation %d", i), err)
	}
	if jtis := confDeniedJTIs(t, s); len(jtis) != 0 {
		t.Errorf("rotation denied tokens: %q", jtis)
	}
}

func confRotateUnknown(t *testing.T, s Store) {
	base := confBase()
	_, err := confRotate(s, confDigest("nope"), RefreshToken{Digest: confDigest("n2")}, base)
	confWantErr(t, "RotateRefresh unknown", err, ErrNotFound)
	if errors.Is(err, ErrRefreshReused) {
		t.Error("unknown token reported as reused")
	}
}

func confRotateExpired(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	tok := confFamily("a", base)
	tok.ExpiresAt = base.Add(time.Hour)
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, tok))
	_, err := confRotate(s, tok.Digest, RefreshToken{Digest: confDigest("a2")}, base.Add(time.Hour))
	confWantErr(t, "RotateRefresh at expiry", err, ErrNotFound)
	_, err = confRotate(s, tok.Digest, RefreshToken{Digest: confDigest("a3")}, base.Add(2*time.Hour))
	confWantErr(t, "RotateRefresh after expiry", err, ErrNotFound)
}

func confRotateScope(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	first := confFamily("a", base)
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	_, err := confRotate(s, first.Digest, RefreshToken{Digest: confDigest("a2"), Scopes: []string{"read", "admin"}}, base)
	confWantErr(t, "RotateRefresh wider", err, ErrScopeExceeded)
	// The refusal neither consumed the token nor revoked the family.
	_, err = confRotate(s, first.Digest, RefreshToken{Digest: confDigest("a2"), Scopes: []string{"read"}}, base)
	confNoErr(t, "RotateRefresh after refusal", err)
	_, err = confRotate(s, confDigest("a2"), RefreshToken{Digest: confDigest("a3"), Scopes: []string{"write"}}, base)
	confWantErr(t, "RotateRefresh re-widening", err, ErrScopeExceeded)
}

func confRotateDuplicateNext(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, confFamily("a", base)))
	confNoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, confFamily("b", base)))
	_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("b")}, base)
	confWantErr(t, "RotateRefresh onto b", err, ErrExists)
	_, err = confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2")}, base)
	confNoErr(t, "RotateRefresh after failure", err)
	if _, err := confRotate(s, confDigest("a2"), RefreshToken{}, base); err == nil {
		t.Error("RotateRefresh without a next digest succeeded")
	}
}

func confReuse(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	first := confFamily("a", base)
	expired := DeniedToken{JTI: "jti-expired", ExpiresAt: base.Add(time.Minute)}
	first.AccessJTIs = append(first.AccessJTIs, expired)
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	confNoErr(t, "CreateRefresh other family", s.CreateRefresh(ctx, confFamily("other", base)))
	now := base.Add(5 * time.Minute)
	_, err := confRotate(s, first.Digest, RefreshToken{Digest: confDigest("a2"),
		AccessJTIs: []DeniedToken{{JTI: "jti-a2", ExpiresAt: now.Add(15 * time.Minute)}}}, now)
	confNoErr(t, "RotateRefresh", err)

	// The rotated token comes back: an attacker or a confused client has it.
	_, err = confRotate(s, first.Digest, RefreshToken{Digest: confDigest("x")}, now)
	confWantErr(t, "RotateRefresh reused", err, ErrRefreshReused)
	// The newest token of the family is dead too.
	_, err = confRotate(s, confDigest("a2"), RefreshToken{Digest: confDigest("y")}, now)
	confWantErr(t, "RotateRefresh newest after reuse", err, ErrRefreshReused)
	// The attacker's would-be successor was not stored.
	_, err = confRotate(s, confDigest("x"), RefreshToken{Digest: confDigest("z")}, now)
	confWantErr(t, "RotateRefresh of refused successor", err, ErrNotFound)

	// Every unexpired access token of the family is denied, the expired one
	// needs no entry, the other family is untouched.
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2"})
	_, err = confRotate(s, confDigest("other"), RefreshToken{Digest: confDigest("other2")}, now)
	confNoErr(t, "RotateRefresh other family", err)
}

func confReuseTwice(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2")}, base)
	confNoErr(t, "RotateRefresh", err)
	for i := range 3 {
		_, err = confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest(fmt.Sprint("r", i))}, base)
		confWantErr(t, "RotateRefresh reused", err, ErrRefreshReused)
	}
	confNoErr(t, "RevokeRefresh", s.RevokeRefresh(ctx, confDigest("a2"), base))
	confSameStrings(t, "denied", confDeniedJTIs(t, s), []string{"jti-a"})
}

func confConcurrentRotation(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	first := confFamily("a", base)
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	const n = 20
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]error, n)
		winner  = -1
		mu      sync.Mutex
	)
	for i := range n {
		wg.Go(func() {
			<-start
			next := RefreshToken{Digest: confDigest(fmt.Sprint("next-", i)),
				AccessJTIs: []DeniedToken{{JTI: fmt.Sprint("jti-next-", i), ExpiresAt: base.Add(time.Hour)}}}
			_, err := confRotate(s, first.Digest, next, base)
			results[i] = err
			if err == nil {
				mu.Lock()
				winner = i
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrRefreshReused):
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent rotations succeeded, want exactly 1", wins)
	}
	// The losers presented a rotated token: the family, with the winner's
	// token and its access token, is revoked.
	_, err := confRotate(s, confDigest(fmt.Sprint("next-", winner)), RefreshToken{Digest: confDigest("after")}, base)
	confWantErr(t, "RotateRefresh winner's token", err, ErrRefreshReused)
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied", jtis, []string{"jti-a", fmt.Sprint("jti-next-", winner)})
}

func confRevokeRefresh(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2"),
		AccessJTIs: []DeniedToken{{JTI: "jti-a2", ExpiresAt: base.Add(time.Hour)}}}, base)
	confNoErr(t, "RotateRefresh", err)
	confWantErr(t, "RevokeRefresh unknown", s.RevokeRefresh(ctx, confDigest("nope"), base), ErrNotFound)
	confNoErr(t, "RevokeRefresh (logout)", s.RevokeRefresh(ctx, confDigest("a2"), base))
	_, err = confRotate(s, confDigest("a2"), RefreshToken{Digest: confDigest("a3")}, base)
	confWantErr(t, "RotateRefresh after logout", err, ErrRefreshReused)
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2"})
	confNoErr(t, "RevokeRefresh again", s.RevokeRefresh(ctx, confDigest("a"), base))
	if got := confDeniedJTIs(t, s); len(got) != 2 {
		t.Errorf("revoking a revoked family denied again: %q", got)
	}
}

func confFeedOrder(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	evs, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince empty", err)
	if len(evs) != 0 {
		t.Fatalf("empty store has events: %+v", evs)
	}
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "j1", ExpiresAt: base.Add(time.Hour)}, DeniedToken{JTI: "j2", ExpiresAt: base.Add(time.Minute)}))
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h"}))
	confNoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", UserChange{NotBefore: base}))
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "j3", ExpiresAt: base.Add(time.Hour)}))
	confNoErr(t, "Deny nothing", s.Deny(ctx))

	evs, err = s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	var got []string
	for i, ev := range evs {
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Errorf("sequence not increasing at %d: %d after %d", i, ev.Seq, evs[i-1].Seq)
		}
		got = append(got, ev.JTI+ev.Subject)
	}
	confSameStrings(t, "feed", got, []string{"j1", "j2", "alice", "j3"})
	confSameTime(t, "j2 ExpiresAt", evs[1].ExpiresAt, base.Add(time.Minute))
	confSameTime(t, "alice NotBefore", evs[2].NotBefore, base)

	later, err := s.RevocationsSince(ctx, evs[1].Seq)
	confNoErr(t, "RevocationsSince", err)
	if len(later) != 2 || later[0].Seq != evs[2].Seq || later[1].Seq != evs[3].Seq {
		t.Errorf("RevocationsSince(%d) = %+v, want the last two events", evs[1].Seq, later)
	}
	none, err := s.RevocationsSince(ctx, evs[3].Seq)
	confNoErr(t, "RevocationsSince latest", err)
	if len(none) != 0 {
		t.Errorf("RevocationsSince(latest) = %+v, want none", none)
	}
}

func confDenyValidates(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.Deny(ctx, DeniedToken{JTI: "ok", ExpiresAt: confBase()}, DeniedToken{}); err == nil {
		t.Error("Deny with an empty jti succeeded")
	}
	if jtis := confDeniedJTIs(t, s); len(jtis) != 0 {
		t.Errorf("a refused Deny recorded %q", jtis)
	}
}

func confPrune(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "kept", ExpiresAt: base.Add(time.Hour)}))
	confNoErr(t, "CreateUser", s.CreateUser(ctx, User{Username: "alice", PasswordHash: "h"}))
	confNoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", UserChange{NotBefore: base.Add(-48 * time.Hour)}))
	// The newest event is the one that expires, so that pruning removes the
	// highest sequence number.
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "gone", ExpiresAt: base.Add(-time.Minute)}))
	before, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	maxSeq := before[len(before)-1].Seq

	// Creating a refresh token at base prunes what expired before it;
	// subject events stay however old.
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	evs, err := s.RevocationsSince(ctx, 0)
	confNoErr(t, "RevocationsSince", err)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.JTI+ev.Subject)
	}
	confSameStrings(t, "feed after pruning", got, []string{"kept", "alice"})

	// Sequence numbers are never reused: a reader that saw maxSeq must see
	// the next event.
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "new", ExpiresAt: base.Add(time.Hour)}))
	evs, err = s.RevocationsSince(ctx, maxSeq)
	confNoErr(t, "RevocationsSince", err)
	if len(evs) != 1 || evs[0].JTI != "new" || evs[0].Seq <= maxSeq {
		t.Errorf("after pruning, RevocationsSince(%d) = %+v, want the new event", maxSeq, evs)
	}
}

// confClientEvents returns the feed's client events as "id@notBefore".
func confClientEvents(t *testing.T, s Store) []string {
	t.Helper()
	evs, err := s.RevocationsSince(context.Background(), 0)
	confNoErr(t, "RevocationsSince", err)
	var out []string
	for _, ev := range evs {
		if ev.ClientID != "" {
			if ev.JTI != "" || ev.Subject != "" {
				t.Errorf("client event names more than a client: %+v", ev)
			}
			out = append(out, ev.ClientID+"@"+ev.NotBefore.UTC().Format(time.RFC3339Nano))
		}
	}
	return out
}

func confClientUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confWantErr(t, "UpdateClient unknown", s.UpdateClient(ctx, "nope", ClientChange{SecretHash: "h", IfSecretHash: "x"}), ErrNotFound)
	confNoErr(t, "CreateClient", s.CreateClient(ctx, Client{ID: "svc", SecretHash: "old", Scopes: []string{"b", "a"}, CreatedAt: base}))

	// A new secret alone (a rotation that keeps the client's tokens).
	confNoErr(t, "UpdateClient secret", s.UpdateClient(ctx, "svc", ClientChange{SecretHash: "new", IfSecretHash: "old"}))
	got, err := s.Client(ctx, "svc")
	confNoErr(t, "Client", err)
	if got.SecretHash != "new" || !got.NotBefore.IsZero() {
		t.Errorf("after UpdateClient: %+v", got)
	}
	confSameStrings(t, "Scopes (kept)", got.Scopes, []string{"a", "b"})
	confSameTime(t, "CreatedAt (kept)", got.CreatedAt, base)
	if evs := confClientEvents(t, s); len(evs) != 0 {
		t.Errorf("a secret change without not-before fed %q", evs)
	}

	// A rotation that ends the client's tokens.
	nb := base.Add(time.Minute)
	confNoErr(t, "UpdateClient not-before", s.UpdateClient(ctx, "svc", ClientChange{SecretHash: "newer", IfSecretHash: "new", NotBefore: nb}))
	// A later update without a not-before must not move it back.
	confNoErr(t, "UpdateClient without not-before", s.UpdateClient(ctx, "svc", ClientChange{SecretHash: "newest", IfSecretHash: "newer"}))
	// A rotation from a stale read of the secret changes nothing.
	confWantErr(t, "UpdateClient stale secret", s.UpdateClient(ctx, "svc",
		ClientChange{SecretHash: "lost", IfSecretHash: "newer", NotBefore: nb.Add(time.Minute)}), ErrSecretRotatedMeanwhile)
	got, err = s.Client(ctx, "svc")
	confNoErr(t, "Client", err)
	confSameTime(t, "NotBefore (never moves back)", got.NotBefore, nb)
	if got.SecretHash != "newest" {
		t.Errorf("SecretHash = %q, want newest", got.SecretHash)
	}
	confSameStrings(t, "Scopes (kept)", got.Scopes, []string{"a", "b"})
	confSameStrings(t, "client events", confClientEvents(t, s), []string{"svc@" + nb.UTC().Format(time.RFC3339Nano)})
}

func confClientDelete(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confWantErr(t, "DeleteClient unknown", s.DeleteClient(ctx, "nope", base), ErrNotFound)
	confNoErr(t, "CreateClient web", s.CreateClient(ctx, Client{ID: "web", SecretHash: "h"}))
	confNoErr(t, "CreateClient other", s.CreateClient(ctx, Client{ID: "other", SecretHash: "h"}))
	// Two sessions bound to web (one rotated once), one to another client.
	confNoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, confFamily("a", base)))
	_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2"),
		AccessJTIs: []DeniedToken{{JTI: "jti-a2", ExpiresAt: base.Add(time.Hour)}}}, base)
	confNoErr(t, "RotateRefresh a", err)
	confNoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, confFamily("b", base)))
	other := confFamily("o", base)
	other.ClientID = "other"
	confNoErr(t, "CreateRefresh o", s.CreateRefresh(ctx, other))

	at := base.Add(time.Minute)
	confNoErr(t, "DeleteClient", s.DeleteClient(ctx, "web", at))
	_, err = s.Client(ctx, "web")
	confWantErr(t, "Client after delete", err, ErrNotFound)
	confSameStrings(t, "client events", confClientEvents(t, s), []string{"web@" + at.UTC().Format(time.RFC3339Nano)})
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2", "jti-b"})
	for _, d := range []string{"a2", "b"} {
		_, err = confRotate(s, confDigest(d), RefreshToken{Digest: confDigest(d + "-next")}, at)
		confWantErr(t, "RotateRefresh of the removed client's session "+d, err, ErrRefreshReused)
	}
	_, err = confRotate(s, confDigest("o"), RefreshToken{Digest: confDigest("o2")}, at)
	confNoErr(t, "RotateRefresh of another client's session", err)
	confWantErr(t, "DeleteClient again", s.DeleteClient(ctx, "web", at), ErrNotFound)
	// The id is free again; the new client starts with no sessions.
	confNoErr(t, "CreateClient web again", s.CreateClient(ctx, Client{ID: "web", SecretHash: "h2"}))
}

// confRetryRotation is a rotation of old into next with a grace period and a
// sealed value.
func confRetryRotation(old, next string, now time.Time, grace time.Duration) RefreshRotation {
	return RefreshRotation{
		Old: confDigest(old),
		Next: RefreshToken{Digest: confDigest(next),
			AccessJTIs: []DeniedToken{{JTI: "jti-" + next, ExpiresAt: now.Add(15 * time.Minute)}}},
		Now: now, Grace: grace, Sealed: []byte("sealed " + next),
	}
}

func confRetryWithinGrace(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	const grace = 10 * time.Second
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	first, err := s.RotateRefresh(ctx, confRetryRotation("a", "a2", base, grace))
	confNoErr(t, "RotateRefresh", err)
	if first.Retry || first.Sealed != nil || !slices.Equal(first.Token.Digest, confDigest("a2")) {
		t.Fatalf("first rotation = %+v, want a2 stored, no retry", first)
	}
	// The client lost the answer and presents a again, just within the
	// grace period; its would-be new successor is not stored.
	again, err := s.RotateRefresh(ctx, confRetryRotation("a", "a2-retry", base.Add(grace-time.Millisecond), grace))
	confNoErr(t, "RotateRefresh retry", err)
	if !again.Retry || string(again.Sealed) != "sealed a2" || !slices.Equal(again.Token.Digest, confDigest("a2")) {
		t.Fatalf("retry = %+v, want a2 again with its sealed value", again)
	}
	if again.Token.Subject != "alice" || again.Token.ClientID != "web" || again.Token.FamilyID != "fam-a" {
		t.Errorf("retry token = %+v, want the family's", again.Token)
	}
	if len(again.Token.AccessJTIs) != 1 || again.Token.AccessJTIs[0].JTI != "jti-a2" {
		t.Errorf("retry token's access tokens = %+v, want jti-a2", again.Token.AccessJTIs)
	}
	_, err = confRotate(s, confDigest("a2-retry"), RefreshToken{Digest: confDigest("x")}, base)
	confWantErr(t, "RotateRefresh of the retry's discarded successor", err, ErrNotFound)
	if jtis := confDeniedJTIs(t, s); len(jtis) != 0 {
		t.Fatalf("a retry denied %q", jtis)
	}
	// At the end of the grace period it is reuse again.
	_, err = s.RotateRefresh(ctx, confRetryRotation("a", "a3", base.Add(grace), grace))
	confWantErr(t, "RotateRefresh after the grace period", err, ErrRefreshReused)
	_, err = confRotate(s, confDigest("a2"), RefreshToken{Digest: confDigest("a4")}, base)
	confWantErr(t, "RotateRefresh of the successor after reuse", err, ErrRefreshReused)
}

func confRetryOlderGeneration(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	const grace = time.Minute
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	_, err := s.RotateRefresh(ctx, confRetryRotation("a", "a2", base, grace))
	confNoErr(t, "RotateRefresh a", err)
	_, err = s.RotateRefresh(ctx, confRetryRotation("a2", "a3", base.Add(time.Second), grace))
	confNoErr(t, "RotateRefresh a2", err)
	// a2 immediately precedes the live a3: a retry.
	r, err := s.RotateRefresh(ctx, confRetryRotation("a2", "x", base.Add(2*time.Second), grace))
	confNoErr(t, "retry of a2", err)
	if !r.Retry || !slices.Equal(r.Token.Digest, confDigest("a3")) {
		t.Fatalf("retry of a2 = %+v, want a3", r)
	}
	// a is two generations old: reuse, however recent (django-oauth-toolkit
	// #1617).
	_, err = s.RotateRefresh(ctx, confRetryRotation("a", "y", base.Add(2*time.Second), grace))
	confWantErr(t, "retry of a", err, ErrRefreshReused)
	_, err = s.RotateRefresh(ctx, confRetryRotation("a2", "z", base.Add(3*time.Second), grace))
	confWantErr(t, "retry of a2 after reuse", err, ErrRefreshReused)
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2", "jti-a3"})
}

func confRetryNeedsLiveSealedSuccessor(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	const grace = time.Minute
	// Rotated without a sealed value (the grace period was 0 then).
	confNoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, confFamily("a", base)))
	_, err := confRotate(s, confDigest("a"), RefreshToken{Digest: confDigest("a2")}, base)
	confNoErr(t, "RotateRefresh a", err)
	_, err = s.RotateRefresh(ctx, confRetryRotation("a", "a3", base, grace))
	confWantErr(t, "retry without sealed value", err, ErrRefreshReused)

	// Logged out (family revoked) between the rotation and the retry.
	confNoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, confFamily("b", base)))
	_, err = s.RotateRefresh(ctx, confRetryRotation("b", "b2", base, grace))
	confNoErr(t, "RotateRefresh b", err)
	confNoErr(t, "RevokeRefresh b2", s.RevokeRefresh(ctx, confDigest("b2"), base))
	_, err = s.RotateRefresh(ctx, confRetryRotation("b", "b3", base, grace))
	confWantErr(t, "retry after logout", err, ErrRefreshReused)

	// A retry with no grace period is reuse.
	confNoErr(t, "CreateRefresh c", s.CreateRefresh(ctx, confFamily("c", base)))
	_, err = s.RotateRefresh(ctx, confRetryRotation("c", "c2", base, grace))
	confNoErr(t, "RotateRefresh c", err)
	_, err = s.RotateRefresh(ctx, confRetryRotation("c", "c3", base, 0))
	confWantErr(t, "retry without grace", err, ErrRefreshReused)
}

func confConcurrentRetries(t *testing.T, s Store) {
	confRaceRetries(t, s)
}

// confRaceRetries presents one token 20 times at once with a grace period,
// spreading the calls over stores (instances sharing one database, or just
// one store): one call rotates, every other is answered as a retry with
// the same successor and the winner's sealed value, and nothing is denied.
func confRaceRetries(t *testing.T, stores ...Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateRefresh", stores[0].CreateRefresh(ctx, confFamily("a", base)))
	const n = 20
	results := make([]RefreshRotated, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.RotateRefresh(ctx, confRetryRotation("a", fmt.Sprint("next-", i), base, time.Minute))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		confNoErr(t, fmt.Sprintf("rotation %d", i), err)
		if !results[i].Retry {
			if winner >= 0 {
				t.Fatalf("rotations %d and %d both rotated", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("every call was answered as a retry; none rotated")
	}
	want := confDigest(fmt.Sprint("next-", winner))
	for i, r := range results {
		if !slices.Equal(r.Token.Digest, want) {
			t.Errorf("call %d got another successor than the winner %d", i, winner)
		}
		if i != winner && string(r.Sealed) != fmt.Sprint("sealed next-", winner) {
			t.Errorf("retry %d got sealed %q, want the winner's", i, r.Sealed)
		}
	}
	if jtis := confDeniedJTIs(t, stores[0]); len(jtis) != 0 {
		t.Errorf("retries within the grace period denied %q", jtis)
	}
}

func confPruneKeepsLeeway(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	// A token that expired 30 s ago is still accepted by a verifier with
	// a leeway of up to MaxLeeway: its denial must survive pruning.
	within := base.Add(-MaxLeeway / 2)
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "within-leeway", ExpiresAt: within}))
	confNoErr(t, "Deny", s.Deny(ctx, DeniedToken{JTI: "beyond-leeway", ExpiresAt: base.Add(-MaxLeeway - time.Second)}))
	// Pruning happens on the next refresh token write.
	confNoErr(t, "CreateRefresh", s.CreateRefresh(ctx, confFamily("a", base)))
	confSameStrings(t, "denied after pruning", confDeniedJTIs(t, s), []string{"within-leeway"})

	// Revoking a family denies its access tokens that are expired but
	// within the leeway too.
	fam := confFamily("b", base.Add(-time.Hour))
	fam.AccessJTIs = []DeniedToken{
		{JTI: "b-within", ExpiresAt: within},
		{JTI: "b-beyond", ExpiresAt: base.Add(-MaxLeeway - time.Second)},
	}
	confNoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, fam))
	confNoErr(t, "RevokeRefresh b", s.RevokeRefresh(ctx, fam.Digest, base))
	jtis := confDeniedJTIs(t, s)
	slices.Sort(jtis)
	confSameStrings(t, "denied after revoking", jtis, []string{"b-within", "within-leeway"})
}
