package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// cfSecret is a secret that passes the strength checks.
const cfSecret = "Xq3vN8pL2mR7tY1wK9cB4hJ6fD0sA5gE"

// cfLookup returns a lookup function over vars.
func cfLookup(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func cfLoad(t *testing.T, vars map[string]string) (Config, error) {
	t.Helper()
	return LoadConfig(cfLookup(vars))
}

func TestConfigDefaults(t *testing.T) {
	c, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		JWTSecret:       []byte(cfSecret),
		JWTAlgorithm:    AlgHS256,
		JWTKeyDir:       "data/keys",
		Issuer:          "gatehouse",
		Audience:        "api",
		Leeway:          30 * time.Second,
		AccessTokenTTL:  15 * time.Minute,
		RefreshTokenTTL: 168 * time.Hour,
		// Strict reuse detection; tokens refused after 30 s without the
		// revocation feed.
		RevocationMaxStaleness: 30 * time.Second,
		PasswordHash:           HashArgon2id,
		StoreKind:              StoreSQLite,
		StorePath:              "data/gatehouse.db",
		DatabaseURL:            "sqlite:data/gatehouse.db",
		RedisKeyPrefix:         "gatehouse",
		RateLimit:              RateLimit{},
		RateLimitAddress:       RateLimit{},
		ListenAddr:             ":8080",
		MaxBodyBytes:           1 << 20,
		LogLevel:               slog.LevelInfo,
		LogFormat:              "json",
		Warnings:               []string{plainHTTPWarning},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigRefusesMissingOrWeakSecretOutsideDevelopment(t *testing.T) {
	for _, tc := range []struct {
		name, secret, want string
	}{
		{"missing", "", "JWT_SECRET: not set"},
		{"blank", "   ", "JWT_SECRET: not set"},
		{"short", "0123456789abcdef", "JWT_SECRET: too short: 16 bytes"},
		{"repeated character", strings.Repeat("a", 40), "JWT_SECRET: too weak"},
		{"repeated pattern", strings.Repeat("secret12", 5), "JWT_SECRET: too weak"},
		{"few distinct", "abababababababababababababcabcabcabcabcabc", "JWT_SECRET: too weak"},
		{"words and counting", "passwordpassword1234567812345678", "JWT_SECRET: too weak"},
		{"pattern with a counter", "Password1Password2Password3Pass!", "JWT_SECRET: too weak"},
		{"alphabet in order", "abcdefghijklmnopqrstuvwxyz0123456789", "JWT_SECRET: too weak"},
		{"typed text in base64", "base64:" + base64.StdEncoding.EncodeToString([]byte("passwordpassword1234567812345678")), "JWT_SECRET: too weak"},
		{"short base64", "base64:" + base64.StdEncoding.EncodeToString([]byte("0123456789")), "JWT_SECRET: too short: 10 bytes"},
		{"bad base64", "base64:!!!", "JWT_SECRET: the value after base64: is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			if tc.secret != "" {
				vars["JWT_SECRET"] = tc.secret
			}
			_, err := cfLoad(t, vars)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.secret != "" && strings.TrimSpace(tc.secret) != "" && strings.Contains(err.Error(), tc.secret) {
				t.Error("the error message contains the secret")
			}
			// Development mode tolerates a missing secret, not a weak one.
			vars["GATEHOUSE_ENV"] = "development"
			_, err = cfLoad(t, vars)
			if (err == nil) != (strings.TrimSpace(tc.secret) == "") {
				t.Errorf("development mode: error %v", err)
			}
		})
	}
}

func TestConfigDevelopmentModeGeneratesSecret(t *testing.T) {
	c1, err := cfLoad(t, map[string]string{"GATEHOUSE_ENV": "development"})
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := cfLoad(t, map[string]string{"GATEHOUSE_ENV": "development"})
	if !c1.Development || !c1.GeneratedSecret || len(c1.JWTSecret) < MinHMACSecretLen {
		t.Fatalf("development config: %+v", c1)
	}
	if string(c1.JWTSecret) == string(c2.JWTSecret) {
		t.Error("two development runs got the same secret")
	}
	if !slices.ContainsFunc(c1.Warnings, func(w string) bool { return strings.Contains(w, "restart") }) {
		t.Errorf("no warning that tokens do not survive a restart: %q", c1.Warnings)
	}
}

