package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/secure/precis"
)

// PasswordHasher turns passwords into encoded hashes and checks passwords
// against them. Secrets of OAuth clients are hashed the same way.
type PasswordHasher interface {
	// Hash returns the encoded hash of password: a PHC string for argon2id,
	// the modular crypt format for bcrypt. Every call uses a fresh salt.
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded. It accepts hashes of
	// every algorithm this package supports, with the parameters recorded in
	// encoded, so switching the configured algorithm keeps existing users
	// working. A mismatch is (false, nil); err is set only when encoded
	// cannot be used at all.
	Verify(encoded, password string) (ok bool, err error)
	// Assess tells, without hashing, whether encoded was made with the
	// algorithm and parameters Hash uses (HashCurrent), with others that
	// Verify still accepts (HashOutdated: rehashed at the next successful
	// login), or cannot be used by Verify at all (HashUnusable: checked
	// like an unknown user, against a hash of the configured kind).
	Assess(encoded string) HashStatus
}

// HashStatus is what PasswordHasher.Assess tells of a stored hash.
type HashStatus int

// The values of HashStatus.
const (
	HashUnusable HashStatus = iota
	HashOutdated
	HashCurrent
)

// hashParams are the algorithm and parameters of a stored hash: argon2id
// parameters or a bcrypt cost.
type hashParams struct {
	argon2     Argon2Params
	bcryptCost int
}

// assessHash is the Assess of the built-in hashers, whose own hashes have
// the parameters current.
func assessHash(encoded string, current hashParams) HashStatus {
	var got hashParams
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, _, _, err := parseArgon2id(encoded)
		if err != nil {
			return HashUnusable
		}
		got.argon2 = p
	case isBcryptHash(encoded):
		cost, err := parseBcrypt(encoded)
		if err != nil {
			return HashUnusable
		}
		got.bcryptCost = cost
	default:
		return HashUnusable
	}
	if got == current {
		return HashCurrent
	}
	return HashOutdated
}

func isBcryptHash(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// bcryptHashLength is the length of a bcrypt hash in the modular crypt
// format: "$2a$", two cost digits, "$", 22 characters of salt and 31 of
// hash.
const bcryptHashLength = 60

// parseBcrypt checks a bcrypt hash strictly enough that comparing a
// password with it runs the whole key schedule, and returns its cost.
func parseBcrypt(encoded string) (int, error) {
	if len(encoded) != bcryptHashLength {
		return 0, errors.New("auth: malformed bcrypt hash: wrong length")
	}
	for _, c := range []byte(encoded[7:]) {
		if !(c == '.' || c == '/' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return 0, errors.New("auth: malformed bcrypt hash: salt or hash")
		}
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return 0, fmt.Errorf("auth: malformed bcrypt hash: %w", err)
	}
	return cost, nil
}

// Password and user name rules, enforced when an account is created or a
// password is set.
const (
	MinPasswordLength = 8   // characters (Unicode code points)
	MaxPasswordLength = 128 // characters; longer passwords are refused, never truncated
	MaxUsernameLength = 64  // characters, after normalisation
)

// bcryptMaxPasswordBytes is where bcrypt stops reading its input: Go's bcrypt
// rejects longer passwords when hashing, and comparing one silently uses only
// its first 72 bytes. This package refuses them instead of truncating.
const bcryptMaxPasswordBytes = 72

// ErrInvalidPassword and ErrInvalidUsername are wrapped by the errors of
// CheckPassword and NormalizeUsername, whose messages say what is wrong and
// are meant to be shown to the administrator who typed the value.
var (
	ErrInvalidPassword = errors.New("auth: unacceptable password")
	ErrInvalidUsername = errors.New("auth: unacceptable user name")
)

// CheckPassword reports whether pw is acceptable as a new password: valid
// UTF-8, MinPasswordLength to MaxPasswordLength characters, and no control
// characters (HTTP Basic cannot carry them). The password is checked exactly
// as given: it is never trimmed, truncated or case-folded, and it is never
// part of the error message.
func CheckPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return fmt.Errorf("%w: it is not valid UTF-8 text", ErrInvalidPassword)
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return fmt.Errorf("%w: it must have at least %d characters, it has %d", ErrInvalidPassword, MinPasswordLength, n)
	}
	if n > MaxPasswordLength {
		return fmt.Errorf("%w: it must have at most %d characters, it has %d", ErrInvalidPassword, MaxPasswordLength, n)
	}
	if strings.IndexFunc(pw, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: it must not contain control characters (such as tab or newline)", ErrInvalidPassword)
	}
	return nil
}

