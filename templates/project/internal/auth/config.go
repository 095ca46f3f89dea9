package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Password hashing algorithms (PASSWORD_HASH).
const (
	HashArgon2id = "argon2id"
	HashBcrypt   = "bcrypt"
)

// Store kinds, from the scheme of DATABASE_URL.
const (
	StoreSQLite   = store.KindSQLite
	StoreMemory   = store.KindMemory
	StorePostgres = store.KindPostgres
)

// Limits of the configurable values.
const (
	minAccessTTL = time.Minute
	minBodyBytes = 1 << 10
	maxBodyBytes = 1 << 30
	// The staleness bound must leave room for a few polls of the feed
	// (each second), and should not let a revoked token live for long.
	minRevocationMaxStaleness = 5 * time.Second
	maxRevocationMaxStaleness = time.Hour
)

// ConfigVar describes one configuration variable, for documentation and
// for the generated .env.example.
type ConfigVar struct {
	Name        string
	Default     string // "" when the variable has no default
	Description string // one sentence or two, plain text
}

// ConfigVars lists every configuration variable the server reads, in the
// order .env.example presents them. LoadConfig takes its defaults from this
// list, so the two cannot disagree.
func ConfigVars() []ConfigVar {
	return slices.Concat([]ConfigVar{
		{"GATEHOUSE_ENV", "production",
			"production or development. Development mode generates a throwaway JWT_SECRET when none is set (tokens then do not survive a restart); never use it in production."},
		{"JWT_SECRET", "",
			"HMAC secret for HS256 access tokens: at least 32 bytes, used as given (prefix with base64: to give binary bytes in standard base64), and random: a secret whose estimated entropy is under 128 bits (a typed password, a repeated or counting pattern) is refused. Generate one with `openssl rand -base64 48`. Required outside development mode when JWT_ALGORITHM is HS256."},
		{"JWT_PREVIOUS_SECRETS", "",
			"Comma-separated earlier JWT_SECRET values, accepted for verification only, so tokens signed before a rotation stay valid until they expire."},
		{"JWT_ALGORITHM", AlgHS256,
			"Signing algorithm of access tokens: HS256, EdDSA, ES256 or RS256."},
		{"JWT_KEY_DIR", "data/keys",
			"Directory of the signing keys for EdDSA, ES256 and RS256. The first key is created when the directory has none; `server keys rotate` adds a new one. A key file other users may access is refused (chmod 600); one its group may read is accepted with a warning."},
		{"JWT_ISSUER", "gatehouse",
			"The iss claim of access tokens, checked on every token."},
		{"JWT_AUDIENCE", "api",
			"The aud claim of access tokens, checked on every token."},
		{"JWT_LEEWAY", "30s",
			"Clock skew tolerated when checking exp and iat, at most 60s."},
		{"ACCESS_TOKEN_TTL", "15m",
			"Lifetime of access tokens, between 1m and 24h."},
		{"REFRESH_TOKEN_TTL", "168h",
			"Absolute lifetime of a login session: refresh tokens rotate on every use but the session ends this long after the login. At least ACCESS_TOKEN_TTL."},
		{"REFRESH_REUSE_GRACE", "0s",
			"Retry grace period of the refresh grant, 0s to 60s. Within it, presenting the refresh token just rotated again, while its successor is unused, returns the same new pair (a client retrying after a lost answer) instead of ending the session. 0s: any second use of a rotated refresh token ends the session."},
		{"REVOCATION_MAX_STALENESS", fmtDuration(DefaultRevocationMaxStaleness),
			"How long the server keeps accepting access tokens when it cannot read the revocation feed from the database (5s to 1h). Beyond it, requests with access tokens get 503 and /health reports why, until the database answers again."},
		{"PASSWORD_HASH", HashArgon2id,
			"Password hashing algorithm for new passwords: argon2id or bcrypt. Existing hashes of either kind keep working."},
		{"DATABASE_URL", "sqlite:data/gatehouse.db",
			"Where users, keys and sessions are stored: sqlite:PATH (a file, created if missing), memory: (lost on exit), " +
				"or postgres://USER:PASSWORD@HOST:5432/DB?sslmode=verify-full for several instances sharing one database. " +
				"A postgres URL takes libpq's parameters (sslmode, sslrootcert, connect_timeout, search_path for the schema) " +
				"and the pool's (pool_max_conns, default the larger of 4 and the number of CPUs; pool_max_conn_lifetime; pool_max_conn_idle_time). " +
				"The schema is migrated at start-up and by `server migrate`. Logs show the URL without its password. " +
				"On postgres, a revocation made by one instance reaches the others within 100 ms (LISTEN/NOTIFY), " +
				"or within 1 s (the feed's poll) while that connection is lost; every database call is bounded (5 s, or the request's end), " +
				"and while the database is unreachable the requests that need it get 503 (access tokens too, after REVOCATION_MAX_STALENESS)."},
		{"REDIS_URL", "",
			"Redis shared by every instance, so that the throttling of failed authentication and the request rate limits count across instances: " +
				"redis://[USER:PASSWORD@]HOST:6379/DB, or rediss://... for TLS (use it across a network). " +
				"Empty: each instance counts on its own, so with several instances a guesser gets each one's allowance, and a caller each one's rate limit. " +
				"Options after ? are go-redis's (dial_timeout, read_timeout, pool_size, client_name, ...). " +
				"Each call is bounded (1 s, or the request's end); while Redis is unreachable or does not answer, each instance counts on its own again " +
				"(requests are not refused for want of Redis) and logs a warning; logs show the URL without its password."},
		{"REDIS_KEY_PREFIX", "gatehouse",
			"Prefix of every Redis key the server writes (PREFIX:...): deployments sharing one Redis each need their own, such as shop-prod."},
	}, rateLimitConfigVars(true, true), []ConfigVar{
		{"LISTEN_ADDR", ":8080",
			"Address the server listens on, host:port."},
		{"TLS_CERT_FILE", "",
			"PEM certificate chain; set together with TLS_KEY_FILE to serve HTTPS (and send HSTS)."},
		{"TLS_KEY_FILE", "",
			"PEM private key of TLS_CERT_FILE; refused if other users may access it (chmod 600)."},
		{"CORS_ALLOWED_ORIGINS", "",
			"Comma-separated origins (scheme://host[:port]) that browsers may call the API from; empty allows none. * allows every origin and cannot be combined with CORS_ALLOW_CREDENTIALS; null is refused."},
		{"CORS_ALLOW_CREDENTIALS", "false",
			"Whether cross-origin requests may carry cookies (needed only for cookie API keys)."},
		{"TRUSTED_PROXIES", "",
			"Comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For is believed; from anyone else it is ignored. Setting it also says TLS ends at the proxy: without it or TLS_CERT_FILE, a production server warns that it serves plain HTTP."},
		{"TOKEN_PATH", "",
			"Path of the token endpoint; empty means the one derived from the spec (its password flow's tokenUrl, else /auth/token)."},
		{"REVOKE_PATH", "",
			"Path of the RFC 7009 revocation (logout) endpoint; empty means the one the project was generated with (/auth/revoke unless configured)."},
		{"MAX_BODY_BYTES", "1048576",
			"Largest request body accepted, in bytes (1 MiB by default)."},
		{"LOG_LEVEL", "info",
			"debug, info, warn or error. info writes one access-log line per request, saying who it authenticated as, and authentication failures at most once a minute per client address, with a count of the others; debug adds a line per authentication; warn and error drop the access log."},
		{"LOG_FORMAT", "",
			"json or text; empty means text in development mode (one readable line per event) and json in production (for a log collector)."},
		{"DOCS_ENABLED", "",
			"true serves the interactive API reference at /docs, false does not; empty means on in development mode and off in production."},
		{"ADMIN_USERNAME", "",
			"A first administrator created at start-up, for containers: when no user of this name exists, the server creates it with the password in ADMIN_PASSWORD_FILE and the scopes in ADMIN_SCOPES; an existing user is left unchanged (logged). Several instances starting at once create it once."},
		{"ADMIN_PASSWORD_FILE", "",
			"File holding the password of ADMIN_USERNAME (its first line; a Docker or Kubernetes secret), read only when the user is created. Required with ADMIN_USERNAME."},
		{"ADMIN_SCOPES", "",
			"Scopes of ADMIN_USERNAME, separated by spaces or commas, when it is created."},
	}, loginConfigVars())
}

