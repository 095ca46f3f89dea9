package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// This file is the runtime of the "minimal" template: credentials come from
// configuration only. API keys are listed in API_KEYS as digests, access
// tokens are signed with the configured JWT keys and handed out by the
// `tokens issue` admin command. There is no user database, no login, no
// token or revocation endpoint.

// APIKeysVar is the configuration variable listing the static API keys.
const APIKeysVar = "API_KEYS"

// maxStaticKeyName bounds the name of a static API key, which becomes the
// principal's subject.
const maxStaticKeyName = 128

// StaticAPIKey is an API key given in configuration: the name of whoever
// holds it (the principal's subject), the SHA-256 digest of the key, and the
// scopes it grants. The key itself is never configured, so a leaked
// configuration does not leak keys.
type StaticAPIKey struct {
	Name   string
	Digest [sha256.Size]byte
	Scopes []string
}

// String returns the key's entry in the API_KEYS syntax:
// NAME:SHA256HEX[:SCOPE SCOPE...].
func (k StaticAPIKey) String() string {
	s := k.Name + ":" + hex.EncodeToString(k.Digest[:])
	if len(k.Scopes) > 0 {
		s += ":" + strings.Join(k.Scopes, " ")
	}
	return s
}

// NewStaticAPIKey creates a random API key for name with scopes. It returns
// the key, to hand to its holder once, and its configuration entry, which
// holds only the key's digest.
func NewStaticAPIKey(name string, scopes []string) (key string, entry StaticAPIKey, err error) {
	if err := validStaticKeyName(name); err != nil {
		return "", StaticAPIKey{}, err
	}
	sc, err := normalizeScopes(scopes)
	if err != nil {
		return "", StaticAPIKey{}, fmt.Errorf("auth: API key scopes: %w", err)
	}
	key, err = randomSecret(APIKeyPrefix, secretBytes)
	if err != nil {
		return "", StaticAPIKey{}, err
	}
	return key, StaticAPIKey{Name: name, Digest: sha256.Sum256([]byte(key)), Scopes: sc}, nil
}

// ParseAPIKeys parses an API_KEYS value: comma-separated entries
// NAME:SHA256HEX[:SCOPES], where SHA256HEX is the hex SHA-256 digest of the
// key and SCOPES are space-separated. Names and digests must be unique.
// Errors name the entry by position, never its content.
func ParseAPIKeys(s string) ([]StaticAPIKey, error) {
	var keys []StaticAPIKey
	names := map[string]bool{}
	digests := map[[sha256.Size]byte]bool{}
	var errs []error
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		k, err := parseAPIKeyEntry(entry)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
			continue
		case names[k.Name]:
			errs = append(errs, fmt.Errorf("entry %d: the name %q is used twice", i+1, k.Name))
			continue
		case digests[k.Digest]:
			errs = append(errs, fmt.Errorf("entry %d: the same key digest is listed twice", i+1))
			continue
		}
		names[k.Name], digests[k.Digest] = true, true
		keys = append(keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return keys, nil
}

func parseAPIKeyEntry(entry string) (StaticAPIKey, error) {
	parts := strings.SplitN(entry, ":", 3)
	if len(parts) < 2 {
		return StaticAPIKey{}, errors.New("want NAME:SHA256HEX[:SCOPES]")
	}
	k := StaticAPIKey{Name: parts[0]}
	if err := validStaticKeyName(k.Name); err != nil {
		return StaticAPIKey{}, err
	}
	digest := strings.ToLower(parts[1])
	if len(digest) != 2*sha256.Size {
		return StaticAPIKey{}, errors.New("the digest must be 64 hex digits (the SHA-256 of the key), not the key itself")
	}
	if _, err := hex.Decode(k.Digest[:], []byte(digest)); err != nil {
		return StaticAPIKey{}, errors.New("the digest must be 64 hex digits (the SHA-256 of the key)")
	}
	if len(parts) == 3 {
		sc, err := normalizeScopes(strings.Fields(parts[2]))
		if err != nil {
			return StaticAPIKey{}, err
		}
		k.Scopes = sc
	}
	return k, nil
}

// validStaticKeyName accepts 1 to 128 characters from A-Z a-z 0-9 . _ ~ - @.
func validStaticKeyName(name string) error {
	if name == "" || len(name) > maxStaticKeyName {
		return fmt.Errorf("auth: an API key name must have 1 to %d characters", maxStaticKeyName)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._~-@", c) >= 0
		if !ok {
			return errors.New("auth: an API key name may only use A-Z a-z 0-9 . _ ~ - @")
		}
	}
	return nil
}