// Secrets made the ways the README, .env.example and `keys rotate` suggest
// always pass the entropy estimate.
func TestConfigAcceptsGeneratedSecrets(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for range 200 {
		typed := make([]byte, 32)
		for i, b := range random(len(typed)) {
			typed[i] = alnum[int(b)%len(alnum)]
		}
		for _, secret := range []string{
			base64.StdEncoding.EncodeToString(random(48)),             // openssl rand -base64 48, keys rotate
			hex.EncodeToString(random(32)),                            // openssl rand -hex 32
			"base64:" + base64.StdEncoding.EncodeToString(random(32)), // binary bytes
			string(typed), // 32 random letters and digits
		} {
			if _, err := parseSecret(secret); err != nil {
				t.Fatalf("a generated secret was refused: %v", err)
			}
		}
	}
}

func TestConfigSecretFormats(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	c, err := cfLoad(t, map[string]string{
		"JWT_SECRET":           "base64:" + base64.StdEncoding.EncodeToString(raw),
		"JWT_PREVIOUS_SECRETS": cfSecret + ", base64:" + base64.RawStdEncoding.EncodeToString(raw),
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.JWTSecret) != string(raw) {
		t.Errorf("base64 secret decoded to %x", c.JWTSecret)
	}
	if len(c.JWTPreviousSecrets) != 2 || string(c.JWTPreviousSecrets[0]) != cfSecret {
		t.Errorf("previous secrets %q", c.JWTPreviousSecrets)
	}
	_, err = cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "JWT_PREVIOUS_SECRETS": cfSecret + ",short"})
	if err == nil || !strings.Contains(err.Error(), "JWT_PREVIOUS_SECRETS: entry 2: too short") {
		t.Errorf("weak previous secret: %v", err)
	}
	// Asymmetric algorithms need no secret.
	c, err = cfLoad(t, map[string]string{"JWT_ALGORITHM": "EdDSA"})
	if err != nil || c.JWTSecret != nil {
		t.Errorf("EdDSA without secret: %v", err)
	}
}

