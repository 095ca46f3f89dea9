package store

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db.example.com:5432/app?sslmode=verify-full": "postgres://app:xxxxx@db.example.com:5432/app?sslmode=verify-full",
		"postgres://app@db/app?password=s3cret&pool_max_conns=8":            "postgres://app@db/app?password=xxxxx&pool_max_conns=8",
		"postgresql://db/app?sslpassword=s3cret":                            "postgresql://db/app?sslpassword=xxxxx",
		"host=db user=app password=s3cret":                                  "(not shown: DATABASE_URL does not parse as a URL)",
		"sqlite:data/gatehouse.db":                                          "sqlite:data/gatehouse.db",
	} {
		got := RedactURL("DATABASE_URL", in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("RedactURL(%q) shows the password", in)
		}
	}
}

func TestRedactRedisURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@cache:6379/0":     "redis://:xxxxx@cache:6379/0",
		"rediss://app:s3cret@cache:6380/1": "rediss://app:xxxxx@cache:6380/1",
		"redis://127.0.0.1:6379/0":         "redis://127.0.0.1:6379/0",
		"redis://cache/0?password=s3cret":  "redis://cache/0?password=xxxxx",
	} {
		if got := RedactURL("REDIS_URL", in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
