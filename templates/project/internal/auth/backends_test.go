package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/open"
)

// cfLoadChecked is cfLoad with DATABASE_URL and REDIS_URL checked by the
// backends' drivers, as New and the administration commands check them.
func cfLoadChecked(t *testing.T, vars map[string]string) (Config, error) {
	t.Helper()
	c, err := cfLoad(t, vars)
	if err != nil {
		return c, err
	}
	return c, checkBackends(&c, open.Backends{})
}

func TestConfigRedisURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool // unencrypted over a network
	}{
		{"redis://127.0.0.1:6379/0", false},
		{"redis://localhost", false},
		{"redis://:s3cret@cache.internal:6379/2", true},
		{"rediss://app:s3cret@cache.internal:6380/0?dial_timeout=2s&pool_size=20", false},
	} {
		c, err := cfLoadChecked(t, map[string]string{"JWT_SECRET": cfSecret, "REDIS_URL": tc.url})
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if c.RedisURL != tc.url || c.RedisKeyPrefix != "gatehouse" {
			t.Errorf("%s: RedisURL %q, RedisKeyPrefix %q", tc.url, c.RedisURL, c.RedisKeyPrefix)
		}
		warnings := strings.Join(c.Warnings, "\n")
		if warned := strings.Contains(warnings, "REDIS_URL: the connection"); warned != tc.warn {
			t.Errorf("%s: warned about encryption: %v, want %v (%q)", tc.url, warned, tc.warn, c.Warnings)
		}
		if strings.Contains(warnings, "s3cret") {
			t.Errorf("%s: a warning shows the password: %q", tc.url, c.Warnings)
		}
	}

	// Errors never show the password, wherever it is misplaced.
	for _, bad := range []string{
		"redis://:s3cret@cache:port",               // does not parse
		"redis://:s3cret@cache:6379/s3cret",        // database "number"
		"redis://:s3cret@cache/0?pool_size=s3cret", // option
	} {
		_, err := cfLoadChecked(t, map[string]string{"JWT_SECRET": cfSecret, "REDIS_URL": bad})
		if err == nil || !strings.HasPrefix(err.Error(), "configuration:\nREDIS_URL: ") {
			t.Errorf("%s: error %v, want one naming REDIS_URL", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}

	// Several instances on PostgreSQL without Redis are told that each
	// throttles on its own.
	pg := "postgres://postgres@127.0.0.1:5432/test"
	c, err := cfLoadChecked(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": pg})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "REDIS_URL is not set: failed logins are throttled per instance") {
		t.Errorf("PostgreSQL without REDIS_URL: no warning that throttling is per instance: %q", c.Warnings)
	}
	c, err = cfLoadChecked(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": pg, "REDIS_URL": "redis://127.0.0.1:6379/0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(c.Warnings, "\n"), "REDIS_URL") {
		t.Errorf("PostgreSQL with REDIS_URL: warnings %q", c.Warnings)
	}
}

// The configuration passes on what postgres.CheckURL says of a URL (its
// own test covers the kinds of URL).
func TestConfigPostgresURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool // the connection may be unencrypted over a network
	}{
		{"postgres://app:s3cret@db.example.com/app?sslmode=verify-full&pool_max_conns=20", false},
		{"postgres://app:s3cret@db.example.com/app", true},
	} {
		c, err := cfLoadChecked(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": tc.url})
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if c.StoreKind != StorePostgres || c.DatabaseURL != tc.url {
			t.Errorf("%s: kind %q, url %q", tc.url, c.StoreKind, c.DatabaseURL)
		}
		warned := strings.Contains(strings.Join(c.Warnings, "\n"), "may be unencrypted")
		if warned != tc.warn {
			t.Errorf("%s: warned about encryption: %v, want %v (%q)", tc.url, warned, tc.warn, c.Warnings)
		}
	}
	// A bad parameter is reported without the password.
	_, err := cfLoadChecked(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": "postgres://app:s3cret@db/app?pool_max_conns=0"})
	if err == nil || !strings.HasPrefix(err.Error(), "configuration:\nDATABASE_URL: ") || !strings.Contains(err.Error(), "pool_max_conns") {
		t.Errorf("pool_max_conns=0: error %v, want one naming DATABASE_URL and pool_max_conns", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the configuration error shows the password: %v", err)
	}
}

// The configuration alone does not know the drivers: New and the
// administration commands refuse to run without Backends to check and open
// DATABASE_URL with, and say what to pass.
func TestNoBackends(t *testing.T) {
	cfg, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": "memory:"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg, nil, Options{}); !errors.Is(err, errNoBackends) {
		t.Errorf("New without backends: %v", err)
	}
	var out, errOut bytes.Buffer
	code := runAdminWith(context.Background(), cfLookup(map[string]string{"DATABASE_URL": "memory:"}), []string{"users", "list"}, nil, &out, &errOut, nil)
	if code != ExitError || !strings.Contains(errOut.String(), "open.Backends{}") {
		t.Errorf("users list without backends: %d %q", code, errOut.String())
	}
}