func TestConfigReportsEveryProblemByName(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"GATEHOUSE_ENV": "staging"}, "GATEHOUSE_ENV: must be production or development"},
		{map[string]string{"JWT_ALGORITHM": "none"}, `JWT_ALGORITHM: must be HS256, EdDSA, ES256 or RS256, not "none"`},
		{map[string]string{"JWT_ALGORITHM": "hs256"}, "JWT_ALGORITHM: must be"},
		{map[string]string{"ACCESS_TOKEN_TTL": "15"}, `ACCESS_TOKEN_TTL: "15" is not a duration`},
		{map[string]string{"ACCESS_TOKEN_TTL": "30s"}, "ACCESS_TOKEN_TTL: must be between 1m and 24h, not 30s"},
		{map[string]string{"ACCESS_TOKEN_TTL": "48h"}, "ACCESS_TOKEN_TTL: must be between 1m and 24h, not 48h"},
		{map[string]string{"ACCESS_TOKEN_TTL": "2h", "REFRESH_TOKEN_TTL": "1h"}, "REFRESH_TOKEN_TTL: must be at least ACCESS_TOKEN_TTL (2h)"},
		{map[string]string{"REFRESH_REUSE_GRACE": "61s"}, "REFRESH_REUSE_GRACE: must be between 0s and 1m, not 1m1s"},
		{map[string]string{"REFRESH_REUSE_GRACE": "-1s"}, "REFRESH_REUSE_GRACE: must be between 0s and 1m, not -1s"},
		{map[string]string{"REVOCATION_MAX_STALENESS": "1s"}, "REVOCATION_MAX_STALENESS: must be between 5s and 1h, not 1s"},
		{map[string]string{"REVOCATION_MAX_STALENESS": "2h"}, "REVOCATION_MAX_STALENESS: must be between 5s and 1h, not 2h"},
		{map[string]string{"JWT_LEEWAY": "2m"}, "JWT_LEEWAY: must be between 0s and 1m"},
		{map[string]string{"PASSWORD_HASH": "md5"}, "PASSWORD_HASH: must be argon2id or bcrypt"},
		{map[string]string{"DATABASE_URL": "postgres://u@db/app?pool_max_conns=many"}, "DATABASE_URL: cannot parse"},
		{map[string]string{"DATABASE_URL": "mysql://db"}, `DATABASE_URL: unknown scheme "mysql"`},
		{map[string]string{"DATABASE_URL": "sqlite:"}, "DATABASE_URL: sqlite: needs a file path"},
		{map[string]string{"REDIS_URL": "cache:6379"}, "REDIS_URL: not a valid redis://"},
		{map[string]string{"REDIS_URL": "redis://cache:6379/x"}, "REDIS_URL: invalid database number"},
		{map[string]string{"REDIS_URL": "redis://cache:6379/0?pool_size=many"}, "REDIS_URL: invalid pool_size number"},
		{map[string]string{"REDIS_KEY_PREFIX": "my app"}, "REDIS_KEY_PREFIX: must be at most 64 characters without spaces"},
		{map[string]string{"LISTEN_ADDR": "8080"}, "LISTEN_ADDR: \"8080\" is not host:port"},
		{map[string]string{"TLS_CERT_FILE": "cert.pem"}, "TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE must be set together"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "null"}, "CORS_ALLOWED_ORIGINS: null is refused"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "true"}, "CORS_ALLOWED_ORIGINS: * cannot be used with CORS_ALLOW_CREDENTIALS=true"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://*.example.com"}, "wildcards are not supported"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/path"}, "is not an origin"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "app.example.com"}, "is not an origin"},
		{map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES: \"10.0.0.0/33\" is not a CIDR"},
		{map[string]string{"TOKEN_PATH": "auth/token"}, "TOKEN_PATH: \"auth/token\" must be an absolute path"},
		{map[string]string{"REVOKE_PATH": "/auth/{x}"}, "REVOKE_PATH:"},
		{map[string]string{"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES: must be between"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL: must be debug, info, warn or error"},
		{map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT: must be json or text"},
	} {
		vars := map[string]string{"JWT_SECRET": cfSecret}
		for k, v := range tc.vars {
			vars[k] = v
		}
		// DATABASE_URL's and REDIS_URL's parameters are checked by the
		// backends' drivers, as New does.
		if _, err := cfLoadChecked(t, vars); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.vars, err, tc.want)
		}
	}

	// All problems come together, one line each.
	_, err := cfLoad(t, map[string]string{"ACCESS_TOKEN_TTL": "1s", "LOG_FORMAT": "xml", "CORS_ALLOWED_ORIGINS": "null"})
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, name := range []string{"JWT_SECRET", "ACCESS_TOKEN_TTL", "LOG_FORMAT", "CORS_ALLOWED_ORIGINS"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, name+": ") }) {
			t.Errorf("no line for %s in:\n%v", name, err)
		}
	}
}

