package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Benchmark measures the store calls of the hot paths on s, which it
// closes: RotateRefresh (the refresh grant) and User (the password grant
// and Basic), one caller and several in parallel, each parallel caller on
// its own session. Each backend's BenchmarkStore calls it; run them in one
// go test to compare them.
func Benchmark(b *testing.B, s store.Store) {
	ctx := context.Background()
	defer s.Close()
	if err := s.CreateUser(ctx, store.User{Username: "alice", PasswordHash: "$argon2id$x", Scopes: []string{"read"}}); err != nil {
		b.Fatal(err)
	}
	var chain sync.Mutex
	chains := 0
	// rotate returns a function that rotates its own new session
	// once per call.
	rotate := func(b *testing.B) func() {
		chain.Lock()
		chains++
		name := fmt.Sprint("bench-", chains)
		chain.Unlock()
		now := time.Now()
		if err := s.CreateRefresh(ctx, Family(name, now)); err != nil {
			b.Fatal(err)
		}
		cur := Digest(name)
		i := 0
		return func() {
			i++
			next := Digest(fmt.Sprint(name, "-", i))
			_, err := Rotate(s, cur, store.RefreshToken{Digest: next,
				AccessJTIs: []store.DeniedToken{{JTI: fmt.Sprint(name, "-", i), ExpiresAt: now.Add(time.Hour)}}}, now)
			if err != nil {
				b.Error(err)
			}
			cur = next
		}
	}
	b.Run("RotateRefresh", func(b *testing.B) {
		step := rotate(b)
		for b.Loop() {
			step()
		}
	})
	b.Run("RotateRefreshParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			step := rotate(b)
			for pb.Next() {
				step()
			}
		})
	})
	b.Run("User", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.User(ctx, "alice"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UserParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.User(ctx, "alice"); err != nil {
					b.Error(err)
				}
			}
		})
	})
}
