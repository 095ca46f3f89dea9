package auth

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres/pgtest"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/sqlite"
)

// openTestSQLite opens a SQLite store at path.
func openTestSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	return s
}

// openTestPostgres opens a PostgreSQL store on a new schema (see
// pgtest.Config).
func openTestPostgres(tb testing.TB) *postgres.Store {
	tb.Helper()
	return openTestPostgresConfig(tb, pgtest.Config(tb))
}

// openTestPostgresConfig opens a PostgreSQL store on cfg.
func openTestPostgresConfig(tb testing.TB, cfg *pgxpool.Config) *postgres.Store {
	tb.Helper()
	s, err := postgres.OpenConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("postgres.OpenConfig: %v", err)
	}
	return s
}