// LoadAPIKeysFromEnv reads API_KEYS from the environment or, when it is not
// set there, from the working directory's .env file (as LoadConfigFromEnv).
func LoadAPIKeysFromEnv() ([]StaticAPIKey, error) {
	v, ok := os.LookupEnv(APIKeysVar)
	if !ok {
		dotenv, err := readDotEnv(".env")
		if err != nil {
			return nil, err
		}
		v = dotenv[APIKeysVar]
	}
	keys, err := ParseAPIKeys(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", APIKeysVar, err)
	}
	return keys, nil
}

// NewMinimal builds the service of the minimal template: the JWT keys of
// cfg (as New), the static API keys in an in-memory store, and nothing
// else. Mount only the JWKS document (MountJWKS); there is no token or
// revocation endpoint and no user, so HTTP Basic never authenticates.
// cfg.DatabaseURL is not used. With REDIS_URL, the counts of failed API
// keys and of the rate limits are shared in Redis, opened with counts
// (redis.Opener{}); a nil counts counts in this process, and warns when
// REDIS_URL is set.
func NewMinimal(ctx context.Context, cfg Config, counts CountsOpener, opts Options, apiKeys []StaticAPIKey) (*Service, error) {
	if err := checkURLs(&cfg, nil, counts); err != nil {
		return nil, err
	}
	log := orDiscard(opts.Logger)
	keys, err := loadKeys(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if cfg.RedisURL != "" && counts == nil {
		cfg.Warnings = append(slices.Clip(cfg.Warnings), "REDIS_URL is ignored: this server was built without a Redis client, "+
			"so failed API keys and rate limits are counted by each instance")
	}
	shared, err := openCounts(ctx, cfg, counts, log)
	if err != nil {
		return nil, err
	}
	// No password is ever hashed; the cheapest hasher keeps memory low.
	hasher := NewArgon2id(Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
	s, err := newService(ctx, cfg, opts, log, memory.New(), shared, keys, hasher, time.Now)
	if err != nil {
		if shared != nil {
			shared.Close()
		}
		return nil, err
	}
	if err := s.AddStaticAPIKeys(ctx, apiKeys); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// AddStaticAPIKeys adds API keys from configuration to the service's store.
// The guard finds a presented key by the SHA-256 digest of what was sent, a
// map lookup, so no secret is ever compared byte by byte.
func (s *Service) AddStaticAPIKeys(ctx context.Context, keys []StaticAPIKey) error {
	return addStaticAPIKeys(ctx, s.store, keys)
}

func addStaticAPIKeys(ctx context.Context, st store.Store, keys []StaticAPIKey) error {
	for _, k := range keys {
		// The id names the key in logs (Principal.TokenID): its holder
		// and the start of its digest, which tells two keys of one holder
		// apart and reveals nothing of a random key.
		err := st.CreateAPIKey(ctx, store.APIKey{
			ID:        k.Name + "/" + hex.EncodeToString(k.Digest[:4]),
			Digest:    k.Digest[:],
			Owner:     k.Name,
			Scopes:    k.Scopes,
			CreatedAt: time.Now(),
		})
		if err != nil {
			return fmt.Errorf("%s: API key %q: %w", APIKeysVar, k.Name, err)
		}
	}
	return nil
}

// MountJWKS registers the JWKS document (JWKSPath) on mux for the
// asymmetric algorithms, and nothing for HS256.
func (s *Service) MountJWKS(mux *http.ServeMux) {
	if s.cfg.JWTAlgorithm != AlgHS256 && s.cfg.JWTAlgorithm != "" {
		mux.Handle(JWKSPath, s.tokens.JWKSHandler())
	}
}

// RunMinimalAdmin runs an administration command of the minimal template
// and returns its exit code:
//
//	tokens issue --subject NAME [--scopes "a b"] [--ttl 1h]
//	apikeys create --name NAME [--scopes "a b"]
//	help
//
// `tokens issue` prints an access token signed with the configured keys:
// the only way this server's tokens come to exist. `apikeys create` prints a
// new key once, and the API_KEYS entry (with only its digest) to add to the
// configuration.
func RunMinimalAdmin(ctx context.Context, args []string, stdout, stderr io.Writer, cfg Config) int {
	return runStaticAdmin(ctx, args, stdout, stderr, cfg, true)
}

// RunResourceServerAdmin runs an administration command of the
// resource-server template, whose tokens come from the identity provider:
//
//	apikeys create --name NAME [--scopes "a b"]
//	help
func RunResourceServerAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runStaticAdmin(ctx, args, stdout, stderr, Config{}, false)
}

func runStaticAdmin(ctx context.Context, args []string, stdout, stderr io.Writer, cfg Config, tokens bool) int {
	usage := "usage:\n"
	if tokens {
		usage += "  server tokens issue --subject NAME [--scopes \"a b\"] [--ttl 1h]\n"
	}
	usage += "  server apikeys create --name NAME [--scopes \"a b\"]\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	if args[0] == "help" || isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return ExitOK
	}
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	fs := flag.NewFlagSet("server "+args[0]+" "+args[1], flag.ContinueOnError)
	fs.SetOutput(stderr)
	scopes := fs.String("scopes", "", "granted scopes, separated by spaces or commas")
	var run func() error
	switch cmd := args[0] + " " + args[1]; {
	case cmd == "tokens issue" && tokens:
		subject := fs.String("subject", "", "the token's subject (sub)")
		ttl := fs.Duration("ttl", cfg.AccessTokenTTL, "lifetime, at most 24h")
		run = func() error {
			if *subject == "" {
				return usagef("--subject is required")
			}
			token, err := IssueStaticToken(ctx, cfg, *subject, parseScopesFlag(*scopes), *ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			return nil
		}
	case cmd == "apikeys create":
		name := fs.String("name", "", "the key holder's name, the principal's subject")
		run = func() error {
			if *name == "" {
				return usagef("--name is required")
			}
			key, entry, err := NewStaticAPIKey(*name, parseScopesFlag(*scopes))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "key: %s\n", key)
			fmt.Fprintf(stdout, "%s entry (add it, comma-separated, to the others): %s\n", APIKeysVar, entry)
			return nil
		}
	default:
		fmt.Fprintf(stderr, "server: unknown command %q\n%s", args[0]+" "+args[1], usage)
		return ExitUsage
	}
	if err := fs.Parse(args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "server: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	if err := run(); err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		var u *usageError
		if errors.As(err, &u) {
			return ExitUsage
		}
		return ExitError
	}
	return ExitOK
}

// IssueStaticToken signs an access token for subject with scopes that
// expires after ttl (at most MaxAccessTTL), with the keys, issuer and
// audience of cfg.
func IssueStaticToken(ctx context.Context, cfg Config, subject string, scopes []string, ttl time.Duration) (string, error) {
	if cfg.GeneratedSecret {
		return "", errors.New("JWT_SECRET is not set: a token signed with a throwaway secret would not verify on the server")
	}
	if ttl <= 0 || ttl > MaxAccessTTL {
		return "", fmt.Errorf("--ttl must be between 1s and %s", fmtDuration(MaxAccessTTL))
	}
	keys, err := loadKeys(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", err
	}
	tokens := NewTokens(TokenConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, AccessTTL: ttl, Leeway: cfg.Leeway}, keys, nil)
	token, _, err := tokens.Issue(subject, "", scopes)
	return token, err
}

