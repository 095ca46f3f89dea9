package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// ResourceServerConfigVars lists the configuration variables of the
// resource-server template, for its .env.example.
func ResourceServerConfigVars() []ConfigVar {
	vars := []ConfigVar{{"GATEHOUSE_ENV", "production",
		"production or development. Development mode allows OIDC_ALLOW_HTTP; never use it in production."}}
	vars = append(vars,
		ConfigVar{"OIDC_ISSUER", "", "The identity provider's issuer: the exact iss of its access tokens (e.g. https://login.example.com/realms/main). Required. Its OpenID Connect discovery document, OIDC_ISSUER/.well-known/openid-configuration, names the JWKS unless OIDC_JWKS_URL is set."},
		ConfigVar{"OIDC_JWKS_URL", "", "The identity provider's JWKS document, to skip discovery. Keys are fetched from this URL (or the discovered one) only, over HTTPS."},
		ConfigVar{"OIDC_AUDIENCE", "", "This API's identifier at the identity provider: one of the tokens' aud values must equal it. Required."},
		ConfigVar{"OIDC_ALGORITHMS", defaultExternalAlgorithms, "Comma-separated signature algorithms accepted: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. none and HMAC are never accepted."},
		ConfigVar{"OIDC_REQUIRE_AT_JWT", "false", "true accepts only tokens whose JOSE typ is at+jwt (RFC 9068). false also accepts typ JWT or none, which many identity providers send; other types are always refused."},
		ConfigVar{"OIDC_JWKS_CACHE_TTL", "1h", "How long fetched keys are fresh. After it, tokens of known keys still verify at once while one fetch in the background renews the keys; on a failed fetch the known keys are kept."},
		ConfigVar{"OIDC_JWKS_MIN_REFRESH", "1m", "Least time between two fetches of the keys, at least 10s: a token with an unknown kid triggers a fetch at most this often, and waits at most 5s for it."},
		ConfigVar{"OIDC_ALLOW_HTTP", "false", "true allows http:// issuer and JWKS URLs, for a local identity provider; only with GATEHOUSE_ENV=development."},
	)
	vars = append(vars, pickConfigVars("JWT_LEEWAY")...)
	vars = append(vars, ConfigVar{APIKeysVar, "", "Comma-separated API keys for apiKey schemes, as NAME:SHA256HEX[:SCOPES]: the holder's name (the request's subject), " +
		"the hex SHA-256 digest of the key (never the key itself) and space-separated scopes. " +
		"`server apikeys create --name NAME --scopes \"a b\"` prints a new key and its entry."})
	vars = append(vars, rateLimitConfigVars(false, false)...)
	return append(vars, pickConfigVars("LISTEN_ADDR", "TLS_CERT_FILE", "TLS_KEY_FILE", "CORS_ALLOWED_ORIGINS",
		"CORS_ALLOW_CREDENTIALS", "TRUSTED_PROXIES", "MAX_BODY_BYTES", "LOG_LEVEL", "LOG_FORMAT", "DOCS_ENABLED")...)
}

// LoadResourceServerConfigFromEnv loads the configuration of the
// resource-server template from the environment and .env (as
// LoadConfigFromEnv, without the signing keys) and the external issuer's
// settings (OIDC_*). Every problem is reported in one error.
func LoadResourceServerConfigFromEnv() (Config, ExternalConfig, error) {
	lookup, err := envLookup()
	if err != nil {
		return Config{}, ExternalConfig{}, err
	}
	return LoadResourceServerConfig(lookup)
}

// LoadResourceServerConfig is LoadResourceServerConfigFromEnv with the
// variables from lookup.
func LoadResourceServerConfig(lookup func(string) (string, bool)) (Config, ExternalConfig, error) {
	cfg, cfgErr := loadConfig(lookup, noKeys)
	get := getter(lookup, ResourceServerConfigVars())
	var errs []error
	if cfgErr != nil {
		errs = append(errs, cfgErr)
	}
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(get(name))
		if err != nil {
			fail(name, "must be true or false")
		}
		return b
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			fail(name, "%q is not a positive duration such as 1m or 1h", get(name))
		}
		return d
	}
	ext := ExternalConfig{
		Issuer:       get("OIDC_ISSUER"),
		JWKSURL:      get("OIDC_JWKS_URL"),
		Audience:     get("OIDC_AUDIENCE"),
		RequireATJWT: boolean("OIDC_REQUIRE_AT_JWT"),
		CacheTTL:     duration("OIDC_JWKS_CACHE_TTL"),
		MinRefresh:   duration("OIDC_JWKS_MIN_REFRESH"),
		AllowHTTP:    boolean("OIDC_ALLOW_HTTP"),
		Leeway:       cfg.Leeway,
	}
	for _, a := range strings.Split(get("OIDC_ALGORITHMS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			ext.Algorithms = append(ext.Algorithms, a)
		}
	}
	if ext.MinRefresh > 0 && ext.MinRefresh < MinJWKSMinRefresh {
		fail("OIDC_JWKS_MIN_REFRESH", "must be at least %s, not %s: tokens with forged kids could otherwise make the server fetch the issuer's keys many times a second",
			fmtDuration(MinJWKSMinRefresh), fmtDuration(ext.MinRefresh))
	}
	if ext.AllowHTTP && cfgErr == nil && !cfg.Development {
		fail("OIDC_ALLOW_HTTP", "true is only allowed with GATEHOUSE_ENV=development: keys fetched over http can be replaced on the way")
	}
	if ext.Issuer == "" {
		fail("OIDC_ISSUER", "not set; set it to the identity provider's issuer URL")
	}
	if ext.Audience == "" {
		fail("OIDC_AUDIENCE", "not set; set it to this API's identifier at the identity provider")
	}
	if len(errs) == 0 {
		// NewExternalTokens checks the URLs and algorithms.
		if _, err := NewExternalTokens(ext); err != nil {
			errs = append(errs, fmt.Errorf("OIDC: %s", strings.TrimPrefix(err.Error(), "auth: ")))
		}
	}
	if len(errs) > 0 {
		return Config{}, ExternalConfig{}, errors.Join(errs...)
	}
	if ext.AllowHTTP {
		cfg.Warnings = append(cfg.Warnings, "OIDC_ALLOW_HTTP=true: the issuer's keys may be fetched over http, not for production")
	}
	return cfg, ext, nil
}