// Config is the validated configuration of the server. LoadConfig fills it
// from environment variables; ConfigVars documents each one.
type Config struct {
	// Development is true when GATEHOUSE_ENV=development.
	Development bool

	// JWTSecret is the HS256 signing secret (JWT_SECRET), and
	// JWTPreviousSecrets the earlier ones still accepted for verification.
	JWTSecret          []byte
	JWTPreviousSecrets [][]byte
	// GeneratedSecret is true when JWTSecret was generated because none was
	// set in development mode.
	GeneratedSecret bool

	JWTAlgorithm string // one of AlgHS256, AlgEdDSA, AlgES256, AlgRS256
	JWTKeyDir    string // asymmetric keys
	Issuer       string
	Audience     string
	Leeway       time.Duration

	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is REFRESH_REUSE_GRACE: 0 for strict reuse
	// detection.
	RefreshReuseGrace time.Duration
	// RevocationMaxStaleness is REVOCATION_MAX_STALENESS: how long access
	// tokens are accepted without a successful read of the revocation feed.
	RevocationMaxStaleness time.Duration

	PasswordHash string // HashArgon2id or HashBcrypt

	// StoreKind is StoreSQLite, StorePostgres or StoreMemory; StorePath is
	// the SQLite file. DatabaseURL is the variable as given: it may hold a
	// password, so log it only through store.RedactURL. What a postgres://
	// URL says beyond its scheme is checked by the Backends that open it
	// (New).
	StoreKind   string
	StorePath   string
	DatabaseURL string
	// RedisURL is REDIS_URL, "" for none: as given, it may hold a password,
	// so log it only through store.RedactURL. Like DatabaseURL, it is
	// checked by the Backends that open it.
	RedisURL string
	// RedisKeyPrefix is REDIS_KEY_PREFIX, without the colon that follows it.
	RedisKeyPrefix string

	// RateLimit is RATE_LIMIT, and RateLimitSet whether it was set (then
	// it wins over gatehouse.yaml's default); RateLimitAddress is
	// RATE_LIMIT_ADDRESS. The zero RateLimit limits nothing.
	RateLimit        RateLimit
	RateLimitSet     bool
	RateLimitAddress RateLimit

	ListenAddr  string
	TLSCertFile string
	TLSKeyFile  string

	CORSAllowedOrigins   []string // exact origins, or the single entry "*"
	CORSAllowCredentials bool
	TrustedProxies       []netip.Prefix

	// TokenPath and RevokePath are "" unless TOKEN_PATH and REVOKE_PATH
	// are set; the service then uses the paths the generator chose.
	TokenPath  string
	RevokePath string

	MaxBodyBytes int64
	LogLevel     slog.Level
	LogFormat    string // "json" or "text"

	// DocsEnabled is DOCS_ENABLED: whether the API reference is served at
	// /docs. It defaults to Development.
	DocsEnabled bool

	// AdminUsername, AdminPasswordFile and AdminScopes are ADMIN_USERNAME,
	// ADMIN_PASSWORD_FILE and ADMIN_SCOPES: the first administrator New
	// creates if it does not exist ("" for none).
	AdminUsername     string
	AdminPasswordFile string
	AdminScopes       []string

	// Warnings are conditions worth logging at start-up that do not stop
	// the server (development mode, a memory store).
	Warnings []string

	// Login configures login through external providers (LOGIN_*).
	Login LoginConfig

	// revocationPoll is how often the revocation feed is pulled
	// (DefaultRevocationPoll if 0), and noRevocationPush turns off the
	// store's push path: tests set them to tell push from polling.
	revocationPoll   time.Duration
	noRevocationPush bool
	// rateLimitKeys bounds the callers each rate limit policy tracks
	// (defaultRateLimitKeys if 0).
	rateLimitKeys int
}

