// Package pgtest connects tests to the PostgreSQL they run against: the
// database of GATEHOUSE_TEST_DATABASE_URL, by default the local one. Each
// test works in a schema of its own, created for it and dropped after it,
// so tests run in parallel and leave nothing behind. ProxiedConfig puts a
// storetest.Proxy between a test's store and the server, to cut or hang
// its connections as a server that is down or hung would. Only tests
// import it.
package pgtest

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

// URLVar names the variable of the test database's URL; DefaultURL is the
// one used when it is not set.
const (
	URLVar     = "GATEHOUSE_TEST_DATABASE_URL"
	DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// Config returns the configuration of a pool on a new, empty schema of
// the test database, dropped when the test ends. When the database does
// not answer, the test is skipped (see storetest.Unreachable).
func Config(tb testing.TB) *pgxpool.Config {
	tb.Helper()
	dsn := os.Getenv(URLVar)
	if dsn == "" {
		dsn = DefaultURL
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", URLVar, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		storetest.Unreachable(tb, "PostgreSQL", URLVar, store.RedactURL("DATABASE_URL", dsn), err)
	}
	defer conn.Close(ctx)
	schema := "gatehouse_test_" + strings.ToLower(rand.Text()[:16])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	admin := cfg.ConnConfig.Copy() // the caller may change cfg
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, admin)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			conn.Close(ctx)
		}
		if err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// ProxiedConfig is Config with every connection going through a new
// proxy.
func ProxiedConfig(tb testing.TB) (*pgxpool.Config, *storetest.Proxy) {
	tb.Helper()
	cfg := Config(tb)
	c := cfg.ConnConfig
	p := storetest.NewProxy(tb, net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))))
	host, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	c.Host, c.Port = host, uint16(n)
	for _, f := range c.Fallbacks {
		f.Host, f.Port = host, uint16(n)
	}
	return cfg, p
}
