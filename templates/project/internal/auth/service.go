package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// Default endpoint paths, used when neither the configuration nor Options
// name one.
const (
	DefaultTokenPath  = "/auth/token"
	DefaultRevokePath = "/auth/revoke"
	// JWKSPath serves the public keys of the asymmetric algorithms.
	JWKSPath = "/.well-known/jwks.json"
)

// Options are what the generated code knows from the spec and passes to
// New: they do not change between deployments, unlike Config.
type Options struct {
	// Schemes are the spec's components.securitySchemes.
	Schemes []Scheme
	// TokenPath and RevokePath are where the token and revocation
	// endpoints are served (TOKEN_PATH and REVOKE_PATH override them).
	TokenPath  string
	RevokePath string
	// ClientCredentials enables the client_credentials grant (the spec has
	// that oauth2 flow).
	ClientCredentials bool
	// QueryAPIKeyParams are the query parameters of apiKey schemes, redacted
	// from the access log (as are the parameters of the header and cookie
	// apiKey schemes of Schemes).
	QueryAPIKeyParams []string
	// ProviderLogin is set when the spec asks for login through external
	// providers (an authorizationCode flow or an openIdConnect scheme): the
	// server warns when LOGIN_PROVIDERS configures none. Configured
	// providers are served whether or not it is set.
	ProviderLogin bool
	// Custom verifies the schemes gatehouse cannot verify itself, by name.
	Custom map[string]CustomVerifier
	// RateLimits are the operations' request rate limits from
	// gatehouse.yaml and the spec (see RateLimiter).
	RateLimits RateLimits
	// SpecScopes are the scopes the spec's operations require, sorted
	// (SpecScopes): granting another one, by an administration command or
	// ADMIN_SCOPES, warns. nil: no warnings.
	SpecScopes []string
	// Logger receives authentication events, the access log and start-up
	// warnings; nil discards them.
	Logger *slog.Logger
}

