package auth

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// One client address (IPv6 by its /64) cannot hold more than its share of
// started logins, so it cannot fill the table and keep others from logging
// in; a taken or expired login frees its place.
func TestLoginStatesBoundedPerAddress(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	s := &loginStates{m: map[string]loginState{}, perAddr: map[string]int{}}
	put := func(key, addr string, at time.Time) error {
		return s.put(key, loginState{addr: loginAddrKey(addr), expires: at.Add(10 * time.Minute)}, at)
	}
	for i := range maxLoginStatesPerAddress {
		// Addresses of one /64 count as one.
		if err := put(fmt.Sprint("a", i), fmt.Sprintf("2001:db8:1:2::%x", i+1), now); err != nil {
			t.Fatalf("login %d of one address: %v", i, err)
		}
	}
	if err := put("a-extra", "2001:db8:1:2:ffff::9", now); !errors.Is(err, errLoginsFromAddress) {
		t.Fatalf("one more from the same /64: %v, want errLoginsFromAddress", err)
	}
	if err := put("b", "2001:db8:1:3::1", now); err != nil {
		t.Fatalf("another /64: %v", err)
	}
	if err := put("c", "192.0.2.7", now); err != nil {
		t.Fatalf("an IPv4 address: %v", err)
	}
	if _, ok := s.take("a0", now); !ok {
		t.Fatal("take a0")
	}
	if err := put("a-after-take", "2001:db8:1:2::1", now); err != nil {
		t.Fatalf("after one was taken: %v", err)
	}
	later := now.Add(11 * time.Minute)
	if err := put("a-after-expiry", "2001:db8:1:2::1", later); err != nil {
		t.Fatalf("after the others expired: %v", err)
	}
	if n := s.perAddr[loginAddrKey("2001:db8:1:2::1")]; n != 1 {
		t.Errorf("live logins of the /64 after the sweep: %d, want 1", n)
	}
	if len(s.m) != 1 {
		t.Errorf("states after the sweep: %d, want 1", len(s.m))
	}
}
