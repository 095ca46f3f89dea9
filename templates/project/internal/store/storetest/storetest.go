// Package storetest is the conformance suite of package store: Run checks
// that a Store behaves as the interface documents, and every backend's own
// test calls it with a function that opens an empty store of that backend.
// The helpers it exports serve those tests' backend-specific cases.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Run checks that a Store implementation behaves as the Store interface
// documents, and implements SessionStore and IdentityLinkStore as they
// document. open must return a new, empty store for each call; the suite
// closes it. A new implementation only needs a test that calls Run with
// its own open function.
//
// Times are relative to the wall clock because stores prune relative to the
// times callers pass; nothing waits on it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
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
		fn   func(t *testing.T, s store.Store)
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
		{"LoginStates", confLoginStates},
		{"SessionsListsLiveFamiliesAndRevokeSessionEndsOne", confSessionsListAndRevoke},
		{"DeleteUserEndsItsKeysSessionsAndTokens", confDeleteUser},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
}

// confBase is a fixed instant with sub-second precision in a non-UTC zone,
// near the wall clock (see Run).
func confBase() time.Time {
	return time.Now().Truncate(time.Second).Add(123456789 * time.Nanosecond).In(time.FixedZone("X", 3600))
}

// Digest is the SHA-256 digest of s, as stores keep secrets.
func Digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// NoErr fails the test at once if err is not nil.
func NoErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// WantErr fails the test at once unless err is target (errors.Is).
func WantErr(t *testing.T, what string, err, target error) {
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

// Rotate rotates old into next at now, strictly (no grace period).
func Rotate(s store.Store, old []byte, next store.RefreshToken, now time.Time) (store.RefreshToken, error) {
	r, err := s.RotateRefresh(context.Background(), store.RefreshRotation{Old: old, Next: next, Now: now})
	if err == nil && r.Retry {
		return r.Token, errors.New("strict rotation answered as a retry")
	}
	return r.Token, err
}

// SameStrings reports an error unless got equals want.
func SameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func confUserRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	in := store.User{
		Username: "alice", PasswordHash: "$argon2id$x", Scopes: []string{"write", "read", "read"},
		Disabled: true, NotBefore: base.Add(time.Hour), CreatedAt: base,
	}
	NoErr(t, "CreateUser", s.CreateUser(ctx, in))
	got, err := s.User(ctx, "alice")
	NoErr(t, "User", err)
	if got.Username != "alice" || got.PasswordHash != in.PasswordHash || !got.Disabled {
		t.Errorf("User = %+v, want fields of %+v", got, in)
	}
	SameStrings(t, "Scopes", got.Scopes, []string{"read", "write"})
	confSameTime(t, "NotBefore", got.NotBefore, in.NotBefore)
	confSameTime(t, "CreatedAt", got.CreatedAt, in.CreatedAt)

	NoErr(t, "CreateUser zero times", s.CreateUser(ctx, store.User{Username: "bob", PasswordHash: "h"}))
	got, err = s.User(ctx, "bob")
	NoErr(t, "User", err)
	if !got.NotBefore.IsZero() || !got.CreatedAt.IsZero() || got.Scopes != nil || got.Disabled {
		t.Errorf("zero fields did not round-trip: %+v", got)
	}
	if err := s.CreateUser(ctx, store.User{PasswordHash: "h"}); err == nil {
		t.Error("CreateUser without a name succeeded")
	}
}

func confUserDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "first"}))
	WantErr(t, "CreateUser again", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "second"}), store.ErrExists)
	got, err := s.User(ctx, "alice")
	NoErr(t, "User", err)
	if got.PasswordHash != "first" {
		t.Errorf("duplicate create overwrote the user: hash %q", got.PasswordHash)
	}
}

func confUserUnknown(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.User(ctx, "nobody")
	WantErr(t, "User", err, store.ErrNotFound)
	WantErr(t, "UpdateUser", s.UpdateUser(ctx, "nobody", store.UserChange{PasswordHash: "h"}), store.ErrNotFound)
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}))
	// Look-ups are exact: normalising names is the caller's job.
	_, err = s.User(ctx, "Alice")
	WantErr(t, "User with other case", err, store.ErrNotFound)
}

func confUserUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	created := store.User{Username: "alice", PasswordHash: "old", Scopes: []string{"a"}, NotBefore: base, CreatedAt: base}
	NoErr(t, "CreateUser", s.CreateUser(ctx, created))
	check := func(step string, want store.User) {
		t.Helper()
		got, err := s.User(ctx, "alice")
		NoErr(t, "User", err)
		if got.PasswordHash != want.PasswordHash || got.Disabled != want.Disabled {
			t.Errorf("after %s: %+v, want %+v", step, got, want)
		}
		SameStrings(t, step+": Scopes", got.Scopes, want.Scopes)
		confSameTime(t, step+": NotBefore", got.NotBefore, want.NotBefore)
		confSameTime(t, step+": CreatedAt (kept)", got.CreatedAt, base)
	}
	// Each change touches only the fields it sets.
	want := created
	NoErr(t, "UpdateUser nothing", s.UpdateUser(ctx, "alice", store.UserChange{}))
	check("an empty change", want)
	NoErr(t, "UpdateUser hash", s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "new"}))
	want.PasswordHash = "new"
	check("a new hash", want)
	NoErr(t, "UpdateUser scopes", s.UpdateUser(ctx, "alice", store.UserChange{Scopes: []string{"c", "b", "c"}}))
	want.Scopes = []string{"b", "c"}
	check("new scopes", want)
	NoErr(t, "UpdateUser disabled", s.UpdateUser(ctx, "alice", store.UserChange{Disabled: new(true)}))
	want.Disabled = true
	check("disabling", want)
	NoErr(t, "UpdateUser not-before", s.UpdateUser(ctx, "alice", store.UserChange{NotBefore: base.Add(time.Minute)}))
	want.NotBefore = base.Add(time.Minute)
	check("a later not-before", want)
	NoErr(t, "UpdateUser earlier not-before", s.UpdateUser(ctx, "alice", store.UserChange{NotBefore: base}))
	check("an earlier not-before (never moves back)", want)
	NoErr(t, "UpdateUser enabled, no scopes", s.UpdateUser(ctx, "alice", store.UserChange{Disabled: new(false), Scopes: []string{}}))
	want.Disabled, want.Scopes = false, nil
	check("enabling and removing the scopes", want)
}