// NormalizeUsername returns the canonical form of a user name: the PRECIS
// UsernameCaseMapped profile (RFC 8265), which maps case and full-width forms,
// so "Alice", "ALICE" and "Ａｌｉｃｅ" are one user. Names with spaces, control
// or other disallowed characters, names with a colon (HTTP Basic could not
// carry them), and names longer than MaxUsernameLength characters are refused.
func NormalizeUsername(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: it is empty", ErrInvalidUsername)
	}
	// Refuse absurd input before PRECIS processes it; no valid name comes
	// close to this many bytes.
	if len(s) > 4*MaxUsernameLength {
		return "", fmt.Errorf("%w: it must have at most %d characters", ErrInvalidUsername, MaxUsernameLength)
	}
	name, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", fmt.Errorf("%w: it contains spaces or characters that are not allowed in a user name", ErrInvalidUsername)
	}
	if n := utf8.RuneCountInString(name); n > MaxUsernameLength {
		return "", fmt.Errorf("%w: it must have at most %d characters, it has %d", ErrInvalidUsername, MaxUsernameLength, n)
	}
	if strings.ContainsRune(name, ':') {
		return "", fmt.Errorf("%w: it must not contain a colon", ErrInvalidUsername)
	}
	return name, nil
}

// Argon2Params are the argon2id cost parameters. Zero fields take the value
// of DefaultArgon2Params.
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes
	KeyLength   uint32 // bytes
}

// DefaultArgon2Params are OWASP's recommended argon2id parameters:
// m=19 MiB, t=2, p=1, with a 16-byte salt and a 32-byte key.
var DefaultArgon2Params = Argon2Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// Limits on parameters read from a stored hash. They keep a corrupted or
// planted hash from costing unbounded memory or time, or from panicking the
// argon2 package.
const (
	argon2MaxMemory     = 1 << 20 // KiB (1 GiB)
	argon2MaxIterations = 64
	argon2MinSalt       = 8
	argon2MaxSalt       = 64
	argon2MinKey        = 16
	argon2MaxKey        = 64
)

func (p Argon2Params) withDefaults() Argon2Params {
	d := DefaultArgon2Params
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLength == 0 {
		p.SaltLength = d.SaltLength
	}
	if p.KeyLength == 0 {
		p.KeyLength = d.KeyLength
	}
	return p
}

