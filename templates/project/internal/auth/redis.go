package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// parseRedisURL parses REDIS_URL: redis:// or rediss:// (TLS), with
// go-redis's options. The message of an error never shows the password.
func parseRedisURL(s string) (*redis.Options, error) {
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

// checkRedisURL validates REDIS_URL without connecting, and returns
// warnings about it: a connection that goes unencrypted over a network.
func checkRedisURL(s string) (warnings []string, err error) {
	opts, err := parseRedisURL(s)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(opts.Addr)
	if opts.TLSConfig == nil && !localHost(host) {
		warnings = append(warnings, fmt.Sprintf("REDIS_URL: the connection to %s is unencrypted, "+
			"and the names of accounts being guessed cross it; use rediss:// with TLS", host))
	}
	return warnings, nil
}

// openRedis returns a client of the Redis REDIS_URL names, or nil when it
// is empty. It does not need Redis to answer yet: until it does, the
// throttle counts in this process (see sharedCounts), and the server
// says so in its log.
func openRedis(ctx context.Context, cfg Config, log *slog.Logger) (*redis.Client, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	opts, err := parseRedisURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// Without it go-redis ignores contexts' deadlines on reads and waits
	// out its own ReadTimeout (5s): the time-out of each call
	// (redisCallTimeout) and the request's context would not bound it.
	opts.ContextTimeoutEnabled = true
	redisLogTo(log)
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, redisCallTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		log.LogAttrs(ctx, slog.LevelWarn, "redis is unreachable at start-up: failed logins are throttled per instance until it answers",
			slog.String("url", redactURL("REDIS_URL", cfg.RedisURL)), slog.String("error", err.Error()))
	}
	return client, nil
}

// redisLogger passes go-redis's own messages (a failed dial, each time it
// fails) to the server's log at debug level: the throttle reports each
// change of Redis's state once, at warning level, and these would repeat
// it on every call, in another format.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.Log(ctx, slog.LevelDebug, "redis client: "+fmt.Sprintf(format, v...))
}

// redisLogTo sends go-redis's messages to log. go-redis has one logger for
// the process; a server has one log.
func redisLogTo(log *slog.Logger) { redis.SetLogger(redisLogger{log}) }
