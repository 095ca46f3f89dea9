package auth

import (
	"strings"
	"testing"
)

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
		c, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "REDIS_URL": tc.url})
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
		_, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "REDIS_URL": bad})
		if err == nil || !strings.Contains(err.Error(), "REDIS_URL: ") {
			t.Errorf("%s: error %v, want one naming REDIS_URL", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}

	// Several instances on PostgreSQL without Redis are told that each
	// throttles on its own.
	pg := "postgres://postgres@127.0.0.1:5432/test"
	c, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": pg})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "REDIS_URL is not set: failed logins are throttled per instance") {
		t.Errorf("PostgreSQL without REDIS_URL: no warning that throttling is per instance: %q", c.Warnings)
	}
	c, err = cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": pg, "REDIS_URL": "redis://127.0.0.1:6379/0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(c.Warnings, "\n"), "REDIS_URL") {
		t.Errorf("PostgreSQL with REDIS_URL: warnings %q", c.Warnings)
	}
}

func TestRedactRedisURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@cache:6379/0":     "redis://:xxxxx@cache:6379/0",
		"rediss://app:s3cret@cache:6380/1": "rediss://app:xxxxx@cache:6380/1",
		"redis://127.0.0.1:6379/0":         "redis://127.0.0.1:6379/0",
		"redis://cache/0?password=s3cret":  "redis://cache/0?password=xxxxx",
	} {
		if got := redactURL("REDIS_URL", in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