func confUserNotBeforeFeed(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}))
	NoErr(t, "UpdateUser hash only", s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "h2"}))
	evs, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	if len(evs) != 0 {
		t.Fatalf("an update that kept NotBefore produced events: %+v", evs)
	}
	NoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "h3", NotBefore: base}))
	NoErr(t, "UpdateUser same NotBefore", s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "h4", NotBefore: base}))
	NoErr(t, "UpdateUser earlier", s.UpdateUser(ctx, "alice", store.UserChange{NotBefore: base.Add(-time.Second)}))
	NoErr(t, "UpdateUser later", s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "h5", NotBefore: base.Add(time.Second)}))
	evs, err = s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
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
func confConcurrentUserUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	const users = 10
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range users {
		name := fmt.Sprint("user", i)
		NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: name, PasswordHash: "old", Scopes: []string{"a"}}))
		for _, c := range []store.UserChange{
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
		NoErr(t, "User", err)
		if u.PasswordHash != "new" || !u.Disabled || !slices.Equal(u.Scopes, []string{"b"}) {
			t.Errorf("%s lost a concurrent update: %+v, want the new hash, disabled and scopes [b]", name, u)
		}
		confSameTime(t, name+" NotBefore", u.NotBefore, base.Add(time.Second))
	}
	// The feed ends, for each user, with the later not-before time.
	evs, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	last := map[string]time.Time{}
	for _, ev := range evs {
		last[ev.Subject] = ev.NotBefore
	}
	for i := range users {
		name := fmt.Sprint("user", i)
		confSameTime(t, name+" last fed NotBefore", last[name], base.Add(time.Second))
	}
}

func confReplacePasswordHash(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "old", Scopes: []string{"a"}, CreatedAt: base}))
	NoErr(t, "ReplacePasswordHash", s.ReplacePasswordHash(ctx, "alice", "old", "new"))
	got, err := s.User(ctx, "alice")
	NoErr(t, "User", err)
	if got.PasswordHash != "new" {
		t.Errorf("hash %q after ReplacePasswordHash, want new", got.PasswordHash)
	}
	// A disable (and a password change) made meanwhile is kept: the
	// replacement is refused and changes nothing.
	NoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: "changed", Disabled: new(true), NotBefore: base}))
	WantErr(t, "ReplacePasswordHash of a replaced hash", s.ReplacePasswordHash(ctx, "alice", "new", "newer"), store.ErrNotFound)
	got, err = s.User(ctx, "alice")
	NoErr(t, "User", err)
	if got.PasswordHash != "changed" || !got.Disabled {
		t.Errorf("a refused ReplacePasswordHash changed the user: %+v", got)
	}
	NoErr(t, "ReplacePasswordHash", s.ReplacePasswordHash(ctx, "alice", "changed", "rehashed"))
	got, err = s.User(ctx, "alice")
	NoErr(t, "User", err)
	if got.PasswordHash != "rehashed" || !got.Disabled {
		t.Errorf("ReplacePasswordHash changed more than the hash: %+v", got)
	}
	confSameTime(t, "NotBefore (kept)", got.NotBefore, base)
	WantErr(t, "ReplacePasswordHash of an unknown user", s.ReplacePasswordHash(ctx, "bob", "", "x"), store.ErrNotFound)
	evs, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	if len(evs) != 1 {
		t.Errorf("revocation feed %+v: want only the event of the UpdateUser", evs)
	}
}

func confListUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Empty listings are empty slices, not nil, so that they encode as [].
	users, err := s.ListUsers(ctx)
	NoErr(t, "ListUsers", err)
	if users == nil || len(users) != 0 {
		t.Fatalf("empty store lists %#v", users)
	}
	keys, err := s.ListAPIKeys(ctx)
	NoErr(t, "ListAPIKeys", err)
	clients, err := s.ListClients(ctx)
	NoErr(t, "ListClients", err)
	if keys == nil || clients == nil || len(keys)+len(clients) != 0 {
		t.Fatalf("empty store lists %#v and %#v", keys, clients)
	}
	for _, n := range []string{"carol", "alice", "dave", "bob"} {
		NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: n, PasswordHash: "h", Scopes: []string{"z", "y"}}))
	}
	users, err = s.ListUsers(ctx)
	NoErr(t, "ListUsers", err)
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
		SameStrings(t, u.Username+" scopes", u.Scopes, []string{"y", "z"})
	}
	SameStrings(t, "ListUsers", names, []string{"alice", "bob", "carol", "dave"})
}

