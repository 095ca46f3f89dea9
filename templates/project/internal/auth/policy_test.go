package auth

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

func TestPrincipalHasScopeInAnyOrder(t *testing.T) {
	for _, scopes := range [][]string{
		{"admin", "read", "write"},
		{"write", "read", "admin"},
		{"read", "write", "admin"},
	} {
		p := &Principal{Subject: "alice", Scopes: scopes}
		for _, s := range scopes {
			if !p.HasScope(s) {
				t.Errorf("scopes %q: HasScope(%q) is false", scopes, s)
			}
		}
		for _, s := range []string{"", "rea", "reads", "delete"} {
			if p.HasScope(s) {
				t.Errorf("scopes %q: HasScope(%q) is true", scopes, s)
			}
		}
	}
	if (&Principal{}).HasScope("read") {
		t.Error("a principal without scopes has one")
	}
}

// BenchmarkPrincipalHasScope looks up the last of n sorted scopes, the worst
// case of the linear scan; binary search is the reference.
func BenchmarkPrincipalHasScope(b *testing.B) {
	for _, n := range []int{2, 8, 32} {
		scopes := make([]string, n)
		for i := range scopes {
			scopes[i] = fmt.Sprintf("service:resource%02d:read", i)
		}
		p := &Principal{Subject: "alice", Scopes: scopes}
		last := scopes[n-1]
		b.Run(fmt.Sprintf("linear/%d", n), func(b *testing.B) {
			for b.Loop() {
				if !p.HasScope(last) {
					b.Fatal("not found")
				}
			}
		})
		b.Run(fmt.Sprintf("binary/%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, ok := slices.BinarySearch(p.Scopes, last); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}

// A principal made for a test holds its scopes as the guard attaches them,
// sorted and without repeats, and is what PrincipalFrom returns from a
// context carrying it; the caller's slice is left as it was.
func TestNewPrincipal(t *testing.T) {
	scopes := []string{"write", "admin", "read", "admin"}
	p := NewPrincipal("alice", scopes...)
	if p.Subject != "alice" || !slices.Equal(p.Scopes, []string{"admin", "read", "write"}) {
		t.Fatalf("NewPrincipal = %+v, want alice with [admin read write]", p)
	}
	if !slices.Equal(scopes, []string{"write", "admin", "read", "admin"}) {
		t.Errorf("the caller's scopes became %v", scopes)
	}
	got, ok := PrincipalFrom(WithPrincipal(context.Background(), p))
	if !ok || got != p {
		t.Errorf("PrincipalFrom(WithPrincipal(p)) = %v, %v; want p, true", got, ok)
	}
}
