package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	storeredis "github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/redis/redistest"
)

func TestStaticAPIKeyEntryRoundTrip(t *testing.T) {
	key, entry, err := NewStaticAPIKey("billing", []string{"write", "read", "read"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, APIKeyPrefix) || strings.Contains(entry.String(), key) {
		t.Fatalf("key %q, entry %q: the entry must hold only the digest", key, entry)
	}
	keys, err := ParseAPIKeys(" other:" + strings.Repeat("ab", 32) + " , " + entry.String() + ",")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1].Name != "billing" || keys[1].Digest != sha256.Sum256([]byte(key)) ||
		strings.Join(keys[1].Scopes, " ") != "read write" || keys[0].Scopes != nil {
		t.Fatalf("parsed %+v", keys)
	}
}

func TestParseAPIKeysRefuses(t *testing.T) {
	digest := strings.Repeat("0f", 32)
	for _, tc := range []struct{ name, value string }{
		{"the key instead of its digest", "billing:gh_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv"},
		{"no digest", "billing"},
		{"a digest that is not hex", "billing:" + strings.Repeat("zz", 32)},
		{"a name with spaces", "bill ing:" + digest},
		{"an empty name", ":" + digest},
		{"a scope with a quote", "billing:" + digest + `:re"ad`},
		{"a name twice", "billing:" + digest + ",billing:" + strings.Repeat("1f", 32)},
		{"a digest twice", "a:" + digest + ",b:" + strings.ToUpper(digest)},
	} {
		_, err := ParseAPIKeys(tc.value)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if strings.Contains(err.Error(), "gh_abc") {
			t.Errorf("%s: the error %q repeats the secret", tc.name, err)
		}
	}
}

func TestStaticAPIKeysAuthenticateByDigest(t *testing.T) {
	svc, err := NewTestService(Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	key, entry, err := NewStaticAPIKey("billing", []string{"read"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseAPIKeys(entry.String())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.AddStaticAPIKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	p, err := svc.Accounts().VerifyAPIKey(r, key)
	if err != nil || p.Subject != "billing" || !p.HasScope("read") || !strings.HasPrefix(p.TokenID, "billing/") {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if strings.Contains(p.TokenID, key) || strings.Contains(p.TokenID, hex.EncodeToString(entry.Digest[:])) {
		t.Fatalf("the key id %q reveals the key or its whole digest", p.TokenID)
	}
	// Only the digest is stored.
	stored, err := svc.Store().APIKeyByDigest(ctx, entry.Digest[:])
	if err != nil || !bytes.Equal(stored.Digest, entry.Digest[:]) {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	for _, wrong := range []string{key + "x", key[:len(key)-1], strings.ToUpper(key), hex.EncodeToString(entry.Digest[:])} {
		if _, err := svc.Accounts().VerifyAPIKey(r, wrong); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("key %q: %v, want ErrInvalidCredentials", wrong, err)
		}
	}
	// The same holder may have two keys.
	_, second, err := NewStaticAPIKey("billing", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AddStaticAPIKeys(ctx, []StaticAPIKey{second}); err != nil {
		t.Fatalf("a second key of one holder: %v", err)
	}
}

func TestIssueStaticTokenVerifies(t *testing.T) {
	cfg := testAdminConfig(t)
	ctx := context.Background()
	token, err := IssueStaticToken(ctx, cfg, "reporting", []string{"read"}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewMinimal(ctx, cfg, nil, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	claims, err := svc.Tokens().Verify(ctx, token)
	if err != nil || claims.Subject != "reporting" || claims.Scope != "read" {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	if d := time.Until(claims.ExpiresAt); d < 119*time.Minute || d > 2*time.Hour {
		t.Fatalf("expires in %s, want 2h", d)
	}
	for _, ttl := range []time.Duration{0, -time.Minute, 25 * time.Hour} {
		if _, err := IssueStaticToken(ctx, cfg, "reporting", nil, ttl); err == nil {
			t.Errorf("ttl %s accepted", ttl)
		}
	}
	cfg.GeneratedSecret = true
	if _, err := IssueStaticToken(ctx, cfg, "reporting", nil, time.Hour); err == nil {
		t.Error("a token signed with a throwaway development secret was issued")
	}
}

func testAdminConfig(t *testing.T) Config {
	t.Helper()
	env := map[string]string{"JWT_SECRET": "Xk3vQ9pL2mN8rT5wY1zB7cD4fG6hJ0sAeUiOoP", "DATABASE_URL": "memory:"}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunMinimalAdmin(t *testing.T) {
	cfg := testAdminConfig(t)
	ctx := context.Background()
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := RunMinimalAdmin(ctx, args, &out, &errOut, cfg)
		return code, out.String(), errOut.String()
	}
	code, out, _ := run("apikeys", "create", "--name", "billing", "--scopes", "read write")
	if code != ExitOK {
		t.Fatalf("apikeys create: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := strings.TrimPrefix(lines[0], "key: ")
	entry := lines[len(lines)-1][strings.LastIndex(lines[len(lines)-1], ": ")+2:]
	keys, err := ParseAPIKeys(entry)
	if err != nil || len(keys) != 1 || keys[0].Digest != sha256.Sum256([]byte(key)) {
		t.Fatalf("entry %q for key %q: %+v, %v", entry, key, keys, err)
	}
	code, out, _ = run("tokens", "issue", "--subject", "reporting", "--scopes", "read", "--ttl", "1h")
	if code != ExitOK || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("tokens issue: %d %q", code, out)
	}
	for _, args := range [][]string{{}, {"tokens"}, {"tokens", "issue"}, {"users", "add"}, {"tokens", "issue", "--subject", "a", "extra"}} {
		if code, _, _ := run(args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
	var out2, errOut bytes.Buffer
	if code := RunResourceServerAdmin(ctx, []string{"tokens", "issue", "--subject", "a"}, &out2, &errOut); code != ExitUsage {
		t.Errorf("resource server tokens issue: exit %d, want %d", code, ExitUsage)
	}
}

// The minimal template's service shares its counts (failed API keys, rate
// limits) in the Redis of REDIS_URL when given a Redis opener, checks the
// URL as New does, and says so when it cannot open one.
func TestNewMinimalRedis(t *testing.T) {
	ctx := context.Background()
	cfg := testAdminConfig(t)
	cfg.RedisURL = "redis://:s3cret@cache:port"
	if _, err := NewMinimal(ctx, cfg, storeredis.Opener{}, Options{}, nil); err == nil ||
		!strings.HasPrefix(err.Error(), "configuration:\nREDIS_URL: ") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad REDIS_URL: %v", err)
	}

	cfg.RedisURL = "redis://127.0.0.1:6379/0"
	svc, err := NewMinimal(ctx, cfg, nil, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	if svc.counts != nil || !strings.Contains(strings.Join(svc.Config().Warnings, "\n"), "REDIS_URL is ignored") {
		t.Errorf("REDIS_URL without an opener: counts %v, warnings %q", svc.counts, svc.Config().Warnings)
	}

	cfg.RedisURL = redistest.URL(t)
	cfg.RedisKeyPrefix = redistest.Prefix(t, redistest.Options(t))
	svc, err = NewMinimal(ctx, cfg, storeredis.Opener{}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if svc.counts == nil || svc.accounts.throttle.shared == nil || !strings.Contains(fmt.Sprint(svc.throttleAttrs), "shared by every instance") {
		t.Errorf("REDIS_URL with an opener: counts %v, throttle attributes %v", svc.counts, svc.throttleAttrs)
	}
}