// TLS reports whether the server serves HTTPS.
func (c Config) TLS() bool { return c.TLSCertFile != "" }

// LoadConfigFromEnv loads the configuration from the process environment
// and, if the working directory has one, a .env file. A variable set in the
// environment wins over the same variable in .env. The .env file is read,
// not applied: the process environment is left unchanged.
func LoadConfigFromEnv() (Config, error) {
	lookup, err := envLookup()
	if err != nil {
		return Config{}, err
	}
	return LoadConfig(lookup)
}

// envLookup returns a lookup of the process environment and, if the
// working directory has one, the .env file, which it reads now. A variable
// set in the environment wins over the same variable in .env.
func envLookup() (func(string) (string, bool), error) {
	dotenv, err := readDotEnv(".env")
	if err != nil {
		return nil, err
	}
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		v, ok := dotenv[name]
		return v, ok
	}, nil
}

// readDotEnv reads a .env file, or returns nothing when there is none.
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	vars, err := godotenv.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vars, nil
}

// LoadConfig reads and validates the configuration, getting each variable
// from lookup (os.LookupEnv, or a map in tests). Unset and empty variables
// take their defaults. Every problem is reported, each on its own line
// naming the variable, in one error (errors.Join). The parameters of a
// postgres:// DATABASE_URL and of REDIS_URL are checked by the Backends
// that open them, with their drivers, when New or an administration
// command starts.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	return loadConfig(lookup, signingKeys)
}