// orDiscard returns log, or a logger that discards when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// Service is the authentication runtime of one server: store, keys,
// tokens, accounts, the guard, and the token, revocation and JWKS
// endpoints. Build it with New (or NewTestService), then Mount its
// endpoints, Protect the API's routes with Guard, and Serve.
type Service struct {
	cfg        Config
	opts       Options
	log        *slog.Logger
	store      store.Store
	tokens     *Tokens
	rev        *Revocations
	accounts   *Accounts
	guard      *Guard
	endpoints  *endpoints
	login      *loginFlow // nil without LOGIN_PROVIDERS (login_gen.go)
	tokenPath  string
	revokePath string

	storeAttrs    []slog.Attr  // logged when serving starts
	throttleAttrs []slog.Attr  // likewise
	counts        store.Counts // shared in Redis; nil without REDIS_URL
	limiter       *RateLimiter // nil: no rate limits

	stop      context.CancelFunc // ends the revocation poll and push
	polling   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New builds the service from the configuration: it opens, with backends
// (open.Backends{}), the store named by DATABASE_URL and the Redis of
// REDIS_URL, loads the signing keys (HS256 from JWT_SECRET; for the
// asymmetric algorithms from JWT_KEY_DIR, creating the first key if there
// is none), loads the revocation state and keeps it current in the
// background until ctx ends or Close is called: by polling the store's
// feed, and at once when the store pushes news (store.RevocationListener).
func New(ctx context.Context, cfg Config, backends Backends, opts Options) (*Service, error) {
	if err := checkBackends(&cfg, backends); err != nil {
		return nil, err
	}
	log := orDiscard(opts.Logger)
	keys, err := loadKeys(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.StoreKind == StoreSQLite {
		if w := databaseFileWarning(cfg.StorePath); w != "" {
			cfg.Warnings = append(slices.Clip(cfg.Warnings), w)
		}
	}
	st, storeAttrs, err := openStore(ctx, cfg, backends)
	if err != nil {
		return nil, err
	}
	counts, err := openCounts(ctx, cfg, backends, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	s, err := newService(ctx, cfg, opts, log, st, counts, keys, newHasher(cfg), time.Now)
	if err != nil {
		closeBackends(st, counts)
		return nil, err
	}
	s.storeAttrs = storeAttrs
	if err := s.createFirstAdmin(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// newHasher returns the password hasher PASSWORD_HASH names.
func newHasher(cfg Config) PasswordHasher {
	if cfg.PasswordHash == HashBcrypt {
		return NewBcrypt(0)
	}
	return NewArgon2id(DefaultArgon2Params)
}

// NewTestService returns a service for tests: a memory store, a random
// HS256 secret, cheap password hashing, no logging unless opts.Logger is
// set, and the clock now (time.Now if nil), which tokens, sessions and
// throttling all follow, so a test can move time forward to expire them.
// Call Close when done.
func NewTestService(opts Options, now func() time.Time) (*Service, error) {
	return newTestService(opts, now, memory.New(), nil, nil)
}

// newTestService is NewTestService on st, with configure (if not nil)
// changing the configuration first, and REDIS_URL's counts, if it sets
// one, opened with backends. The service closes st.
func newTestService(opts Options, now func() time.Time, st store.Store, backends Backends, configure func(*Config)) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	secret := make([]byte, MinHMACSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("auth: test secret: %w", err)
	}
	cfg := Config{
		Development:     true,
		JWTSecret:       secret,
		JWTAlgorithm:    AlgHS256,
		Issuer:          "gatehouse-test",
		Audience:        "api",
		AccessTokenTTL:  DefaultAccessTTL,
		RefreshTokenTTL: 7 * 24 * time.Hour,
		PasswordHash:    HashArgon2id,
		StoreKind:       StoreMemory,
		ListenAddr:      "127.0.0.1:0",
		MaxBodyBytes:    DefaultMaxBodyBytes,
		LogFormat:       "text",
	}
	if configure != nil {
		configure(&cfg) // may set the secret: instances of one server share it
	}
	keys, err := NewHMACKeySet(cfg.JWTSecret)
	if err != nil {
		return nil, err
	}
	log := orDiscard(opts.Logger)
	// The smallest argon2id cost: tests check behaviour, not hash strength.
	hasher := NewArgon2id(Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
	counts, err := openCounts(context.Background(), cfg, backends, log)
	if err != nil {
		return nil, err
	}
	s, err := newService(context.Background(), cfg, opts, log, st, counts, keys, hasher, now)
	if err != nil && counts != nil {
		counts.Close()
	}
	return s, err
}

// newService builds a service on st and counts (nil: each instance counts
// alone), which it closes when it is closed; on an error, they are the
// caller's to close.
func newService(ctx context.Context, cfg Config, opts Options, log *slog.Logger, st store.Store, counts store.Counts, keys *KeySet,
	hasher PasswordHasher, now func() time.Time) (*Service, error) {
	// Serve logs them with the configuration's (admin commands do not).
	cfg.Warnings = append(slices.Clip(cfg.Warnings), keys.warnings...)
	rev := NewRevocations(st)
	rev.now = now // prune by the same clock the tokens are checked with
	rev.SetLogger(log)
	rev.SetMaxStaleness(cfg.RevocationMaxStaleness)
	if err := rev.Sync(ctx); err != nil {
		return nil, err
	}
	tokens := NewTokens(TokenConfig{
		Issuer:    cfg.Issuer,
		Audience:  cfg.Audience,
		AccessTTL: cfg.AccessTokenTTL,
		Leeway:    cfg.Leeway,
		Now:       now,
	}, keys, rev)
	throttle, throttleAttrs := newServerThrottle(cfg, counts, log, now)
	accounts := NewAccounts(st, hasher, throttle, AccountsOptions{
		Now:        now,
		ClientAddr: cfg.ClientAddr,
	})
	guard, err := newGuard(cfg, opts, log, accounts, tokens, nil)
	if err != nil {
		return nil, err
	}
	limiter, err := NewRateLimiter(cfg, opts.RateLimits, log, now)
	if err != nil {
		return nil, err
	}
	if counts != nil {
		shareRateLimits(limiter, counts, log)
	}
	s := &Service{
		limiter:    limiter,
		cfg:        cfg,
		opts:       opts,
		log:        log,
		store:      st,
		tokens:     tokens,
		rev:        rev,
		accounts:   accounts,
		guard:      guard,
		counts:     counts,
		tokenPath:  firstNonEmpty(cfg.TokenPath, opts.TokenPath, DefaultTokenPath),
		revokePath: firstNonEmpty(cfg.RevokePath, opts.RevokePath, DefaultRevokePath),
	}
	s.throttleAttrs = throttleAttrs
	if s.tokenPath == s.revokePath {
		return nil, fmt.Errorf("auth: the token and revocation endpoints are both configured at %s", s.tokenPath)
	}
	s.endpoints = &endpoints{
		store:             st,
		accounts:          accounts,
		tokens:            tokens,
		rev:               rev,
		log:               log,
		now:               now,
		refreshTTL:        cfg.RefreshTokenTTL,
		refreshGrace:      cfg.RefreshReuseGrace,
		clientCredentials: opts.ClientCredentials,
		maxBody:           cfg.MaxBodyBytes,
		realm:             "api",
	}
	if opts.ProviderLogin && len(cfg.Login.Providers) == 0 {
		s.cfg.Warnings = append(slices.Clip(s.cfg.Warnings), "the spec asks for login through external providers, but LOGIN_PROVIDERS is empty: that login is off")
	}
	if s.login, err = newLoginFlow(cfg.Login, s.endpoints, accounts); err != nil {
		return nil, err
	}
	pollCtx, stop := context.WithCancel(ctx)
	s.stop = stop
	s.polling.Add(1)
	go func() {
		defer s.polling.Done()
		rev.Run(pollCtx, cmp.Or(cfg.revocationPoll, DefaultRevocationPoll))
	}()
	if l, ok := st.(store.RevocationListener); ok && !cfg.noRevocationPush {
		s.polling.Add(1)
		go func() {
			defer s.polling.Done()
			l.ListenRevocations(pollCtx, rev.Notify, log)
		}()
	}
	return s, nil
}

// newServerThrottle returns the throttle of a server, sharing its counts
// in counts (the Redis of REDIS_URL) if not nil, and what the server logs
// about it when it starts serving.
func newServerThrottle(cfg Config, counts store.Counts, log *slog.Logger, now func() time.Time) (*Throttle, []slog.Attr) {
	throttle := NewThrottle(ThrottleConfig{Now: now})
	if counts == nil {
		return throttle, []slog.Attr{slog.String("counts", "in this instance only; set REDIS_URL to share them between instances")}
	}
	shareThrottle(throttle, counts, log)
	return throttle, []slog.Attr{slog.String("counts", "shared by every instance, in redis"),
		slog.String("url", store.RedactURL("REDIS_URL", cfg.RedisURL)), slog.String("key_prefix", cfg.RedisKeyPrefix)}
}

// closeBackends closes st and counts (if not nil).
func closeBackends(st store.Store, counts store.Counts) error {
	err := st.Close()
	if counts != nil {
		counts.Close()
	}
	return err
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// loadKeys returns the signing keys: the HMAC secrets, or the key directory
// of an asymmetric algorithm, where the first key is created if there is
// none yet.
func loadKeys(ctx context.Context, cfg Config, log *slog.Logger) (*KeySet, error) {
	if cfg.JWTAlgorithm == AlgHS256 || cfg.JWTAlgorithm == "" {
		ks, err := NewHMACKeySet(cfg.JWTSecret, cfg.JWTPreviousSecrets...)
		if err != nil {
			return nil, fmt.Errorf("JWT_SECRET: %w", err)
		}
		return ks, nil
	}
	names, err := keyFileNames(cfg.JWTKeyDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(names) == 0) {
		kid, err := GenerateKey(cfg.JWTKeyDir, cfg.JWTAlgorithm)
		if err != nil {
			return nil, fmt.Errorf("JWT_KEY_DIR: %w", err)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "created the first signing key",
			slog.String("alg", cfg.JWTAlgorithm), slog.String("kid", kid), slog.String("dir", cfg.JWTKeyDir))
	} else if err != nil {
		return nil, fmt.Errorf("JWT_KEY_DIR: %w", err)
	}
	ks, err := LoadKeyDir(cfg.JWTKeyDir, cfg.JWTAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("JWT_KEY_DIR: %w", err)
	}
	return ks, nil
}

// Guard returns the guard that enforces each operation's security.
func (s *Service) Guard() *Guard { return s.guard }

// Accounts returns the user, API key and client operations, for tests and
// custom administration.
func (s *Service) Accounts() *Accounts { return s.accounts }

// Tokens returns the access token service.
func (s *Service) Tokens() *Tokens { return s.tokens }

// Store returns the store the service uses.
func (s *Service) Store() store.Store { return s.store }

// RateLimiter returns the request rate limiter; nil (which limits
// nothing) when every limit is none.
func (s *Service) RateLimiter() *RateLimiter { return s.limiter }

// Config returns the configuration the service was built with.
func (s *Service) Config() Config { return s.cfg }

// TokenPath returns the path the token endpoint is served at.
func (s *Service) TokenPath() string { return s.tokenPath }

// RevokePath returns the path the revocation endpoint is served at.
func (s *Service) RevokePath() string { return s.revokePath }

// Mount registers the token endpoint, the revocation endpoint and, for the
// asymmetric algorithms, the JWKS document (JWKSPath) on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.Handle(s.tokenPath, s.limiter.Operation(TokenRateLimitPolicy, tokenEndpoint{s.endpoints}))
	mux.Handle(s.revokePath, revokeEndpoint{s.endpoints})
	if s.login != nil {
		s.login.mount(mux)
	}
	if s.cfg.JWTAlgorithm != AlgHS256 && s.cfg.JWTAlgorithm != "" {
		// Not "GET "+JWKSPath: the handler answers other methods with a
		// JSON 405 itself.
		mux.Handle(JWKSPath, s.tokens.JWKSHandler())
	}
}

// Handler wraps h in the hardening middleware (see Harden): request ids,
// access log, panic recovery, security headers, size limits and CORS; and
// it answers HealthPath (see Health).
func (s *Service) Handler(h http.Handler) http.Handler {
	return harden(s.cfg, s.opts, s.log, s.withHealth(s.limiter.Address(h)))
}

// Serve serves h, hardened and with HealthPath answered as Handler does, on
// the configured address until ctx ends, then shuts down gracefully (see
// Serve). It first logs the store (its URL without the password) and the
// configuration's warnings (development mode, a generated secret, a memory
// store), which matter to a running server rather than to an admin command.
func (s *Service) Serve(ctx context.Context, h http.Handler) error {
	if s.storeAttrs != nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "store", s.storeAttrs...)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "failed-login throttling", s.throttleAttrs...)
	return serve(ctx, s.cfg, s.opts, s.log, s.withHealth(s.limiter.Address(h)))
}

// harden wraps h in the hardening middleware, redacting from the access log
// the parameter of every apiKey scheme of opts wherever the scheme reads it:
// a header or cookie key sent in the query by mistake is a key all the same.
func harden(cfg Config, opts Options, log *slog.Logger, h http.Handler) http.Handler {
	redact := slices.Clone(opts.QueryAPIKeyParams)
	for _, s := range opts.Schemes {
		if s.Kind == KindAPIKey {
			redact = append(redact, s.Param)
		}
	}
	return Harden(cfg, HardenOptions{Logger: log, RedactQuery: redact}, h)
}

// serve logs the configuration's warnings and serves h, hardened, until
// ctx ends.
func serve(ctx context.Context, cfg Config, opts Options, log *slog.Logger, h http.Handler) error {
	for _, w := range cfg.Warnings {
		log.LogAttrs(ctx, slog.LevelWarn, "WARNING: "+w)
	}
	return Serve(ctx, NewHTTPServer(cfg, harden(cfg, opts, log, h)), cfg, log)
}

// Admin runs an administration command (users, apikeys, clients, keys;
// see RunAdmin) against the service's store and returns the exit code.
// RunAdminFromEnv does the same without a service, and so without the
// signing secret a service needs.
func (s *Service) Admin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunAdmin(ctx, args, stdin, stdout, stderr, AdminDeps{
		Accounts:   s.accounts,
		Store:      s.store,
		Algorithm:  s.cfg.JWTAlgorithm,
		KeyDir:     s.cfg.JWTKeyDir,
		Getenv:     os.Getenv,
		SpecScopes: s.opts.SpecScopes,
	})
}

// RunAdminFromEnv runs an administration command (see RunAdmin) with the
// configuration from the environment and .env (as LoadConfigFromEnv), on
// the store backends opens, and returns the exit code. It needs only the
// store's settings (DATABASE_URL, PASSWORD_HASH) and, for `keys rotate`,
// JWT_ALGORITHM and JWT_KEY_DIR: not the signing secret, so that it can
// run as a one-off job (a migration, a user disabled) beside the running
// instances.
func RunAdminFromEnv(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, backends Backends) int {
	return RunAdminFromEnvWith(ctx, args, stdin, stdout, stderr, backends, Options{})
}

// runAdminWith is RunAdminFromEnv with the variables from lookup.
func runAdminWith(ctx context.Context, lookup func(string) (string, bool), args []string, stdin io.Reader, stdout, stderr io.Writer, backends Backends) int {
	return runAdminLookup(ctx, func() (func(string) (string, bool), error) { return lookup, nil }, args, stdin, stdout, stderr, backends, Options{})
}

// Close stops the background work and closes the store. It is safe to call
// more than once.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.polling.Wait()
		s.closeErr = closeBackends(s.store, s.counts)
	})
	return s.closeErr
}

// newGuard builds the guard of a server: its token verifier (own tokens or
// an external issuer's), the accounts for Basic and API keys, and the
// configuration's origins, trusted for cookie credentials (CSRF).
func newGuard(cfg Config, opts Options, log *slog.Logger, accounts *Accounts, tokens *Tokens, external *ExternalTokens) (*Guard, error) {
	var trusted []string
	for _, o := range cfg.CORSAllowedOrigins {
		if o != "*" {
			trusted = append(trusted, o)
		}
	}
	return NewGuard(GuardConfig{
		Schemes:        opts.Schemes,
		Tokens:         tokens,
		External:       external,
		Accounts:       accounts,
		Custom:         opts.Custom,
		Logger:         log,
		TrustedOrigins: trusted,
		ClientAddr:     cfg.ClientAddr,
	})
}
