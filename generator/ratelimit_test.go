package generator

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// An operation's limit is, first found: gatehouse.yaml's operations entry,
// the spec's x-gatehouse-rate-limit, the entry of its first tag that has
// one, the default; tags' operations share the tag's policy.
func TestResolveRateLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "openapi.yaml")
	spec := `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a:
    get:
      operationId: getA
      tags: [admin]
      x-gatehouse-rate-limit: 5/1s
      responses: {"200": {description: ok}}
    post:
      operationId: postA
      tags: [admin]
      responses: {"200": {description: ok}}
  /b:
    get:
      operationId: getB
      tags: [users, admin]
      responses: {"200": {description: ok}}
    post:
      operationId: token
      x-gatehouse-rate-limit: 1/1s
      responses: {"200": {description: ok}}
  /c:
    get:
      tags: [users]
      responses: {"200": {description: ok}}
`
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, api, err := load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &RateLimits{
		Default:    "100/1m",
		Tags:       map[string]string{"admin": "60/1m", "users": "none"},
		Operations: map[string]string{"postA": "2/1s", "GET /c": "3/1s"},
	}
	d, policies, err := resolveRateLimits(doc, api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, op := range api.Operations {
		got[op.Method+" "+op.Path] = policies[i]
	}
	want := map[string]string{
		"GET /a":  "getA",      // the spec's extension wins over the tag
		"POST /a": "postA",     // gatehouse.yaml's operations entry
		"GET /b":  "tag:users", // the first tag with an entry
		"POST /b": "POST /b",   // "token" is reserved: named by its route
		"GET /c":  "GET /c",    // by route in gatehouse.yaml
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policies %v, want %v", got, want)
	}
	wantPolicies := []rateLimitPolicy{{"GET /c", "3/1s"}, {"POST /b", "1/1s"}, {"getA", "5/1s"}, {"postA", "2/1s"}, {"tag:users", "none"}}
	if d.Default != "100/1m" || !reflect.DeepEqual(d.Policies, wantPolicies) {
		t.Errorf("data %+v, want default 100/1m and policies %v", d, wantPolicies)
	}
	// Without configuration every operation is on the default policy,
	// but the spec's extensions still count.
	_, policies, err = resolveRateLimits(doc, api, nil)
	if err != nil || strings.Join(policies, ",") != "getA,default,default,POST /b,default" {
		t.Errorf("without configuration: %v, %v", policies, err)
	}
}

// parseRateLimit accepts and refuses what the runtime's ParseRateLimit does
// (templates/project/internal/auth/ratelimit_gen_test.go has the same
// cases).
func TestParseRateLimitAgreesWithRuntime(t *testing.T) {
	for _, in := range []string{"none", " NONE ", "600/1m", "10/s burst 50", "100/1h BURST 5", "5/90s"} {
		if err := parseRateLimit(in); err != nil {
			t.Errorf("parseRateLimit(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "10", "10/", "x/1m", "0/1m", "-1/1m", "10/0s", "10/500ms", "10/25h",
		"2000000/1s", "10/1m burst", "10/1m burst 0", "10/1m bursts 5", "10/1m burst x", "10 / 1m", "10/1m burst 5 more"} {
		if err := parseRateLimit(in); err == nil {
			t.Errorf("parseRateLimit(%q) accepted it", in)
		}
	}
}
