// Package open opens the backends the configuration names: the store of
// DATABASE_URL (memory, SQLite or PostgreSQL) and the Redis of REDIS_URL.
// Only the full template's server links it: its cmd/server passes
// Backends{} to auth.New and to the administration commands. The minimal
// and resource-server templates store nothing and do not import it, so
// their binaries carry no database driver (the minimal one links the
// Redis client alone, redis.Opener, for REDIS_URL).
package open

import (
	"context"
	"fmt"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/sqlite"
)

// Backends opens every backend of package store. It implements
// auth.Backends.
type Backends struct {
	redis.Opener // REDIS_URL
}

// CheckDatabaseURL validates DATABASE_URL, a store of kind, without
// connecting: a postgres:// URL's parameters, with pgx's parser, and
// whether its connection may go unencrypted (a warning). The other kinds
// have nothing to check beyond what the configuration parsed.
func (Backends) CheckDatabaseURL(kind, url string) ([]string, error) {
	if kind == store.KindPostgres {
		return postgres.CheckURL(url)
	}
	return nil, nil
}

// OpenStore opens the store of kind: a new memory store, the SQLite file
// at path, or the PostgreSQL database of url. Both SQL stores migrate
// their schema on opening.
func (Backends) OpenStore(ctx context.Context, kind, path, url string) (store.Store, error) {
	switch kind {
	case store.KindMemory:
		return memory.New(), nil
	case store.KindSQLite:
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		return s, nil
	case store.KindPostgres:
		s, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("unsupported store %q", kind)
}