// keyVars says which of the signing keys' variables loadConfig reads.
type keyVars int

const (
	// noKeys: none, for a server that verifies only someone else's tokens.
	noKeys keyVars = iota
	// keyLocations: JWT_ALGORITHM and JWT_KEY_DIR but not the secrets
	// (JWT_SECRET, JWT_PREVIOUS_SECRETS), for the admin commands, which
	// sign nothing (`keys rotate` creates a key in JWT_KEY_DIR).
	keyLocations
	// signingKeys: all of them, for a server that issues tokens.
	signingKeys
)

// getter returns a function that reads a variable through lookup, trimmed,
// falling back to its default in vars when unset or blank.
func getter(lookup func(string) (string, bool), vars []ConfigVar) func(string) string {
	defaults := make(map[string]string, len(vars))
	for _, v := range vars {
		defaults[v.Name] = v.Default
	}
	return func(name string) string {
		if v, ok := lookup(name); ok {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
		return defaults[name]
	}
}

// loadConfig is LoadConfig, reading of the signing keys' variables
// (JWT_ALGORITHM, JWT_SECRET, JWT_PREVIOUS_SECRETS, JWT_KEY_DIR) those keys
// says.
func loadConfig(lookup func(string) (string, bool), keys keyVars) (Config, error) {
	get := getter(lookup, ConfigVars())
	set := func(name string) bool {
		v, ok := lookup(name)
		return ok && strings.TrimSpace(v) != ""
	}

	var c Config
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	switch env := get("GATEHOUSE_ENV"); env {
	case "production":
	case "development":
		c.Development = true
		c.Warnings = append(c.Warnings, "GATEHOUSE_ENV=development: development mode, not for production")
	default:
		fail("GATEHOUSE_ENV", "must be production or development, not %q", env)
	}

	if keys != noKeys {
		c.JWTAlgorithm = get("JWT_ALGORITHM")
		switch c.JWTAlgorithm {
		case AlgHS256, AlgEdDSA, AlgES256, AlgRS256:
		default:
			fail("JWT_ALGORITHM", "must be HS256, EdDSA, ES256 or RS256, not %q", c.JWTAlgorithm)
		}
		c.JWTKeyDir = get("JWT_KEY_DIR")
	}
	if keys == signingKeys {
		if c.JWTAlgorithm == AlgHS256 {
			switch secret := get("JWT_SECRET"); {
			case secret == "" && c.Development:
				c.JWTSecret = make([]byte, MinHMACSecretLen)
				if _, err := rand.Read(c.JWTSecret); err != nil {
					fail("JWT_SECRET", "cannot generate a development secret: %v", err)
				}
				c.GeneratedSecret = true
				c.Warnings = append(c.Warnings, "JWT_SECRET is not set: using a random secret for this run only; "+
					"every token becomes invalid when the server restarts")
			case secret == "":
				fail("JWT_SECRET", "not set; set it to at least %d random bytes (e.g. `openssl rand -base64 48`), "+
					"or set GATEHOUSE_ENV=development to use a throwaway secret", MinHMACSecretLen)
			default:
				key, err := parseSecret(secret)
				if err != nil {
					fail("JWT_SECRET", "%v", err)
				}
				c.JWTSecret = key
			}
			if prev := get("JWT_PREVIOUS_SECRETS"); prev != "" {
				for i, s := range strings.Split(prev, ",") {
					key, err := parseSecret(strings.TrimSpace(s))
					if err != nil {
						fail("JWT_PREVIOUS_SECRETS", "entry %d: %v", i+1, err)
						continue
					}
					c.JWTPreviousSecrets = append(c.JWTPreviousSecrets, key)
				}
			}
		} else if set("JWT_SECRET") || set("JWT_PREVIOUS_SECRETS") {
			c.Warnings = append(c.Warnings, fmt.Sprintf("JWT_SECRET and JWT_PREVIOUS_SECRETS are ignored with JWT_ALGORITHM=%s; the keys are in %s",
				c.JWTAlgorithm, c.JWTKeyDir))
		}
	}

	c.Issuer = get("JWT_ISSUER")
	c.Audience = get("JWT_AUDIENCE")
	for _, v := range []struct{ name, value string }{{"JWT_ISSUER", c.Issuer}, {"JWT_AUDIENCE", c.Audience}} {
		if len(v.value) > 256 || strings.ContainsFunc(v.value, isControlOrSpace) {
			fail(v.name, "must be at most 256 characters without spaces or control characters")
		}
	}

	duration := func(name string, lo, hi time.Duration) time.Duration {
		v := get(name)
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			fail(name, "%q is not a duration such as 15m or 168h", v)
		case d < lo || (hi > 0 && d > hi):
			if hi > 0 {
				fail(name, "must be between %s and %s, not %s", fmtDuration(lo), fmtDuration(hi), fmtDuration(d))
			} else {
				fail(name, "must be at least %s, not %s", fmtDuration(lo), fmtDuration(d))
			}
		}
		return d
	}
	c.Leeway = duration("JWT_LEEWAY", 0, MaxLeeway)
	c.AccessTokenTTL = duration("ACCESS_TOKEN_TTL", minAccessTTL, MaxAccessTTL)
	c.RefreshTokenTTL = duration("REFRESH_TOKEN_TTL", minAccessTTL, 0)
	if c.AccessTokenTTL > 0 && c.RefreshTokenTTL > 0 && c.RefreshTokenTTL < c.AccessTokenTTL {
		fail("REFRESH_TOKEN_TTL", "must be at least ACCESS_TOKEN_TTL (%s), not %s",
			fmtDuration(c.AccessTokenTTL), fmtDuration(c.RefreshTokenTTL))
	}
	c.RefreshReuseGrace = duration("REFRESH_REUSE_GRACE", 0, MaxRefreshReuseGrace)
	c.RevocationMaxStaleness = duration("REVOCATION_MAX_STALENESS", minRevocationMaxStaleness, maxRevocationMaxStaleness)

	c.PasswordHash = get("PASSWORD_HASH")
	if c.PasswordHash != HashArgon2id && c.PasswordHash != HashBcrypt {
		fail("PASSWORD_HASH", "must be argon2id or bcrypt, not %q", c.PasswordHash)
	}

	c.DatabaseURL = get("DATABASE_URL")
	kind, path, err := parseDatabaseURL(c.DatabaseURL)
	if err != nil {
		fail("DATABASE_URL", "%v", err)
	}
	c.StoreKind, c.StorePath = kind, path
	switch kind {
	case StoreMemory:
		c.Warnings = append(c.Warnings, "DATABASE_URL=memory: users and sessions are lost when the server stops")
	}
	c.RedisURL = get("REDIS_URL")
	c.RedisKeyPrefix = get("REDIS_KEY_PREFIX")
	if len(c.RedisKeyPrefix) > 64 || strings.ContainsFunc(c.RedisKeyPrefix, isControlOrSpace) {
		fail("REDIS_KEY_PREFIX", "must be at most 64 characters without spaces or control characters")
	}
	if c.RedisURL == "" && kind == StorePostgres {
		c.Warnings = append(c.Warnings, "REDIS_URL is not set: failed logins are throttled per instance, "+
			"so with several instances a guesser gets each one's allowance; set REDIS_URL to share the counts")
	}

	for _, v := range []struct {
		name string
		dst  *RateLimit
	}{{"RATE_LIMIT", &c.RateLimit}, {"RATE_LIMIT_ADDRESS", &c.RateLimitAddress}} {
		l, err := ParseRateLimit(get(v.name))
		if err != nil {
			fail(v.name, "%v", err)
		}
		*v.dst = l
	}
	c.RateLimitSet = set("RATE_LIMIT")

	c.ListenAddr = get("LISTEN_ADDR")
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil {
		fail("LISTEN_ADDR", "%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", c.ListenAddr)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		fail("LISTEN_ADDR", "%q has no valid port number", c.ListenAddr)
	}

	c.TLSCertFile, c.TLSKeyFile = get("TLS_CERT_FILE"), get("TLS_KEY_FILE")
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		fail("TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE must be set together, or neither")
	}

	// TRUSTED_PROXIES says a proxy stands in front, which is where TLS
	// ends then.
	if !c.Development && !c.TLS() && !set("TRUSTED_PROXIES") {
		c.Warnings = append(c.Warnings, "production mode on plain HTTP: passwords, tokens and API keys cross the network "+
			"readable by anyone on the way; set TLS_CERT_FILE and TLS_KEY_FILE, or, behind a reverse proxy that ends TLS, list it in TRUSTED_PROXIES")
	}

	credentials, err := strconv.ParseBool(get("CORS_ALLOW_CREDENTIALS"))
	if err != nil {
		fail("CORS_ALLOW_CREDENTIALS", "must be true or false")
	}
	c.CORSAllowCredentials = credentials
	if v := get("CORS_ALLOWED_ORIGINS"); v != "" {
		origins, problems := parseOrigins(v, credentials)
		for _, p := range problems {
			fail("CORS_ALLOWED_ORIGINS", "%s", p)
		}
		c.CORSAllowedOrigins = origins
	}

	if v := get("TRUSTED_PROXIES"); v != "" {
		for _, s := range strings.Split(v, ",") {
			p, err := parsePrefix(strings.TrimSpace(s))
			if err != nil {
				fail("TRUSTED_PROXIES", "%v", err)
				continue
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}

	for _, p := range []struct {
		name string
		dst  *string
	}{{"TOKEN_PATH", &c.TokenPath}, {"REVOKE_PATH", &c.RevokePath}} {
		v := get(p.name)
		if v != "" && !validEndpointPath(v) {
			fail(p.name, "%q must be an absolute path such as /auth/token, without spaces, query, wildcards or a trailing slash", v)
		}
		*p.dst = v
	}

	if v := get("MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			fail("MAX_BODY_BYTES", "%q is not a number of bytes", v)
		case n < minBodyBytes || n > maxBodyBytes:
			fail("MAX_BODY_BYTES", "must be between %d and %d", minBodyBytes, maxBodyBytes)
		}
		c.MaxBodyBytes = n
	}

	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		fail("LOG_LEVEL", "must be debug, info, warn or error, not %q", get("LOG_LEVEL"))
	}
	c.LogFormat = get("LOG_FORMAT")
	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.Development {
			c.LogFormat = "text"
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		fail("LOG_FORMAT", "must be json or text, not %q", c.LogFormat)
	}

	c.DocsEnabled = c.Development
	if v := get("DOCS_ENABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fail("DOCS_ENABLED", "must be true or false, not %q", v)
		}
		c.DocsEnabled = b
	}

	if keys == signingKeys { // login through providers (login_config_gen.go)
		var loginErrs []error
		c.Login, loginErrs = loadLoginConfig(lookup, c.Development)
		errs = append(errs, loginErrs...)
	}

	c.AdminUsername, c.AdminPasswordFile = get("ADMIN_USERNAME"), get("ADMIN_PASSWORD_FILE")
	if v := get("ADMIN_SCOPES"); v != "" {
		c.AdminScopes = parseScopesFlag(v)
	}
	switch {
	case c.AdminUsername == "" && (c.AdminPasswordFile != "" || len(c.AdminScopes) > 0):
		fail("ADMIN_USERNAME", "is required with ADMIN_PASSWORD_FILE and ADMIN_SCOPES")
	case c.AdminUsername != "" && c.AdminPasswordFile == "":
		fail("ADMIN_PASSWORD_FILE", "is required with ADMIN_USERNAME: the file that holds the administrator's password")
	case c.AdminUsername != "":
		if _, err := NormalizeUsername(c.AdminUsername); err != nil {
			fail("ADMIN_USERNAME", "%s", strings.TrimPrefix(err.Error(), "auth: "))
		}
		if _, err := cleanScopes(c.AdminScopes); err != nil {
			fail("ADMIN_SCOPES", "%s", strings.TrimPrefix(err.Error(), "auth: "))
		}
	}

	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// NewLogger returns the structured logger configured by LOG_LEVEL and