func confCopies(t *testing.T, s store.Store) {
	ctx := context.Background()
	scopes := []string{"a", "b"}
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h", Scopes: scopes}))
	scopes[0] = "changed-by-caller"
	u, err := s.User(ctx, "alice")
	NoErr(t, "User", err)
	u.Scopes[1] = "changed-by-reader"
	u, err = s.User(ctx, "alice")
	NoErr(t, "User", err)
	SameStrings(t, "Scopes", u.Scopes, []string{"a", "b"})

	digest := Digest("key")
	NoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, store.APIKey{ID: "k", Digest: digest, Owner: "alice"}))
	digest[0] ^= 0xff
	if _, err := s.APIKeyByDigest(ctx, Digest("key")); err != nil {
		t.Errorf("store kept the caller's digest slice: %v", err)
	}
}

func confAPIKeyLookup(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	in := store.APIKey{ID: "ak_1", Digest: Digest("secret-1"), Owner: "alice", Scopes: []string{"w", "r"}, CreatedAt: base}
	NoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, in))
	got, err := s.APIKeyByDigest(ctx, Digest("secret-1"))
	NoErr(t, "APIKeyByDigest", err)
	if got.ID != "ak_1" || got.Owner != "alice" || !slices.Equal(got.Digest, in.Digest) || !got.RevokedAt.IsZero() {
		t.Errorf("APIKeyByDigest = %+v", got)
	}
	SameStrings(t, "Scopes", got.Scopes, []string{"r", "w"})
	confSameTime(t, "CreatedAt", got.CreatedAt, base)
	_, err = s.APIKeyByDigest(ctx, Digest("secret-2"))
	WantErr(t, "APIKeyByDigest unknown", err, store.ErrNotFound)
	_, err = s.APIKeyByDigest(ctx, nil)
	WantErr(t, "APIKeyByDigest nil", err, store.ErrNotFound)
	for _, bad := range []store.APIKey{
		{Digest: Digest("x"), Owner: "o"},
		{ID: "x", Owner: "o"},
		{ID: "x", Digest: Digest("x")},
	} {
		if err := s.CreateAPIKey(ctx, bad); err == nil {
			t.Errorf("CreateAPIKey(%+v) succeeded", bad)
		}
	}
}

func confAPIKeyDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	NoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, store.APIKey{ID: "k1", Digest: Digest("s1"), Owner: "o"}))
	WantErr(t, "same id", s.CreateAPIKey(ctx, store.APIKey{ID: "k1", Digest: Digest("s2"), Owner: "o"}), store.ErrExists)
	WantErr(t, "same digest", s.CreateAPIKey(ctx, store.APIKey{ID: "k2", Digest: Digest("s1"), Owner: "o"}), store.ErrExists)
	keys, err := s.ListAPIKeys(ctx)
	NoErr(t, "ListAPIKeys", err)
	if len(keys) != 1 {
		t.Errorf("failed creates left keys behind: %+v", keys)
	}
}

func confAPIKeyRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, store.APIKey{ID: "k1", Digest: Digest("s1"), Owner: "o", CreatedAt: base}))
	WantErr(t, "RevokeAPIKey unknown", s.RevokeAPIKey(ctx, "nope", base), store.ErrNotFound)
	NoErr(t, "RevokeAPIKey", s.RevokeAPIKey(ctx, "k1", base.Add(time.Minute)))
	_, err := s.APIKeyByDigest(ctx, Digest("s1"))
	WantErr(t, "APIKeyByDigest revoked", err, store.ErrNotFound)
	NoErr(t, "RevokeAPIKey again", s.RevokeAPIKey(ctx, "k1", base.Add(time.Hour)))
	keys, err := s.ListAPIKeys(ctx)
	NoErr(t, "ListAPIKeys", err)
	if len(keys) != 1 {
		t.Fatalf("ListAPIKeys = %+v, want the revoked key", keys)
	}
	confSameTime(t, "RevokedAt (first revocation)", keys[0].RevokedAt, base.Add(time.Minute))
}

func confListAPIKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"k3", "k1", "k2"} {
		NoErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, store.APIKey{ID: id, Digest: Digest(id), Owner: "o", Scopes: []string{"b", "a"}}))
	}
	keys, err := s.ListAPIKeys(ctx)
	NoErr(t, "ListAPIKeys", err)
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
		SameStrings(t, k.ID+" scopes", k.Scopes, []string{"a", "b"})
		if !slices.Equal(k.Digest, Digest(k.ID)) {
			t.Errorf("%s digest not listed", k.ID)
		}
	}
	SameStrings(t, "ListAPIKeys", ids, []string{"k1", "k2", "k3"})
}

func confClient(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	in := store.Client{ID: "svc", SecretHash: "$argon2id$x", Scopes: []string{"b", "a"}, NotBefore: base.Add(-time.Hour), CreatedAt: base}
	NoErr(t, "CreateClient", s.CreateClient(ctx, in))
	got, err := s.Client(ctx, "svc")
	NoErr(t, "Client", err)
	if got.ID != "svc" || got.SecretHash != in.SecretHash {
		t.Errorf("Client = %+v", got)
	}
	SameStrings(t, "Scopes", got.Scopes, []string{"a", "b"})
	confSameTime(t, "NotBefore", got.NotBefore, in.NotBefore)
	confSameTime(t, "CreatedAt", got.CreatedAt, base)
	WantErr(t, "CreateClient again", s.CreateClient(ctx, store.Client{ID: "svc", SecretHash: "other"}), store.ErrExists)
	_, err = s.Client(ctx, "other")
	WantErr(t, "Client unknown", err, store.ErrNotFound)
	if err := s.CreateClient(ctx, store.Client{SecretHash: "h"}); err == nil {
		t.Error("CreateClient without id succeeded")
	}
}

func confListClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"c", "a", "b"} {
		NoErr(t, "CreateClient", s.CreateClient(ctx, store.Client{ID: id, SecretHash: "h"}))
	}
	cs, err := s.ListClients(ctx)
	NoErr(t, "ListClients", err)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	SameStrings(t, "ListClients", ids, []string{"a", "b", "c"})
}

// Family returns the first token of a new family, issued at base and
// expiring a week later, with one access token recorded.
func Family(name string, base time.Time) store.RefreshToken {
	return store.RefreshToken{
		Digest: Digest(name), FamilyID: "fam-" + name, Subject: "alice", ClientID: "web",
		Scopes: []string{"read", "write"}, IssuedAt: base, AuthTime: base, ExpiresAt: base.Add(7 * 24 * time.Hour),
		AccessJTIs: []store.DeniedToken{{JTI: "jti-" + name, ExpiresAt: base.Add(15 * time.Minute)}},
	}
}

// DeniedJTIs returns the jtis of the feed's access token events.
func DeniedJTIs(t *testing.T, s store.Store) []string {
	t.Helper()
	evs, err := s.RevocationsSince(context.Background(), 0)
	NoErr(t, "RevocationsSince", err)
	var jtis []string
	for _, ev := range evs {
		if ev.JTI != "" {
			jtis = append(jtis, ev.JTI)
		}
	}
	return jtis
}

func confCreateRefresh(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	WantErr(t, "CreateRefresh same digest", s.CreateRefresh(ctx, Family("a", base)), store.ErrExists)
	for name, mutate := range map[string]func(*store.RefreshToken){
		"no digest":   func(r *store.RefreshToken) { r.Digest = nil },
		"no family":   func(r *store.RefreshToken) { r.FamilyID = "" },
		"no subject":  func(r *store.RefreshToken) { r.Subject = "" },
		"no expiry":   func(r *store.RefreshToken) { r.ExpiresAt = time.Time{} },
		"empty jti":   func(r *store.RefreshToken) { r.AccessJTIs = []store.DeniedToken{{ExpiresAt: base}} },
		"also no jti": func(r *store.RefreshToken) { r.AccessJTIs = append(r.AccessJTIs, store.DeniedToken{}) },
	} {
		tok := Family("b-"+name, base)
		mutate(&tok)
		if err := s.CreateRefresh(ctx, tok); err == nil {
			t.Errorf("CreateRefresh with %s succeeded", name)
		}
	}
}

func confRotateInherits(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	first := Family("a", base)
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	now := base.Add(time.Hour)
	// The caller tries to move the family; the store must not let it.
	next := store.RefreshToken{
		Digest: Digest("a2"), FamilyID: "other", Subject: "mallory", ClientID: "evil",
		AuthTime: now, ExpiresAt: now.Add(365 * 24 * time.Hour),
		AccessJTIs: []store.DeniedToken{{JTI: "jti-a2", ExpiresAt: now.Add(15 * time.Minute)}},
	}
	got, err := Rotate(s, first.Digest, next, now)
	NoErr(t, "RotateRefresh", err)
	if !slices.Equal(got.Digest, Digest("a2")) || got.FamilyID != first.FamilyID ||
		got.Subject != "alice" || got.ClientID != "web" {
		t.Errorf("RotateRefresh = %+v, want the family's identity", got)
	}
	SameStrings(t, "Scopes (inherited)", got.Scopes, first.Scopes)
	confSameTime(t, "AuthTime", got.AuthTime, first.AuthTime)
	confSameTime(t, "ExpiresAt (not extended)", got.ExpiresAt, first.ExpiresAt)
	confSameTime(t, "IssuedAt (defaults to now)", got.IssuedAt, now)
	if len(got.AccessJTIs) != 1 || got.AccessJTIs[0].JTI != "jti-a2" {
		t.Errorf("AccessJTIs = %+v", got.AccessJTIs)
	}
	// Narrower scopes are fine.
	got, err = Rotate(s, Digest("a2"), store.RefreshToken{Digest: Digest("a3"), Scopes: []string{"read"}, IssuedAt: now}, now)
	NoErr(t, "RotateRefresh narrower", err)
	SameStrings(t, "Scopes (narrowed)", got.Scopes, []string{"read"})
}

func confRotateChain(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("t0", base)))
	for i := 1; i <= 5; i++ {
		now := base.Add(time.Duration(i) * time.Hour)
		_, err := Rotate(s, Digest(fmt.Sprint("t", i-1)), store.RefreshToken{Digest: Digest(fmt.Sprint("t", i))}, now)
		NoErr(t, fmt.Sprintf("rotation %d", i), err)
	}
	if jtis := DeniedJTIs(t, s); len(jtis) != 0 {
		t.Errorf("rotation denied tokens: %q", jtis)
	}
}

func confRotateUnknown(t *testing.T, s store.Store) {
	base := confBase()
	_, err := Rotate(s, Digest("nope"), store.RefreshToken{Digest: Digest("n2")}, base)
	WantErr(t, "RotateRefresh unknown", err, store.ErrNotFound)
	if errors.Is(err, store.ErrRefreshReused) {
		t.Error("unknown token reported as reused")
	}
}

func confRotateExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	tok := Family("a", base)
	tok.ExpiresAt = base.Add(time.Hour)
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, tok))
	_, err := Rotate(s, tok.Digest, store.RefreshToken{Digest: Digest("a2")}, base.Add(time.Hour))
	WantErr(t, "RotateRefresh at expiry", err, store.ErrNotFound)
	_, err = Rotate(s, tok.Digest, store.RefreshToken{Digest: Digest("a3")}, base.Add(2*time.Hour))
	WantErr(t, "RotateRefresh after expiry", err, store.ErrNotFound)
}

