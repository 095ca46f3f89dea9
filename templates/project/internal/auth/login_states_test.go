package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// One client address (IPv6 by its /64) cannot hold more than its share of
// started logins, so it cannot fill the store and keep others from logging
// in. The store enforces the share (see storetest); loginAddrKey decides
// which addresses share one.
func TestLoginStatesBoundedPerAddress(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 0)
	s := memory.New()
	put := func(key, addr string) error {
		return s.PutLoginState(ctx, stateKey(key), store.LoginState{Provider: "p", Addr: loginAddrKey(addr),
			Binding: stateKey("cookie"), Verifier: "v", Expires: now.Add(10 * time.Minute)}, now)
	}
	for i := range store.MaxLoginStatesPerAddress {
		// Addresses of one /64 count as one.
		if err := put(fmt.Sprint("a", i), fmt.Sprintf("2001:db8:1:2::%x", i+1)); err != nil {
			t.Fatalf("login %d of one address: %v", i, err)
		}
	}
	if err := put("a-extra", "2001:db8:1:2:ffff::9"); !errors.Is(err, store.ErrTooManyLogins) {
		t.Fatalf("one more from the same /64: %v, want ErrTooManyLogins", err)
	}
	for _, addr := range []string{"2001:db8:1:3::1", "192.0.2.7", "::ffff:192.0.2.8", ""} {
		if err := put("other "+addr, addr); err != nil {
			t.Fatalf("address %q: %v", addr, err)
		}
	}
	if got, want := loginAddrKey("::ffff:192.0.2.8"), "192.0.2.8"; got != want {
		t.Errorf("loginAddrKey of a mapped IPv4 address = %q, want %q", got, want)
	}
}