func TestConfigParsesListsAndOptions(t *testing.T) {
	c, err := cfLoad(t, map[string]string{
		"JWT_SECRET":               cfSecret,
		"CORS_ALLOWED_ORIGINS":     "https://App.Example.com, http://localhost:3000/",
		"TRUSTED_PROXIES":          "10.0.0.0/8, 192.168.1.7, ::1",
		"DATABASE_URL":             "memory:",
		"TOKEN_PATH":               "/oauth/token",
		"LOG_LEVEL":                "debug",
		"LOG_FORMAT":               "text",
		"PASSWORD_HASH":            "bcrypt",
		"TLS_CERT_FILE":            "c.pem",
		"TLS_KEY_FILE":             "k.pem",
		"REFRESH_REUSE_GRACE":      "10s",
		"REVOCATION_MAX_STALENESS": "2m",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.RefreshReuseGrace != 10*time.Second || c.RevocationMaxStaleness != 2*time.Minute {
		t.Errorf("grace %s, staleness %s; want 10s and 2m", c.RefreshReuseGrace, c.RevocationMaxStaleness)
	}
	if want := []string{"https://app.example.com", "http://localhost:3000"}; !slices.Equal(c.CORSAllowedOrigins, want) {
		t.Errorf("origins %q, want %q", c.CORSAllowedOrigins, want)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("::1/128")}
	if !slices.Equal(c.TrustedProxies, want) {
		t.Errorf("proxies %v", c.TrustedProxies)
	}
	if c.StoreKind != StoreMemory || c.TokenPath != "/oauth/token" || c.LogLevel != slog.LevelDebug ||
		c.LogFormat != "text" || c.PasswordHash != HashBcrypt || !c.TLS() {
		t.Errorf("config %+v", c)
	}
	if len(c.Warnings) == 0 {
		t.Error("no warning for the memory store")
	}
	for _, tc := range []struct{ url, path string }{
		{"sqlite:x.db", "x.db"},
		{"sqlite:///var/lib/app/x.db", "/var/lib/app/x.db"},
		{"sqlite://data/x.db", "data/x.db"},
	} {
		c, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": tc.url})
		if err != nil || c.StorePath != tc.path {
			t.Errorf("%s: path %q, %v; want %q", tc.url, c.StorePath, err, tc.path)
		}
	}
}

func TestConfigVarsDocumentEveryVariable(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range ConfigVars() {
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		if v.Description == "" || strings.Contains(v.Description, "\n") {
			t.Errorf("%s: description %q must be one line of text", v.Name, v.Description)
		}
	}
	// Every variable LoadConfig reads is listed: a lookup that records the
	// names asked for.
	asked := map[string]bool{}
	LoadConfig(func(name string) (string, bool) {
		asked[name] = true
		if name == "JWT_SECRET" {
			return cfSecret, true
		}
		return "", false
	})
	for name := range asked {
		if !seen[name] {
			t.Errorf("LoadConfig reads %s, which ConfigVars does not list", name)
		}
	}
}

func TestLoadConfigFromEnvReadsDotEnvAndPrefersEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	dotenv := "# comment\nJWT_SECRET=" + cfSecret + "\nLISTEN_ADDR=:9000\nLOG_FORMAT=text\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOG_FORMAT", "json")
	c, err := LoadConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if string(c.JWTSecret) != cfSecret || c.ListenAddr != ":9000" {
		t.Errorf(".env not applied: %+v", c)
	}
	if c.LogFormat != "json" {
		t.Errorf("LOG_FORMAT %q: the environment must win over .env", c.LogFormat)
	}
	if _, ok := os.LookupEnv("LISTEN_ADDR"); ok {
		t.Error(".env changed the process environment")
	}
}

// plainHTTPWarning is the warning of a production server without TLS.
const plainHTTPWarning = "production mode on plain HTTP: passwords, tokens and API keys cross the network " +
	"readable by anyone on the way; set TLS_CERT_FILE and TLS_KEY_FILE, or, behind a reverse proxy that ends TLS, list it in TRUSTED_PROXIES"

func TestConfigWarnsAboutPlainHTTPInProduction(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		warn bool
	}{
		{"production on plain HTTP", map[string]string{}, true},
		{"TLS", map[string]string{"TLS_CERT_FILE": "c.pem", "TLS_KEY_FILE": "k.pem"}, false},
		{"behind a proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8"}, false},
		{"development", map[string]string{"GATEHOUSE_ENV": "development"}, false},
	} {
		tc.vars["JWT_SECRET"] = cfSecret
		c, err := cfLoad(t, tc.vars)
		if err != nil {
			t.Fatal(err)
		}
		if warned := slices.Contains(c.Warnings, plainHTTPWarning); warned != tc.warn {
			t.Errorf("%s: warnings %q", tc.name, c.Warnings)
		}
	}
}

// Logs are text in development mode and JSON in production, unless
// LOG_FORMAT says otherwise.
func TestLogFormatFollowsTheMode(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"JWT_SECRET": cfSecret}, "json"},
		{map[string]string{"GATEHOUSE_ENV": "development"}, "text"},
		{map[string]string{"GATEHOUSE_ENV": "development", "LOG_FORMAT": "json"}, "json"},
		{map[string]string{"JWT_SECRET": cfSecret, "LOG_FORMAT": "text"}, "text"},
	} {
		c, err := cfLoad(t, tc.vars)
		if err != nil {
			t.Fatal(err)
		}
		if c.LogFormat != tc.want {
			t.Errorf("%v: LOG_FORMAT %q, want %q", tc.vars, c.LogFormat, tc.want)
		}
	}
}
