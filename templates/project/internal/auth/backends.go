package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Backends opens what a server keeps outside its process: the store that
// DATABASE_URL names and the Redis of REDIS_URL. Package open
// (internal/store/open) implements it with every backend of package store;
// the full template's cmd/server passes it to New and RunAdminFromEnvWith.
// The minimal and resource-server templates store nothing and do not link
// it, so that their binaries carry no database driver.
type Backends interface {
	CountsOpener
	// CheckDatabaseURL validates DATABASE_URL, whose scheme names a store
	// of kind (store.KindSQLite, KindMemory, KindPostgres), without
	// connecting, and returns warnings about it. An error's message never
	// shows the password.
	CheckDatabaseURL(kind, url string) (warnings []string, err error)
	// OpenStore opens the store of kind (the SQLite file at path, or the
	// database of url), migrating its schema.
	OpenStore(ctx context.Context, kind, path, url string) (store.Store, error)
}

// CountsOpener opens the Redis of REDIS_URL, where every instance shares
// the counts of the failed-login throttle and of the request rate limits.
// Package redis (internal/store/redis) implements it (redis.Opener{}),
// which the minimal template's cmd/server passes to NewMinimal: it links
// the Redis client, and no database driver.
type CountsOpener interface {
	// CheckRedisURL validates REDIS_URL without connecting, and returns
	// warnings about it. An error's message never shows the password.
	CheckRedisURL(url string) (warnings []string, err error)
	// OpenCounts returns the counts kept in the Redis of url, under
	// keyPrefix, that every instance shares. It does not need Redis to
	// answer yet: until it does, the throttle and the rate limiter count in
	// this process, and it says so in log.
	OpenCounts(ctx context.Context, url, keyPrefix string, log *slog.Logger) (store.Counts, error)
}

// errNoBackends is the error of New and of the administration commands
// when given no Backends.
var errNoBackends = errors.New("auth: no backends to open DATABASE_URL's store with; pass open.Backends{} (internal/store/open)")

// checkBackends checks DATABASE_URL and REDIS_URL with the drivers of b, as
// LoadConfig checks the other variables (its errors read as a
// configuration's), and adds their warnings to cfg.
func checkBackends(cfg *Config, b Backends) error {
	if b == nil {
		return errNoBackends
	}
	return checkURLs(cfg, b.CheckDatabaseURL, b)
}

// checkURLs is checkBackends with what there is: DATABASE_URL is checked
// with database unless it is nil, REDIS_URL with counts unless it is nil.
func checkURLs(cfg *Config, database func(kind, url string) ([]string, error), counts CountsOpener) error {
	var errs []error
	check := func(name string, warnings []string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", name, err))
		}
		cfg.Warnings = append(slices.Clip(cfg.Warnings), warnings...)
	}
	if database != nil {
		w, err := database(cfg.StoreKind, cfg.DatabaseURL)
		check("DATABASE_URL", w, err)
	}
	if cfg.RedisURL != "" && counts != nil {
		w, err := counts.CheckRedisURL(cfg.RedisURL)
		check("REDIS_URL", w, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration:\n%w", errors.Join(errs...))
	}
	return nil
}

// openStore opens the store DATABASE_URL names, migrating its schema, and
// returns what the server logs about it when it starts serving (the URL
// without its password, the schema version).
func openStore(ctx context.Context, cfg Config, b Backends) (store.Store, []slog.Attr, error) {
	if b == nil {
		return nil, nil, errNoBackends
	}
	st, err := b.OpenStore(ctx, cfg.StoreKind, cfg.StorePath, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	attrs := []slog.Attr{slog.String("kind", cfg.StoreKind), slog.String("url", store.RedactURL("DATABASE_URL", cfg.DatabaseURL))}
	if m, ok := st.(store.SchemaMigrator); ok {
		v, err := m.Migrate(ctx) // done on opening: this only reports it
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		attrs = append(attrs, slog.Int("schema_version", v.Current))
		if v.Opened != v.Current {
			attrs = append(attrs, slog.Int("migrated_from", v.Opened))
		}
	}
	return st, attrs, nil
}

// openCounts returns the counts shared in the Redis of REDIS_URL, or nil
// (counts in this process only) when it is not set or there is nothing to
// open it with.
func openCounts(ctx context.Context, cfg Config, c CountsOpener, log *slog.Logger) (store.Counts, error) {
	if cfg.RedisURL == "" || c == nil {
		return nil, nil
	}
	return c.OpenCounts(ctx, cfg.RedisURL, cfg.RedisKeyPrefix, log)
}
