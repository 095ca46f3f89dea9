package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// confLoginStates is the conformance suite's part for started provider
// logins: every store implements LoginStateStore, keeps every field,
// gives each state once (also to concurrent takers), never returns an
// expired one, and holds each address to MaxLoginStatesPerAddress live
// states, also when its starts race.
func confLoginStates(t *testing.T, s store.Store) {
	ls, ok := s.(store.LoginStateStore)
	if !ok {
		t.Fatalf("%T does not implement LoginStateStore", s)
	}
	ctx := context.Background()
	now := confBase()
	ttl := 10 * time.Minute
	state := func(addr string) store.LoginState {
		return store.LoginState{Provider: "google", Addr: addr, Binding: Digest("cookie " + addr), Verifier: "verifier-" + addr,
			Nonce: "nonce", ReturnTo: "https://app.example/after?x=1", Expires: now.Add(ttl)}
	}

	// Fields round-trip, and a state is taken once.
	in := state("192.0.2.1")
	NoErr(t, "PutLoginState", ls.PutLoginState(ctx, Digest("s1"), in, now))
	if err := ls.PutLoginState(ctx, Digest("s1"), state("192.0.2.2"), now); !errors.Is(err, store.ErrExists) {
		t.Errorf("a second state under one key: %v, want ErrExists", err)
	}
	got, err := ls.TakeLoginState(ctx, Digest("s1"), now)
	NoErr(t, "TakeLoginState", err)
	if got.Provider != in.Provider || got.Addr != in.Addr || !bytes.Equal(got.Binding, in.Binding) ||
		got.Verifier != in.Verifier || got.Nonce != in.Nonce || got.ReturnTo != in.ReturnTo {
		t.Errorf("TakeLoginState = %+v, want %+v", got, in)
	}
	confSameTime(t, "Expires", got.Expires, in.Expires)
	if _, err := ls.TakeLoginState(ctx, Digest("s1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second take: %v, want ErrNotFound", err)
	}
	if _, err := ls.TakeLoginState(ctx, Digest("unknown"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("take of an unknown state: %v, want ErrNotFound", err)
	}
	for name, bad := range map[string]func() ([]byte, store.LoginState){
		"short key": func() ([]byte, store.LoginState) { return []byte("raw state"), state("192.0.2.3") },
		"short binding": func() ([]byte, store.LoginState) {
			st := state("192.0.2.3")
			st.Binding = []byte("x")
			return Digest("b"), st
		},
		"no verifier": func() ([]byte, store.LoginState) { st := state("192.0.2.3"); st.Verifier = ""; return Digest("b"), st },
		"no expiry": func() ([]byte, store.LoginState) {
			st := state("192.0.2.3")
			st.Expires = time.Time{}
			return Digest("b"), st
		},
		"NUL in nonce": func() ([]byte, store.LoginState) {
			st := state("192.0.2.3")
			st.Nonce = "a\x00b"
			return Digest("b"), st
		},
		"invalid UTF-8 ": func() ([]byte, store.LoginState) {
			st := state("192.0.2.3")
			st.ReturnTo = "\xff"
			return Digest("b"), st
		},
	} {
		k, st := bad()
		if err := ls.PutLoginState(ctx, k, st, now); err == nil {
			t.Errorf("a state with %s was stored", name)
		}
	}

	// An expired state is not returned, and is gone.
	NoErr(t, "PutLoginState", ls.PutLoginState(ctx, Digest("s2"), state("192.0.2.4"), now))
	if _, err := ls.TakeLoginState(ctx, Digest("s2"), now.Add(ttl)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("take at expiry: %v, want ErrNotFound", err)
	}
	if _, err := ls.TakeLoginState(ctx, Digest("s2"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired state was kept after a take: %v, want ErrNotFound", err)
	}

	// The per-address cap: taken and expired states free their places;
	// other addresses are not affected.
	const addr = "2001:db8:1:2::/64"
	max := store.MaxLoginStatesPerAddress
	for i := range max {
		NoErr(t, "PutLoginState", ls.PutLoginState(ctx, Digest(fmt.Sprint("a", i)), state(addr), now))
	}
	if err := ls.PutLoginState(ctx, Digest("a-extra"), state(addr), now); !errors.Is(err, store.ErrTooManyLogins) {
		t.Fatalf("state %d of one address: %v, want ErrTooManyLogins", max+1, err)
	}
	NoErr(t, "PutLoginState of another address", ls.PutLoginState(ctx, Digest("b"), state("192.0.2.5"), now))
	_, err = ls.TakeLoginState(ctx, Digest("a0"), now)
	NoErr(t, "TakeLoginState", err)
	NoErr(t, "PutLoginState after a take", ls.PutLoginState(ctx, Digest("a-after-take"), state(addr), now))
	later := now.Add(ttl + time.Second)
	laterState := state(addr)
	laterState.Expires = later.Add(ttl)
	for i := range max {
		NoErr(t, "PutLoginState after expiry", ls.PutLoginState(ctx, Digest(fmt.Sprint("later", i)), laterState, later))
	}
	if err := ls.PutLoginState(ctx, Digest("later-extra"), laterState, later); !errors.Is(err, store.ErrTooManyLogins) {
		t.Errorf("after expiry, state %d of one address: %v, want ErrTooManyLogins", max+1, err)
	}
	if _, err := ls.TakeLoginState(ctx, Digest("a1"), now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a state expired before a later put was kept: %v, want ErrNotFound", err)
	}

	// Concurrency: of many takes of one state exactly one gets it, and
	// racing starts of one address stop at the cap.
	const n = 16
	NoErr(t, "PutLoginState", ls.PutLoginState(ctx, Digest("race"), state("192.0.2.6"), now))
	var (
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		taken, refused, errs int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ls.TakeLoginState(ctx, Digest("race"), now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("concurrent take: %v", err)
			}
		}()
	}
	wg.Wait()
	if taken != 1 {
		t.Errorf("%d of %d concurrent takes of one state got it, want 1", taken, n)
	}
	taken = 0
	for i := range 2 * max {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := ls.PutLoginState(ctx, Digest(fmt.Sprint("flood", i)), state("198.51.100.7"), now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken++
			case errors.Is(err, store.ErrTooManyLogins):
				refused++
			default:
				errs++
				t.Errorf("concurrent put: %v", err)
			}
		}()
	}
	wg.Wait()
	if taken != max || refused != max {
		t.Errorf("of %d concurrent starts of one address %d were stored and %d refused, want %d and %d", 2*max, taken, refused, max, max)
	}
}