func confRotateScope(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	first := Family("a", base)
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	_, err := Rotate(s, first.Digest, store.RefreshToken{Digest: Digest("a2"), Scopes: []string{"read", "admin"}}, base)
	WantErr(t, "RotateRefresh wider", err, store.ErrScopeExceeded)
	// The refusal neither consumed the token nor revoked the family.
	_, err = Rotate(s, first.Digest, store.RefreshToken{Digest: Digest("a2"), Scopes: []string{"read"}}, base)
	NoErr(t, "RotateRefresh after refusal", err)
	_, err = Rotate(s, Digest("a2"), store.RefreshToken{Digest: Digest("a3"), Scopes: []string{"write"}}, base)
	WantErr(t, "RotateRefresh re-widening", err, store.ErrScopeExceeded)
}

func confRotateDuplicateNext(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, Family("a", base)))
	NoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, Family("b", base)))
	_, err := Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("b")}, base)
	WantErr(t, "RotateRefresh onto b", err, store.ErrExists)
	_, err = Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("a2")}, base)
	NoErr(t, "RotateRefresh after failure", err)
	if _, err := Rotate(s, Digest("a2"), store.RefreshToken{}, base); err == nil {
		t.Error("RotateRefresh without a next digest succeeded")
	}
}

func confReuse(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	first := Family("a", base)
	expired := store.DeniedToken{JTI: "jti-expired", ExpiresAt: base.Add(time.Minute)}
	first.AccessJTIs = append(first.AccessJTIs, expired)
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
	NoErr(t, "CreateRefresh other family", s.CreateRefresh(ctx, Family("other", base)))
	now := base.Add(5 * time.Minute)
	_, err := Rotate(s, first.Digest, store.RefreshToken{Digest: Digest("a2"),
		AccessJTIs: []store.DeniedToken{{JTI: "jti-a2", ExpiresAt: now.Add(15 * time.Minute)}}}, now)
	NoErr(t, "RotateRefresh", err)

	// The rotated token comes back: an attacker or a confused client has it.
	_, err = Rotate(s, first.Digest, store.RefreshToken{Digest: Digest("x")}, now)
	WantErr(t, "RotateRefresh reused", err, store.ErrRefreshReused)
	// The newest token of the family is dead too.
	_, err = Rotate(s, Digest("a2"), store.RefreshToken{Digest: Digest("y")}, now)
	WantErr(t, "RotateRefresh newest after reuse", err, store.ErrRefreshReused)
	// The attacker's would-be successor was not stored.
	_, err = Rotate(s, Digest("x"), store.RefreshToken{Digest: Digest("z")}, now)
	WantErr(t, "RotateRefresh of refused successor", err, store.ErrNotFound)

	// Every unexpired access token of the family is denied, the expired one
	// needs no entry, the other family is untouched.
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2"})
	_, err = Rotate(s, Digest("other"), store.RefreshToken{Digest: Digest("other2")}, now)
	NoErr(t, "RotateRefresh other family", err)
}

func confReuseTwice(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	_, err := Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("a2")}, base)
	NoErr(t, "RotateRefresh", err)
	for i := range 3 {
		_, err = Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest(fmt.Sprint("r", i))}, base)
		WantErr(t, "RotateRefresh reused", err, store.ErrRefreshReused)
	}
	NoErr(t, "RevokeRefresh", s.RevokeRefresh(ctx, Digest("a2"), base))
	SameStrings(t, "denied", DeniedJTIs(t, s), []string{"jti-a"})
}

func confConcurrentRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	first := Family("a", base)
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, first))
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
			next := store.RefreshToken{Digest: Digest(fmt.Sprint("next-", i)),
				AccessJTIs: []store.DeniedToken{{JTI: fmt.Sprint("jti-next-", i), ExpiresAt: base.Add(time.Hour)}}}
			_, err := Rotate(s, first.Digest, next, base)
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
		case errors.Is(err, store.ErrRefreshReused):
		default:
			t.Errorf("goroutine %d: unexpected error %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent rotations succeeded, want exactly 1", wins)
	}
	// The losers presented a rotated token: the family, with the winner's
	// token and its access token, is revoked.
	_, err := Rotate(s, Digest(fmt.Sprint("next-", winner)), store.RefreshToken{Digest: Digest("after")}, base)
	WantErr(t, "RotateRefresh winner's token", err, store.ErrRefreshReused)
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied", jtis, []string{"jti-a", fmt.Sprint("jti-next-", winner)})
}

func confRevokeRefresh(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	_, err := Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("a2"),
		AccessJTIs: []store.DeniedToken{{JTI: "jti-a2", ExpiresAt: base.Add(time.Hour)}}}, base)
	NoErr(t, "RotateRefresh", err)
	WantErr(t, "RevokeRefresh unknown", s.RevokeRefresh(ctx, Digest("nope"), base), store.ErrNotFound)
	NoErr(t, "RevokeRefresh (logout)", s.RevokeRefresh(ctx, Digest("a2"), base))
	_, err = Rotate(s, Digest("a2"), store.RefreshToken{Digest: Digest("a3")}, base)
	WantErr(t, "RotateRefresh after logout", err, store.ErrRefreshReused)
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2"})
	NoErr(t, "RevokeRefresh again", s.RevokeRefresh(ctx, Digest("a"), base))
	if got := DeniedJTIs(t, s); len(got) != 2 {
		t.Errorf("revoking a revoked family denied again: %q", got)
	}
}

func confFeedOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	evs, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince empty", err)
	if len(evs) != 0 {
		t.Fatalf("empty store has events: %+v", evs)
	}
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "j1", ExpiresAt: base.Add(time.Hour)}, store.DeniedToken{JTI: "j2", ExpiresAt: base.Add(time.Minute)}))
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}))
	NoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", store.UserChange{NotBefore: base}))
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "j3", ExpiresAt: base.Add(time.Hour)}))
	NoErr(t, "Deny nothing", s.Deny(ctx))

	evs, err = s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	var got []string
	for i, ev := range evs {
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Errorf("sequence not increasing at %d: %d after %d", i, ev.Seq, evs[i-1].Seq)
		}
		got = append(got, ev.JTI+ev.Subject)
	}
	SameStrings(t, "feed", got, []string{"j1", "j2", "alice", "j3"})
	confSameTime(t, "j2 ExpiresAt", evs[1].ExpiresAt, base.Add(time.Minute))
	confSameTime(t, "alice NotBefore", evs[2].NotBefore, base)

	later, err := s.RevocationsSince(ctx, evs[1].Seq)
	NoErr(t, "RevocationsSince", err)
	if len(later) != 2 || later[0].Seq != evs[2].Seq || later[1].Seq != evs[3].Seq {
		t.Errorf("RevocationsSince(%d) = %+v, want the last two events", evs[1].Seq, later)
	}
	none, err := s.RevocationsSince(ctx, evs[3].Seq)
	NoErr(t, "RevocationsSince latest", err)
	if len(none) != 0 {
		t.Errorf("RevocationsSince(latest) = %+v, want none", none)
	}
}

func confDenyValidates(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Deny(ctx, store.DeniedToken{JTI: "ok", ExpiresAt: confBase()}, store.DeniedToken{}); err == nil {
		t.Error("Deny with an empty jti succeeded")
	}
	if jtis := DeniedJTIs(t, s); len(jtis) != 0 {
		t.Errorf("a refused Deny recorded %q", jtis)
	}
}

func confPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "kept", ExpiresAt: base.Add(time.Hour)}))
	NoErr(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "h"}))
	NoErr(t, "UpdateUser", s.UpdateUser(ctx, "alice", store.UserChange{NotBefore: base.Add(-48 * time.Hour)}))
	// The newest event is the one that expires, so that pruning removes the
	// highest sequence number.
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "gone", ExpiresAt: base.Add(-time.Minute)}))
	before, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	maxSeq := before[len(before)-1].Seq

	// Creating a refresh token at base prunes what expired before it;
	// subject events stay however old.
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	evs, err := s.RevocationsSince(ctx, 0)
	NoErr(t, "RevocationsSince", err)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.JTI+ev.Subject)
	}
	SameStrings(t, "feed after pruning", got, []string{"kept", "alice"})

	// Sequence numbers are never reused: a reader that saw maxSeq must see
	// the next event.
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "new", ExpiresAt: base.Add(time.Hour)}))
	evs, err = s.RevocationsSince(ctx, maxSeq)
	NoErr(t, "RevocationsSince", err)
	if len(evs) != 1 || evs[0].JTI != "new" || evs[0].Seq <= maxSeq {
		t.Errorf("after pruning, RevocationsSince(%d) = %+v, want the new event", maxSeq, evs)
	}
}

// confClientEvents returns the feed's client events as "id@notBefore".
func confClientEvents(t *testing.T, s store.Store) []string {
	t.Helper()
	evs, err := s.RevocationsSince(context.Background(), 0)
	NoErr(t, "RevocationsSince", err)
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

func confClientUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	WantErr(t, "UpdateClient unknown", s.UpdateClient(ctx, "nope", store.ClientChange{SecretHash: "h", IfSecretHash: "x"}), store.ErrNotFound)
	NoErr(t, "CreateClient", s.CreateClient(ctx, store.Client{ID: "svc", SecretHash: "old", Scopes: []string{"b", "a"}, CreatedAt: base}))

	// A new secret alone (a rotation that keeps the client's tokens).
	NoErr(t, "UpdateClient secret", s.UpdateClient(ctx, "svc", store.ClientChange{SecretHash: "new", IfSecretHash: "old"}))
	got, err := s.Client(ctx, "svc")
	NoErr(t, "Client", err)
	if got.SecretHash != "new" || !got.NotBefore.IsZero() {
		t.Errorf("after UpdateClient: %+v", got)
	}
	SameStrings(t, "Scopes (kept)", got.Scopes, []string{"a", "b"})
	confSameTime(t, "CreatedAt (kept)", got.CreatedAt, base)
	if evs := confClientEvents(t, s); len(evs) != 0 {
		t.Errorf("a secret change without not-before fed %q", evs)
	}

	// A rotation that ends the client's tokens.
	nb := base.Add(time.Minute)
	NoErr(t, "UpdateClient not-before", s.UpdateClient(ctx, "svc", store.ClientChange{SecretHash: "newer", IfSecretHash: "new", NotBefore: nb}))
	// A later update without a not-before must not move it back.
	NoErr(t, "UpdateClient without not-before", s.UpdateClient(ctx, "svc", store.ClientChange{SecretHash: "newest", IfSecretHash: "newer"}))
	// A rotation from a stale read of the secret changes nothing.
	WantErr(t, "UpdateClient stale secret", s.UpdateClient(ctx, "svc",
		store.ClientChange{SecretHash: "lost", IfSecretHash: "newer", NotBefore: nb.Add(time.Minute)}), store.ErrSecretRotatedMeanwhile)
	got, err = s.Client(ctx, "svc")
	NoErr(t, "Client", err)
	confSameTime(t, "NotBefore (never moves back)", got.NotBefore, nb)
	if got.SecretHash != "newest" {
		t.Errorf("SecretHash = %q, want newest", got.SecretHash)
	}
	SameStrings(t, "Scopes (kept)", got.Scopes, []string{"a", "b"})
	SameStrings(t, "client events", confClientEvents(t, s), []string{"svc@" + nb.UTC().Format(time.RFC3339Nano)})
}

func confClientDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	WantErr(t, "DeleteClient unknown", s.DeleteClient(ctx, "nope", base), store.ErrNotFound)
	NoErr(t, "CreateClient web", s.CreateClient(ctx, store.Client{ID: "web", SecretHash: "h"}))
	NoErr(t, "CreateClient other", s.CreateClient(ctx, store.Client{ID: "other", SecretHash: "h"}))
	// Two sessions bound to web (one rotated once), one to another client.
	NoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, Family("a", base)))
	_, err := Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("a2"),
		AccessJTIs: []store.DeniedToken{{JTI: "jti-a2", ExpiresAt: base.Add(time.Hour)}}}, base)
	NoErr(t, "RotateRefresh a", err)
	NoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, Family("b", base)))
	other := Family("o", base)
	other.ClientID = "other"
	NoErr(t, "CreateRefresh o", s.CreateRefresh(ctx, other))

	at := base.Add(time.Minute)
	NoErr(t, "DeleteClient", s.DeleteClient(ctx, "web", at))
	_, err = s.Client(ctx, "web")
	WantErr(t, "Client after delete", err, store.ErrNotFound)
	SameStrings(t, "client events", confClientEvents(t, s), []string{"web@" + at.UTC().Format(time.RFC3339Nano)})
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2", "jti-b"})
	for _, d := range []string{"a2", "b"} {
		_, err = Rotate(s, Digest(d), store.RefreshToken{Digest: Digest(d + "-next")}, at)
		WantErr(t, "RotateRefresh of the removed client's session "+d, err, store.ErrRefreshReused)
	}
	_, err = Rotate(s, Digest("o"), store.RefreshToken{Digest: Digest("o2")}, at)
	NoErr(t, "RotateRefresh of another client's session", err)
	WantErr(t, "DeleteClient again", s.DeleteClient(ctx, "web", at), store.ErrNotFound)
	// The id is free again; the new client starts with no sessions.
	NoErr(t, "CreateClient web again", s.CreateClient(ctx, store.Client{ID: "web", SecretHash: "h2"}))
}

// RetryRotation is a rotation of old into next with a grace period and a
// sealed value.
func RetryRotation(old, next string, now time.Time, grace time.Duration) store.RefreshRotation {
	return store.RefreshRotation{
		Old: Digest(old),
		Next: store.RefreshToken{Digest: Digest(next),
			AccessJTIs: []store.DeniedToken{{JTI: "jti-" + next, ExpiresAt: now.Add(15 * time.Minute)}}},
		Now: now, Grace: grace, Sealed: []byte("sealed " + next),
	}
}

func confRetryWithinGrace(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	const grace = 10 * time.Second
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	first, err := s.RotateRefresh(ctx, RetryRotation("a", "a2", base, grace))
	NoErr(t, "RotateRefresh", err)
	if first.Retry || first.Sealed != nil || !slices.Equal(first.Token.Digest, Digest("a2")) {
		t.Fatalf("first rotation = %+v, want a2 stored, no retry", first)
	}
	// The client lost the answer and presents a again, just within the
	// grace period; its would-be new successor is not stored.
	again, err := s.RotateRefresh(ctx, RetryRotation("a", "a2-retry", base.Add(grace-time.Millisecond), grace))
	NoErr(t, "RotateRefresh retry", err)
	if !again.Retry || string(again.Sealed) != "sealed a2" || !slices.Equal(again.Token.Digest, Digest("a2")) {
		t.Fatalf("retry = %+v, want a2 again with its sealed value", again)
	}
	if again.Token.Subject != "alice" || again.Token.ClientID != "web" || again.Token.FamilyID != "fam-a" {
		t.Errorf("retry token = %+v, want the family's", again.Token)
	}
	if len(again.Token.AccessJTIs) != 1 || again.Token.AccessJTIs[0].JTI != "jti-a2" {
		t.Errorf("retry token's access tokens = %+v, want jti-a2", again.Token.AccessJTIs)
	}
	_, err = Rotate(s, Digest("a2-retry"), store.RefreshToken{Digest: Digest("x")}, base)
	WantErr(t, "RotateRefresh of the retry's discarded successor", err, store.ErrNotFound)
	if jtis := DeniedJTIs(t, s); len(jtis) != 0 {
		t.Fatalf("a retry denied %q", jtis)
	}
	// At the end of the grace period it is reuse again.
	_, err = s.RotateRefresh(ctx, RetryRotation("a", "a3", base.Add(grace), grace))
	WantErr(t, "RotateRefresh after the grace period", err, store.ErrRefreshReused)
	_, err = Rotate(s, Digest("a2"), store.RefreshToken{Digest: Digest("a4")}, base)
	WantErr(t, "RotateRefresh of the successor after reuse", err, store.ErrRefreshReused)
}

