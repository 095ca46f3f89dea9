// Package redis keeps the counts that every instance of a server shares
// in one Redis (REDIS_URL): the failed-login throttle's (throttle.go) and
// the request rate limits' (ratelimit.go), through go-redis. Each is an
// atomic Lua script; every key lives under the configured prefix and
// expires by itself, so nothing needs sweeping.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// CallTimeout bounds each Redis call: a Redis that accepts connections but
// does not answer must not hold a login or a request for long, since the
// caller then counts in memory instead.
const CallTimeout = time.Second

// Counts keeps the throttle's and the rate limits' counts in one Redis,
// under a key prefix. It implements store.Counts.
type Counts struct {
	client  *redis.Client
	prefix  string // "PREFIX:"
	timeout time.Duration
}

var _ store.Counts = (*Counts)(nil)

// NewCounts returns the counts kept through client under the key prefix
// (without the colon that follows it).
func NewCounts(client *redis.Client, prefix string) *Counts {
	return &Counts{client: client, prefix: prefix + ":", timeout: CallTimeout}
}

// Close closes the client.
func (c *Counts) Close() error { return c.client.Close() }

// Opener opens the counts of REDIS_URL: it implements auth.CountsOpener,
// for the minimal template's cmd/server (auth.NewMinimal), and is part of
// open.Backends.
type Opener struct{}

// CheckRedisURL validates REDIS_URL without connecting (see CheckURL).
func (Opener) CheckRedisURL(url string) ([]string, error) { return CheckURL(url) }

// OpenCounts returns the counts kept in the Redis of url under keyPrefix
// (see Open).
func (Opener) OpenCounts(ctx context.Context, url, keyPrefix string, log *slog.Logger) (store.Counts, error) {
	c, err := Open(ctx, url, keyPrefix, log)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parseURL parses REDIS_URL: redis:// or rediss:// (TLS), with
// go-redis's options. The message of an error never shows the password.
func parseURL(s string) (*redis.Options, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, errors.New("not a valid redis:// or rediss:// URL, e.g. rediss://:PASSWORD@cache.internal:6379/0")
	}
	opts, err := redis.ParseURL(s)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		return nil, errors.New(msg)
	}
	return opts, nil
}

// CheckURL validates REDIS_URL without connecting, and returns warnings
// about it: a connection that goes unencrypted over a network.
func CheckURL(s string) (warnings []string, err error) {
	opts, err := parseURL(s)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(opts.Addr)
	if opts.TLSConfig == nil && !store.LocalHost(host) {
		warnings = append(warnings, fmt.Sprintf("REDIS_URL: the connection to %s is unencrypted, "+
			"and the names of accounts being guessed cross it; use rediss:// with TLS", host))
	}
	return warnings, nil
}

// Open returns the counts kept in the Redis of redisURL (REDIS_URL) under the
// key prefix. It does not need Redis to answer yet: until it does, the
// callers count in their own memory, and it logs a warning to log that
// says so.
func Open(ctx context.Context, redisURL, prefix string, log *slog.Logger) (*Counts, error) {
	opts, err := parseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// Without it go-redis ignores contexts' deadlines on reads and waits
	// out its own ReadTimeout (5s): the time-out of each call
	// (CallTimeout) and the request's context would not bound it.
	opts.ContextTimeoutEnabled = true
	logTo(log)
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "redis is unreachable at start-up: failed logins are throttled per instance until it answers",
			slog.String("url", store.RedactURL("REDIS_URL", redisURL)), slog.String("error", err.Error()))
	}
	return NewCounts(client, prefix), nil
}

// logger passes go-redis's own messages (a failed dial, each time it
// fails) to the server's log at debug level: the throttle reports each
// change of Redis's state once, at warning level, and these would repeat
// it on every call, in another format.
type logger struct{ log *slog.Logger }

func (l logger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Log(ctx, slog.LevelDebug, "redis client: "+fmt.Sprintf(format, v...))
}

// logTo sends go-redis's messages to log. go-redis has one logger for the
// process; a server has one log.
func logTo(log *slog.Logger) { redis.SetLogger(logger{log}) }
