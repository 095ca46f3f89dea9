package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// confConcurrentClientUpdates races, on one client, rotations of its
// secret from the same read (as two admin processes would) with updates
// that only move its not-before time (a revocation): exactly one rotation
// wins and its hash is stored, and the latest not-before stands whatever
// the order, as the store's feed records it.
func confConcurrentClientUpdates(t *testing.T, s Store) {
	ctx := context.Background()
	base := confBase()
	confNoErr(t, "CreateClient", s.CreateClient(ctx, Client{ID: "svc", SecretHash: "h0", Scopes: []string{"a"}, CreatedAt: base}))
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	latest := base.Add(n * time.Second)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			h := fmt.Sprint("h", i+1)
			err := s.UpdateClient(ctx, "svc", ClientChange{SecretHash: h, IfSecretHash: "h0"})
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, h)
				mu.Unlock()
			case !errors.Is(err, ErrSecretRotatedMeanwhile):
				t.Errorf("UpdateClient %s: %v", h, err)
			}
		}()
		go func() {
			defer wg.Done()
			nb := base.Add(time.Duration(i+1) * time.Second)
			if err := s.UpdateClient(ctx, "svc", ClientChange{NotBefore: nb}); err != nil {
				t.Errorf("UpdateClient not-before %v: %v", nb, err)
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d of %d racing rotations succeeded (%v), want exactly one", len(won), n, won)
	}
	got, err := s.Client(ctx, "svc")
	confNoErr(t, "Client", err)
	if got.SecretHash != won[0] {
		t.Errorf("SecretHash = %q, want the winner's %q", got.SecretHash, won[0])
	}
	confSameTime(t, "NotBefore", got.NotBefore, latest)
	confSameStrings(t, "Scopes (kept)", got.Scopes, []string{"a"})
	evs := confClientEvents(t, s)
	if len(evs) == 0 || evs[len(evs)-1] != "svc@"+latest.UTC().Format(time.RFC3339Nano) {
		t.Errorf("client events %q: want the latest not-before last", evs)
	}
}

// clientInterleavedStore lets another process's write land just before the
// next UpdateClient, after the caller read the client and hashed.
type clientInterleavedStore struct {
	Store
	before func()
}

func (s *clientInterleavedStore) UpdateClient(ctx context.Context, id string, c ClientChange) error {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Store.UpdateClient(ctx, id, c)
}

// Two admin processes rotating one client's secret at once: the one that
// lands second fails and says so, and the secret the first handed out
// works; a rotation racing a revoking rotation does not undo the
// revocation either (it fails as well).
func TestRotateClientSecretRacingKeepsTheOtherRotation(t *testing.T) {
	ctx := context.Background()
	other := newTestAccounts(t, AccountsOptions{})
	store := &clientInterleavedStore{Store: other.store}
	a := NewAccounts(store, other.hasher, NewThrottle(ThrottleConfig{Now: other.clock.Now}), AccountsOptions{Now: other.clock.Now})
	if _, err := a.CreateClient(ctx, "partner", []string{"read"}); err != nil {
		t.Fatal(err)
	}
	for _, revoke := range []bool{false, true} {
		var otherSecret string
		store.before = func() {
			var err error
			if otherSecret, err = other.RotateClientSecret(ctx, "partner", revoke); err != nil {
				t.Error(err)
			}
		}
		before, _ := other.store.Client(ctx, "partner")
		secret, err := a.RotateClientSecret(ctx, "partner", false)
		if !errors.Is(err, ErrSecretRotatedMeanwhile) {
			t.Fatalf("rotation racing another (revoke %v): secret %q, error %v; want ErrSecretRotatedMeanwhile", revoke, secret, err)
		}
		c, err := other.store.Client(ctx, "partner")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := other.hasher.Verify(c.SecretHash, otherSecret); !ok || err != nil {
			t.Errorf("the secret of the rotation that landed first no longer works (revoke %v, %v)", revoke, err)
		}
		if revoke && !c.NotBefore.After(before.NotBefore) {
			t.Errorf("the revoking rotation's not-before was undone: %v, before %v", c.NotBefore, before.NotBefore)
		}
	}
}