func confRetryOlderGeneration(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	const grace = time.Minute
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	_, err := s.RotateRefresh(ctx, RetryRotation("a", "a2", base, grace))
	NoErr(t, "RotateRefresh a", err)
	_, err = s.RotateRefresh(ctx, RetryRotation("a2", "a3", base.Add(time.Second), grace))
	NoErr(t, "RotateRefresh a2", err)
	// a2 immediately precedes the live a3: a retry.
	r, err := s.RotateRefresh(ctx, RetryRotation("a2", "x", base.Add(2*time.Second), grace))
	NoErr(t, "retry of a2", err)
	if !r.Retry || !slices.Equal(r.Token.Digest, Digest("a3")) {
		t.Fatalf("retry of a2 = %+v, want a3", r)
	}
	// a is two generations old: reuse, however recent (django-oauth-toolkit
	// #1617).
	_, err = s.RotateRefresh(ctx, RetryRotation("a", "y", base.Add(2*time.Second), grace))
	WantErr(t, "retry of a", err, store.ErrRefreshReused)
	_, err = s.RotateRefresh(ctx, RetryRotation("a2", "z", base.Add(3*time.Second), grace))
	WantErr(t, "retry of a2 after reuse", err, store.ErrRefreshReused)
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied", jtis, []string{"jti-a", "jti-a2", "jti-a3"})
}

func confRetryNeedsLiveSealedSuccessor(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	const grace = time.Minute
	// Rotated without a sealed value (the grace period was 0 then).
	NoErr(t, "CreateRefresh a", s.CreateRefresh(ctx, Family("a", base)))
	_, err := Rotate(s, Digest("a"), store.RefreshToken{Digest: Digest("a2")}, base)
	NoErr(t, "RotateRefresh a", err)
	_, err = s.RotateRefresh(ctx, RetryRotation("a", "a3", base, grace))
	WantErr(t, "retry without sealed value", err, store.ErrRefreshReused)

	// Logged out (family revoked) between the rotation and the retry.
	NoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, Family("b", base)))
	_, err = s.RotateRefresh(ctx, RetryRotation("b", "b2", base, grace))
	NoErr(t, "RotateRefresh b", err)
	NoErr(t, "RevokeRefresh b2", s.RevokeRefresh(ctx, Digest("b2"), base))
	_, err = s.RotateRefresh(ctx, RetryRotation("b", "b3", base, grace))
	WantErr(t, "retry after logout", err, store.ErrRefreshReused)

	// A retry with no grace period is reuse.
	NoErr(t, "CreateRefresh c", s.CreateRefresh(ctx, Family("c", base)))
	_, err = s.RotateRefresh(ctx, RetryRotation("c", "c2", base, grace))
	NoErr(t, "RotateRefresh c", err)
	_, err = s.RotateRefresh(ctx, RetryRotation("c", "c3", base, 0))
	WantErr(t, "retry without grace", err, store.ErrRefreshReused)
}

func confConcurrentRetries(t *testing.T, s store.Store) {
	RaceRetries(t, s)
}

// RaceRetries presents one token 20 times at once with a grace period,
// spreading the calls over stores (instances sharing one database, or just
// one store): one call rotates, every other is answered as a retry with
// the same successor and the winner's sealed value, and nothing is denied.
func RaceRetries(t *testing.T, stores ...store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateRefresh", stores[0].CreateRefresh(ctx, Family("a", base)))
	const n = 20
	results := make([]store.RefreshRotated, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.RotateRefresh(ctx, RetryRotation("a", fmt.Sprint("next-", i), base, time.Minute))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		NoErr(t, fmt.Sprintf("rotation %d", i), err)
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
	want := Digest(fmt.Sprint("next-", winner))
	for i, r := range results {
		if !slices.Equal(r.Token.Digest, want) {
			t.Errorf("call %d got another successor than the winner %d", i, winner)
		}
		if i != winner && string(r.Sealed) != fmt.Sprint("sealed next-", winner) {
			t.Errorf("retry %d got sealed %q, want the winner's", i, r.Sealed)
		}
	}
	if jtis := DeniedJTIs(t, stores[0]); len(jtis) != 0 {
		t.Errorf("retries within the grace period denied %q", jtis)
	}
}

func confPruneKeepsLeeway(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	// A token that expired 30 s ago is still accepted by a verifier with
	// a leeway of up to MaxLeeway: its denial must survive pruning.
	within := base.Add(-store.MaxLeeway / 2)
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "within-leeway", ExpiresAt: within}))
	NoErr(t, "Deny", s.Deny(ctx, store.DeniedToken{JTI: "beyond-leeway", ExpiresAt: base.Add(-store.MaxLeeway - time.Second)}))
	// Pruning happens on the next refresh token write.
	NoErr(t, "CreateRefresh", s.CreateRefresh(ctx, Family("a", base)))
	SameStrings(t, "denied after pruning", DeniedJTIs(t, s), []string{"within-leeway"})

	// Revoking a family denies its access tokens that are expired but
	// within the leeway too.
	fam := Family("b", base.Add(-time.Hour))
	fam.AccessJTIs = []store.DeniedToken{
		{JTI: "b-within", ExpiresAt: within},
		{JTI: "b-beyond", ExpiresAt: base.Add(-store.MaxLeeway - time.Second)},
	}
	NoErr(t, "CreateRefresh b", s.CreateRefresh(ctx, fam))
	NoErr(t, "RevokeRefresh b", s.RevokeRefresh(ctx, fam.Digest, base))
	jtis := DeniedJTIs(t, s)
	slices.Sort(jtis)
	SameStrings(t, "denied after revoking", jtis, []string{"b-within", "within-leeway"})
}