// LOG_FORMAT, writing to w. Both formats escape user-supplied strings, so
// one event stays one line. When w is a LogWriter, the logger is also the
// one that reports lines the LogWriter had to drop.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	lw, _ := w.(*LogWriter)
	var h slog.Handler
	switch {
	case c.LogFormat == "text":
		h = slog.NewTextHandler(w, opts)
	case lw != nil:
		h = &jsonLines{Handler: slog.NewJSONHandler(w, opts), w: lw}
	default:
		h = slog.NewJSONHandler(w, opts)
	}
	log := slog.New(h)
	if lw != nil {
		lw.setLogger(log)
	}
	return log
}

// parseSecret decodes a JWT_SECRET value and checks that it is strong
// enough. The error never contains the secret.
func parseSecret(s string) ([]byte, error) {
	key := []byte(s)
	if b64, ok := strings.CutPrefix(s, "base64:"); ok {
		var err error
		key, err = base64.StdEncoding.DecodeString(b64)
		if err != nil {
			key, err = base64.RawStdEncoding.DecodeString(b64)
		}
		if err != nil {
			return nil, errors.New("the value after base64: is not valid standard base64")
		}
	}
	if len(key) < MinHMACSecretLen {
		return nil, fmt.Errorf("too short: %d bytes, at least %d random bytes are required (e.g. `openssl rand -base64 48`)",
			len(key), MinHMACSecretLen)
	}
	if bits := secretBits(key); bits < minSecretBits {
		return nil, fmt.Errorf("too weak: about %d bits of entropy by a rough estimate (it repeats itself, runs in sequence "+
			"or uses few kinds of characters), at least %d are required; generate one with `openssl rand -base64 48`",
			int(bits), minSecretBits)
	}
	return key, nil
}