// ResourceServer is the authentication runtime of the resource-server
// template: access tokens of an external issuer, API keys from
// configuration, no users and no endpoints of its own. Its request rate
// limits (RATE_LIMIT, RATE_LIMIT_ADDRESS, Options.RateLimits) are counted
// in this process: it opens no Redis.
type ResourceServer struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	store    *memory.Store
	external *ExternalTokens
	guard    *Guard
	limiter  *RateLimiter // nil: no rate limits
}

// NewResourceServer builds the runtime and fetches the issuer's keys once:
// a server that cannot reach its issuer at start-up is misconfigured and
// does not start.
func NewResourceServer(ctx context.Context, cfg Config, ext ExternalConfig, opts Options, apiKeys []StaticAPIKey) (*ResourceServer, error) {
	s, err := newResourceServer(cfg, ext, opts, time.Now)
	if err != nil {
		return nil, err
	}
	if err := s.external.Refresh(ctx); err != nil {
		return nil, err
	}
	if err := addStaticAPIKeys(ctx, s.store, apiKeys); err != nil {
		return nil, err
	}
	return s, nil
}

// NewTestResourceServer returns a resource server for tests, verifying the
// tokens of ext (typically the Config of an authtest.Issuer), with the test
// configuration of NewTestService. The keys are fetched on first use.
func NewTestResourceServer(opts Options, ext ExternalConfig) (*ResourceServer, error) {
	cfg := Config{
		Development:  true,
		StoreKind:    StoreMemory,
		ListenAddr:   "127.0.0.1:0",
		MaxBodyBytes: DefaultMaxBodyBytes,
		LogFormat:    "text",
	}
	return newResourceServer(cfg, ext, opts, ext.Now)
}

func newResourceServer(cfg Config, ext ExternalConfig, opts Options, now func() time.Time) (*ResourceServer, error) {
	if now == nil {
		now = time.Now
	}
	log := orDiscard(opts.Logger)
	external, err := NewExternalTokens(ext)
	if err != nil {
		return nil, err
	}
	store := memory.New()
	// No password is ever hashed: there are no users.
	hasher := NewArgon2id(Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
	accounts := NewAccounts(store, hasher, NewThrottle(ThrottleConfig{Now: now}), AccountsOptions{
		Now:        now,
		ClientAddr: cfg.ClientAddr,
	})
	guard, err := newGuard(cfg, opts, log, accounts, nil, external)
	if err != nil {
		return nil, err
	}
	limiter, err := NewRateLimiter(cfg, opts.RateLimits, log, now)
	if err != nil {
		return nil, err
	}
	return &ResourceServer{cfg: cfg, opts: opts, log: log, store: store, external: external, guard: guard, limiter: limiter}, nil
}

// Guard returns the guard that enforces each operation's security.
func (s *ResourceServer) Guard() *Guard { return s.guard }

// Tokens returns the verifier of the external issuer's access tokens.
func (s *ResourceServer) Tokens() *ExternalTokens { return s.external }

// Config returns the configuration the server was built with.
func (s *ResourceServer) Config() Config { return s.cfg }

// RateLimiter returns the request rate limiter; nil (which limits
// nothing) when every limit is none.
func (s *ResourceServer) RateLimiter() *RateLimiter { return s.limiter }

// AddStaticAPIKeys adds API keys from configuration (see
// Service.AddStaticAPIKeys).
func (s *ResourceServer) AddStaticAPIKeys(ctx context.Context, keys []StaticAPIKey) error {
	return addStaticAPIKeys(ctx, s.store, keys)
}

// Handler wraps h in the hardening middleware (see Harden) and the
// per-address rate limit, which runs before any credential is checked (see
// RateLimiter.Address).
func (s *ResourceServer) Handler(h http.Handler) http.Handler {
	return harden(s.cfg, s.opts, s.log, s.limiter.Address(h))
}

// Serve serves h as Handler wraps it, on the configured address until ctx
// ends (see Service.Serve).
func (s *ResourceServer) Serve(ctx context.Context, h http.Handler) error {
	return serve(ctx, s.cfg, s.opts, s.log, s.limiter.Address(h))
}

// Close releases the server's resources. It is safe to call more than once.
func (s *ResourceServer) Close() error { return s.store.Close() }