// MinimalConfigVars lists the configuration variables of the minimal
// template, for its .env.example: those of ConfigVars it reads, and
// API_KEYS. Its service is New's (newService), so REDIS_URL shares its
// counts (failed API keys, request rate limits) as the full template's
// (see NewMinimal).
func MinimalConfigVars() []ConfigVar {
	vars := pickConfigVars("GATEHOUSE_ENV", "JWT_SECRET", "JWT_PREVIOUS_SECRETS", "JWT_ALGORITHM", "JWT_KEY_DIR",
		"JWT_ISSUER", "JWT_AUDIENCE", "JWT_LEEWAY")
	vars = append(vars,
		ConfigVar{"ACCESS_TOKEN_TTL", "15m", "Default lifetime of the access tokens `server tokens issue` prints (--ttl overrides it), between 1m and 24h."},
		ConfigVar{APIKeysVar, "", "Comma-separated API keys as NAME:SHA256HEX[:SCOPES]: the holder's name (the request's subject), " +
			"the hex SHA-256 digest of the key (never the key itself) and space-separated scopes. " +
			"`server apikeys create --name NAME --scopes \"a b\"` prints a new key and its entry."})
	vars = append(vars, pickConfigVars("REDIS_URL", "REDIS_KEY_PREFIX")...)
	vars = append(vars, rateLimitConfigVars(false, true)...)
	return append(vars, pickConfigVars("LISTEN_ADDR", "TLS_CERT_FILE", "TLS_KEY_FILE", "CORS_ALLOWED_ORIGINS",
		"CORS_ALLOW_CREDENTIALS", "TRUSTED_PROXIES", "MAX_BODY_BYTES", "LOG_LEVEL", "LOG_FORMAT", "DOCS_ENABLED")...)
}

// pickConfigVars returns the named entries of ConfigVars, in that order.
func pickConfigVars(names ...string) []ConfigVar {
	all := ConfigVars()
	var out []ConfigVar
	for _, name := range names {
		for _, v := range all {
			if v.Name == name {
				out = append(out, v)
			}
		}
	}
	return out
}