// parseDatabaseURL returns the store kind and, for SQLite, the file path.
// The message of an error never repeats the URL, which may hold a password.
func parseDatabaseURL(s string) (kind, path string, err error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("%q has no scheme; use sqlite:PATH, memory: or a postgres:// URL", s)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		// Accept sqlite:data/x.db, sqlite:///abs/x.db and sqlite://rel/x.db.
		path = strings.TrimPrefix(rest, "//")
		if path == "" {
			return "", "", errors.New("sqlite: needs a file path, e.g. sqlite:data/gatehouse.db")
		}
		if strings.ContainsRune(path, '?') {
			return "", "", errors.New("sqlite: options after ? are not supported; give only the file path")
		}
		return StoreSQLite, path, nil
	case "memory":
		if rest != "" {
			return "", "", errors.New("memory: takes nothing after the colon")
		}
		return StoreMemory, "", nil
	case "postgres", "postgresql":
		// Checked by the Backends that open it (checkBackends).
		return StorePostgres, "", nil
	}
	return "", "", fmt.Errorf("unknown scheme %q; use sqlite:PATH, memory: or a postgres:// URL", scheme)
}

// parseOrigins parses CORS_ALLOWED_ORIGINS into exact, lower-case origins
// as browsers send them in the Origin header.
func parseOrigins(v string, credentials bool) (origins, problems []string) {
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
			continue
		case o == "*":
			if credentials {
				problems = append(problems, "* cannot be used with CORS_ALLOW_CREDENTIALS=true; list the origins")
			}
			origins = append(origins, o)
			continue
		case strings.EqualFold(o, "null"):
			problems = append(problems, "null is refused: sandboxed pages and local files all send it, so it identifies no one")
			continue
		case strings.Contains(o, "*"):
			problems = append(problems, fmt.Sprintf("%q: wildcards are not supported; list each origin", o))
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			problems = append(problems, fmt.Sprintf("%q is not an origin such as https://app.example.com", o))
			continue
		}
		origins = append(origins, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	if len(origins) > 1 && slices.Contains(origins, "*") {
		problems = append(problems, "* must be the only entry")
	}
	return origins, problems
}

// parsePrefix parses a CIDR, or a single address as a one-address prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validEndpointPath reports whether p can be registered as an exact
// ServeMux path.
func validEndpointPath(p string) bool {
	if !strings.HasPrefix(p, "/") || len(p) > 256 || (len(p) > 1 && strings.HasSuffix(p, "/")) {
		return false
	}
	for _, c := range []byte(p) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("?#{}%\\", c) >= 0 {
			return false
		}
	}
	return true
}

func isControlOrSpace(r rune) bool { return r <= ' ' || r == 0x7f }

// fmtDuration prints d without the trailing zero units of
// time.Duration.String ("15m" rather than "15m0s").
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