func (p Argon2Params) validate() error {
	switch {
	case p.Parallelism == 0:
		return errors.New("parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > argon2MaxMemory:
		return fmt.Errorf("memory must be between %d and %d KiB", 8*uint32(p.Parallelism), argon2MaxMemory)
	case p.Iterations < 1 || p.Iterations > argon2MaxIterations:
		return fmt.Errorf("iterations must be between 1 and %d", argon2MaxIterations)
	case p.SaltLength < argon2MinSalt || p.SaltLength > argon2MaxSalt:
		return fmt.Errorf("salt length must be between %d and %d bytes", argon2MinSalt, argon2MaxSalt)
	case p.KeyLength < argon2MinKey || p.KeyLength > argon2MaxKey:
		return fmt.Errorf("key length must be between %d and %d bytes", argon2MinKey, argon2MaxKey)
	}
	return nil
}

// NewArgon2id returns a hasher that hashes with argon2id and p (zero fields
// defaulted), and verifies argon2id and bcrypt hashes.
func NewArgon2id(p Argon2Params) PasswordHasher {
	return argon2idHasher{params: p.withDefaults()}
}

type argon2idHasher struct{ params Argon2Params }

func (h argon2idHasher) Hash(password string) (string, error) {
	p := h.params
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("auth: argon2id parameters: %s", err)
	}
	salt := make([]byte, p.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: generate salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func (h argon2idHasher) Verify(encoded, password string) (bool, error) {
	return verifyPassword(encoded, password)
}

func (h argon2idHasher) Assess(encoded string) HashStatus {
	return assessHash(encoded, hashParams{argon2: h.params})
}

// NewBcrypt returns a hasher that hashes with bcrypt at cost (0 means
// bcrypt.DefaultCost), and verifies bcrypt and argon2id hashes. It refuses to
// hash passwords longer than 72 bytes rather than truncating them, and such a
// password never verifies against a bcrypt hash.
func NewBcrypt(cost int) PasswordHasher {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	return bcryptHasher{cost: cost}
}

type bcryptHasher struct{ cost int }

func (h bcryptHasher) Hash(password string) (string, error) {
	if h.cost < bcrypt.MinCost || h.cost > bcrypt.MaxCost {
		return "", fmt.Errorf("auth: bcrypt cost must be between %d and %d", bcrypt.MinCost, bcrypt.MaxCost)
	}
	if len(password) > bcryptMaxPasswordBytes {
		return "", fmt.Errorf("%w: bcrypt can only hash passwords of up to %d bytes, this one has %d; choose a shorter password or use argon2id",
			ErrInvalidPassword, bcryptMaxPasswordBytes, len(password))
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.cost)
	if err != nil {
		return "", fmt.Errorf("auth: bcrypt: %w", err)
	}
	return string(b), nil
}

func (h bcryptHasher) Verify(encoded, password string) (bool, error) {
	return verifyPassword(encoded, password)
}

func (h bcryptHasher) Assess(encoded string) HashStatus {
	return assessHash(encoded, hashParams{bcryptCost: h.cost})
}

// verifyPassword checks password against a hash of any supported algorithm,
// reading the parameters from the hash itself.
func verifyPassword(encoded, password string) (bool, error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return verifyArgon2id(encoded, password)
	case isBcryptHash(encoded):
		return verifyBcrypt(encoded, password)
	}
	return false, errors.New("auth: unrecognised password hash format")
}

func verifyBcrypt(encoded, password string) (bool, error) {
	if len(password) > bcryptMaxPasswordBytes {
		// bcrypt would compare only the first 72 bytes and accept any
		// suffix. No stored password can be this long, so it is a mismatch.
		// Still pay for one comparison so the answer takes as long as any
		// other mismatch.
		_ = bcrypt.CompareHashAndPassword([]byte(encoded), nil)
		return false, nil
	}
	err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("auth: malformed bcrypt hash: %w", err)
}

func verifyArgon2id(encoded, password string) (bool, error) {
	p, salt, key, err := parseArgon2id(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// parseArgon2id parses "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>" strictly:
// base64 without padding (PHC), parameters in this order, all within bounds.
func parseArgon2id(encoded string) (Argon2Params, []byte, []byte, error) {
	malformed := func(what string) (Argon2Params, []byte, []byte, error) {
		return Argon2Params{}, nil, nil, fmt.Errorf("auth: malformed argon2id hash: %s", what)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return malformed("wrong number of fields")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return malformed("unsupported version")
	}
	var p Argon2Params
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return malformed("parameters")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return malformed("parameters")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return malformed("parameters")
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return malformed("parallelism")
			}
			p.Parallelism = uint8(n)
		}
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return malformed("salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return malformed("hash")
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key))
	if err := p.validate(); err != nil {
		return malformed(err.Error())
	}
	return p, salt, key, nil
}

// hashLimiter bounds how many password hashes are computed at once. Each
// argon2id hash holds its memory parameter (19 MiB by default) for its whole
// run, so without a bound a burst of logins is a memory-exhaustion lever.
// Waiting for a slot ends with the caller's context.
type hashLimiter struct {
	slots chan struct{}
}

// newHashLimiter allows n concurrent hashes; n <= 0 means GOMAXPROCS, which is
// also where argon2id with p=1 stops gaining throughput.
func newHashLimiter(n int) *hashLimiter {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &hashLimiter{slots: make(chan struct{}, n)}
}

// acquire waits for a slot. The caller must call release exactly once.
func (l *hashLimiter) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("auth: waiting to hash a password: %w", err)
	}
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: waiting to hash a password: %w", ctx.Err())
	}
}
