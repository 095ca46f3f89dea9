// Package redistest connects tests to the Redis they run against: the one
// of GATEHOUSE_TEST_REDIS_URL, by default the local one. Each test keeps
// its keys under a key prefix of its own, whose keys are deleted after
// it. Only tests import it.
package redistest

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

// URLVar names the variable of the test Redis's URL; DefaultURL is the
// one used when it is not set.
const (
	URLVar     = "GATEHOUSE_TEST_REDIS_URL"
	DefaultURL = "redis://127.0.0.1:6379/0"
)

// URL returns the URL of the test Redis, skipping (or under
// GATEHOUSE_REQUIRE_SERVICES=1 failing) the test when it does not answer.
func URL(tb testing.TB) string {
	tb.Helper()
	Options(tb)
	return url()
}

func url() string {
	if u := os.Getenv(URLVar); u != "" {
		return u
	}
	return DefaultURL
}

// Options returns the options of the test Redis, skipping (or under
// GATEHOUSE_REQUIRE_SERVICES=1 failing) the test when it does not answer.
func Options(tb testing.TB) *redis.Options {
	tb.Helper()
	url := url()
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("%s: %v", URLVar, err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		storetest.Unreachable(tb, "Redis", URLVar, store.RedactURL("REDIS_URL", url), err)
	}
	return opts
}

// Prefix returns a new key prefix whose keys are deleted, through a
// client of opts, when the test ends.
func Prefix(tb testing.TB, opts *redis.Options) string {
	tb.Helper()
	prefix := "gatehouse-test-" + strings.ToLower(rand.Text()[:16])
	tb.Cleanup(func() {
		client := redis.NewClient(opts)
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := client.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Errorf("delete test key %q: %v", iter.Val(), err)
				return
			}
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("delete the test keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// Client returns a client of the test Redis, closed when the test ends,
// and a key prefix of the test's own.
func Client(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	opts := Options(tb)
	client := redis.NewClient(opts)
	tb.Cleanup(func() { client.Close() })
	return client, Prefix(tb, opts)
}

// ClosedPort returns an address where nothing listens.
func ClosedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Silent listens where a Redis would, accepts connections and never
// answers on them: the worst Redis, one that hangs rather than refuses.
// It returns its address.
func Silent(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}
