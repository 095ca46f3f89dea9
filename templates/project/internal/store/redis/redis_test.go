package redis

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool // unencrypted over a network
	}{
		{"redis://127.0.0.1:6379/0", false},
		{"redis://localhost", false},
		{"redis://:s3cret@cache.internal:6379/2", true},
		{"rediss://app:s3cret@cache.internal:6380/0?dial_timeout=2s&pool_size=20", false},
	} {
		warnings, err := CheckURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		joined := strings.Join(warnings, "\n")
		if warned := strings.Contains(joined, "REDIS_URL: the connection"); warned != tc.warn {
			t.Errorf("%s: warned about encryption: %v, want %v (%q)", tc.url, warned, tc.warn, warnings)
		}
		if strings.Contains(joined, "s3cret") {
			t.Errorf("%s: a warning shows the password: %q", tc.url, warnings)
		}
	}

	// Errors never show the password, wherever it is misplaced.
	for _, bad := range []string{
		"redis://:s3cret@cache:port",               // does not parse
		"redis://:s3cret@cache:6379/s3cret",        // database "number"
		"redis://:s3cret@cache/0?pool_size=s3cret", // option
		"http://cache:6379",                        // not redis
	} {
		_, err := CheckURL(bad)
		if err == nil {
			t.Errorf("%s: no error", bad)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
}
