package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/sqlite"
)

// The benchmarks of the store behind the token endpoint and the guard:
// SQLite against PostgreSQL (and the memory store for the guard), in
// process, with the smallest argon2id cost (newTestService's), so that the
// store is what is measured. The PostgreSQL ones skip without it, naming
// GATEHOUSE_TEST_DATABASE_URL. Run them with
//
//	go test -run '^$' -bench 'Store(Token|Refresh|Protected)' ./internal/auth/

// bsStores are the stores compared, each opened for b.
var bsStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"sqlite", func(b *testing.B) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
	{"postgres", func(b *testing.B) store.Store { return openTestPostgres(b) }},
}

// bsPost sends form values to the token endpoint from addr and returns the
// status and the decoded body. It is safe to call from any goroutine.
func bsPost(f *epFixture, addr string, form url.Values) (int, map[string]any) {
	r := httptest.NewRequest(http.MethodPost, f.svc.TokenPath(), strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr + ":4444"
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m
}

func bsLogin(f *epFixture, user, addr string) (int, map[string]any) {
	return bsPost(f, addr, url.Values{"grant_type": {"password"}, "username": {user}, "password": {epPassword}})
}

func bsRefresh(f *epFixture, rt string) (int, map[string]any) {
	return bsPost(f, "192.0.2.1", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// bsSessions creates n users, each logged in once from an address of its
// own, and returns their refresh tokens.
func bsSessions(b *testing.B, f *epFixture, n int) []string {
	b.Helper()
	rts := make([]string, n)
	for i := range n {
		user := fmt.Sprint("user", i)
		f.addUser(user)
		status, body := bsLogin(f, user, fmt.Sprintf("10.%d.%d.1", i>>8&255, i&255))
		if status != 200 {
			b.Fatalf("login %s: %d %v", user, status, body)
		}
		rts[i] = body["refresh_token"].(string)
	}
	return rts
}

// bsQuiet discards the service's log: the fixture's keeps every line in
// memory, which would grow with b.N and be measured too.
func bsQuiet(o *Options) { o.Logger = slog.New(slog.DiscardHandler) }

// bsParallel is how many goroutines per GOMAXPROCS the throughput
// benchmarks run: a store round trip waits on the network, not the CPU.
const bsParallel = 4

// BenchmarkStoreTokenRefreshGrant is the refresh grant's throughput: each
// goroutine rotates a session of its own.
func BenchmarkStoreTokenRefreshGrant(b *testing.B) {
	for _, st := range bsStores {
		b.Run(st.name, func(b *testing.B) {
			f := epSetupOn(b, st.open(b), nil, bsQuiet)
			var next atomic.Int64
			rts := bsSessions(b, f, 64)
			b.SetParallelism(bsParallel)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rt := rts[next.Add(1)-1]
				for pb.Next() {
					status, body := bsRefresh(f, rt)
					if status != 200 {
						b.Errorf("refresh: %d %v", status, body)
						return
					}
					rt = body["refresh_token"].(string)
				}
			})
		})
	}
}

// BenchmarkStoreTokenPasswordGrant is the password grant's throughput with
// the smallest argon2id cost: each goroutine logs a user of its own in,
// from an address of its own (the throttle allows one attempt in flight
// per pair).
func BenchmarkStoreTokenPasswordGrant(b *testing.B) {
	for _, st := range bsStores {
		b.Run(st.name, func(b *testing.B) {
			f := epSetupOn(b, st.open(b), nil, bsQuiet)
			var next atomic.Int64
			bsSessions(b, f, 64)
			b.SetParallelism(bsParallel)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(1) - 1
				user, addr := fmt.Sprint("user", i), fmt.Sprintf("10.%d.%d.1", i>>8&255, i&255)
				for pb.Next() {
					if status, body := bsLogin(f, user, addr); status != 200 {
						b.Errorf("login: %d %v", status, body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStoreRefresh50Concurrent runs 50 refreshers at once, each on a
// session of its own, and reports the latency of a refresh: median and
// 99th percentile, in milliseconds.
func BenchmarkStoreRefresh50Concurrent(b *testing.B) {
	const n = 50
	for _, st := range bsStores {
		b.Run(st.name, func(b *testing.B) {
			f := epSetupOn(b, st.open(b), nil, bsQuiet)
			rts := bsSessions(b, f, n)
			lat := make([][]time.Duration, n)
			per := max(1, b.N/n)
			var wg sync.WaitGroup
			b.ResetTimer()
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rt := rts[i]
					for range per {
						t0 := time.Now()
						status, body := bsRefresh(f, rt)
						lat[i] = append(lat[i], time.Since(t0))
						if status != 200 {
							b.Errorf("refresh: %d %v", status, body)
							return
						}
						rt = body["refresh_token"].(string)
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			ms := func(q float64) float64 {
				return float64(all[min(len(all)-1, int(q*float64(len(all))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
		})
	}
}

// BenchmarkStoreProtectedRequest is the cost of a protected request
// through the service's guard, with the revocation feed of the store
// running (a token denied by another instance is refused): the check is
// in memory, so the cost does not depend on the store. With PostgreSQL it
// also reports the pool's acquisitions per request: only the feed's poll
// acquires, about one a second, none per request.
func BenchmarkStoreProtectedRequest(b *testing.B) {
	stores := append([]struct {
		name string
		open func(b *testing.B) store.Store
	}{{"memory", func(*testing.B) store.Store { return memory.New() }}}, bsStores...)
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			f := epSetupOn(b, store, nil, bsQuiet)
			f.addUser("alice")
			_, body := bsLogin(f, "alice", "192.0.2.9")
			at, _ := body["access_token"].(string)
			req := httptest.NewRequest(http.MethodGet, "/me", nil)
			req.Header.Set("Authorization", "Bearer "+at)
			w := &bmWriter{header: http.Header{}}
			f.h.ServeHTTP(w, req)
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			pg, _ := store.(*postgres.Store)
			var acquired int64
			if pg != nil {
				acquired = pg.Stat().AcquireCount()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				clear(w.header)
				f.h.ServeHTTP(w, req)
			}
			b.StopTimer()
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			if pg != nil {
				b.ReportMetric(float64(pg.Stat().AcquireCount()-acquired)/float64(b.N), "store-acquires/op")
			}
		})
	}
}
