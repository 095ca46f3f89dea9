package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// confConcurrentClientUpdates races, on one client, rotations of its
// secret from the same read (as two admin processes would) with updates
// that only move its not-before time (a revocation): exactly one rotation
// wins and its hash is stored, and the latest not-before stands whatever
// the order, as the store's feed records it.
func confConcurrentClientUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := confBase()
	NoErr(t, "CreateClient", s.CreateClient(ctx, store.Client{ID: "svc", SecretHash: "h0", Scopes: []string{"a"}, CreatedAt: base}))
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
			err := s.UpdateClient(ctx, "svc", store.ClientChange{SecretHash: h, IfSecretHash: "h0"})
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, h)
				mu.Unlock()
			case !errors.Is(err, store.ErrSecretRotatedMeanwhile):
				t.Errorf("UpdateClient %s: %v", h, err)
			}
		}()
		go func() {
			defer wg.Done()
			nb := base.Add(time.Duration(i+1) * time.Second)
			if err := s.UpdateClient(ctx, "svc", store.ClientChange{NotBefore: nb}); err != nil {
				t.Errorf("UpdateClient not-before %v: %v", nb, err)
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d of %d racing rotations succeeded (%v), want exactly one", len(won), n, won)
	}
	got, err := s.Client(ctx, "svc")
	NoErr(t, "Client", err)
	if got.SecretHash != won[0] {
		t.Errorf("SecretHash = %q, want the winner's %q", got.SecretHash, won[0])
	}
	confSameTime(t, "NotBefore", got.NotBefore, latest)
	SameStrings(t, "Scopes (kept)", got.Scopes, []string{"a"})
	evs := confClientEvents(t, s)
	if len(evs) == 0 || evs[len(evs)-1] != "svc@"+latest.UTC().Format(time.RFC3339Nano) {
		t.Errorf("client events %q: want the latest not-before last", evs)
	}
}
