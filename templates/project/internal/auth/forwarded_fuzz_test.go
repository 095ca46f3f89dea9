package auth

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// FuzzClientAddr gives arbitrary TRUSTED_PROXIES values, peer addresses and
// X-Forwarded-For headers to the configuration and to ClientAddr, which
// throttling and logs rely on. TRUSTED_PROXIES loads as masked prefixes or
// is refused with an error naming it; ClientAddr never panics; a peer that
// is not a trusted proxy is the client whatever X-Forwarded-For says; and
// the client is always the peer or an address of X-Forwarded-For, never one
// nobody sent.
func FuzzClientAddr(f *testing.F) {
	for _, seed := range [][3]string{
		{"10.0.0.0/8", "10.1.2.3:5000", "203.0.113.7, 10.0.0.9"},
		{"10.0.0.0/8", "198.51.100.1:1", "203.0.113.7"},
		{"::1, 192.168.1.7", "[::1]:80", "[2001:db8::1]:443, 192.168.1.7"},
		{"10.0.0.0/8", "10.1.2.3:5000", "not-an-ip, 10.0.0.9"},
		{"0.0.0.0/0, ::/0", "1.2.3.4:1", "::ffff:1.2.3.4,,"},
		{"fe80::/10", "[fe80::1%eth0]:80", "fe80::2%eth1"},
		{"10.0.0.0/33", "10.0.0.1:1", ""},
		{"10.0.0.1, 10.0.0.1/32", "10.0.0.1:1", "10.0.0.1"},
		{"", "not an address", "1.1.1.1"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, proxies, remote, forwarded string) {
		cfg, err := LoadConfig(cfLookup(map[string]string{"JWT_SECRET": cfSecret, "TRUSTED_PROXIES": proxies}))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "TRUSTED_PROXIES: ") {
				t.Fatalf("TRUSTED_PROXIES=%q: the error does not name it: %v", proxies, err)
			}
			return
		}
		for _, p := range cfg.TrustedProxies {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("TRUSTED_PROXIES=%q gave the prefix %v", proxies, p)
			}
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if forwarded != "" {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		got := cfg.ClientAddr(r)

		peer := remote
		if host, _, err := net.SplitHostPort(remote); err == nil {
			peer = host
		}
		addr, err := netip.ParseAddr(peer)
		if err != nil {
			if got != peer {
				t.Fatalf("peer %q is no address: client %q, want the peer as given", remote, got)
			}
			return
		}
		addr = addr.Unmap().WithZone("")
		if !cfg.trustedProxy(addr) {
			if got != addr.String() {
				t.Fatalf("untrusted peer %q with X-Forwarded-For %q: client %q, want the peer", remote, forwarded, got)
			}
			return
		}
		sent := []string{addr.String()}
		for _, hop := range strings.Split(forwarded, ",") {
			if a, err := parseForwardedAddr(hop); err == nil {
				sent = append(sent, a.String())
			}
		}
		if !slices.Contains(sent, got) {
			t.Fatalf("peer %q, X-Forwarded-For %q: client %q was sent by nobody", remote, forwarded, got)
		}
	})
}
