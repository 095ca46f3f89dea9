package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cheapArgon2 keeps the suite fast; the encoding and code paths are the same
// as with the defaults.
var cheapArgon2 = Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestArgon2idRoundTrip(t *testing.T) {
	h := NewArgon2id(cheapArgon2)
	enc, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(enc) {
		t.Errorf("hash %q is not a PHC argon2id string with the configured parameters", enc)
	}
	for pw, want := range map[string]bool{
		"correct horse battery staple":  true,
		"Correct horse battery staple":  false, // never case-folded
		"correct horse battery staple ": false, // never trimmed
		"correct horse battery stapl":   false,
		"":                              false,
	} {
		ok, err := h.Verify(enc, pw)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	again, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if again == enc {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// The defaults are OWASP's; this is the only test that pays for them.
func TestArgon2idDefaultParameters(t *testing.T) {
	enc, err := NewArgon2id(DefaultArgon2Params).Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, want) {
		t.Errorf("hash %q does not start with %q", enc, want)
	}
	// Zero fields mean the defaults.
	if got := (Argon2Params{}).withDefaults(); got != DefaultArgon2Params {
		t.Errorf("zero params default to %+v", got)
	}
	// Verification reads the parameters from the hash, not the hasher.
	ok, err := NewArgon2id(cheapArgon2).Verify(enc, "correct horse battery staple")
	if err != nil || !ok {
		t.Errorf("Verify with other hasher parameters = %v, %v", ok, err)
	}
}

func TestVerifyAcceptsEitherAlgorithm(t *testing.T) {
	argon := NewArgon2id(cheapArgon2)
	bc := NewBcrypt(4)
	const pw = "correct horse battery staple"
	for name, tc := range map[string]struct{ hashWith, verifyWith PasswordHasher }{
		"argon2id hash, bcrypt hasher": {argon, bc},
		"bcrypt hash, argon2id hasher": {bc, argon},
	} {
		enc, err := tc.hashWith.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := tc.verifyWith.Verify(enc, pw); err != nil || !ok {
			t.Errorf("%s: right password = %v, %v", name, ok, err)
		}
		if ok, err := tc.verifyWith.Verify(enc, pw+"!"); err != nil || ok {
			t.Errorf("%s: wrong password = %v, %v", name, ok, err)
		}
	}
	if _, err := argon.Verify("$scrypt$whatever", pw); err == nil {
		t.Error("unknown hash format verified without error")
	}
}

func TestBcryptRefusesPasswordsOver72Bytes(t *testing.T) {
	h := NewBcrypt(4)
	pw72 := strings.Repeat("a", 72)
	enc, err := h.Hash(pw72)
	if err != nil {
		t.Fatalf("72 bytes: %v", err)
	}
	_, err = h.Hash(pw72 + "b")
	if !errors.Is(err, ErrInvalidPassword) {
		t.Errorf("73 bytes: error %v, want ErrInvalidPassword", err)
	}
	// bcrypt itself looks only at 72 bytes; a longer password that starts
	// with the real one must not verify.
	ok, err := h.Verify(enc, pw72+"anything")
	if err != nil || ok {
		t.Errorf("Verify of a 72-byte password plus suffix = %v, %v; want false", ok, err)
	}
	if ok, err := h.Verify(enc, pw72); err != nil || !ok {
		t.Errorf("Verify of the 72-byte password = %v, %v", ok, err)
	}
	// 72 bytes of 3-byte characters is only 24 characters.
	if _, err := h.Hash(strings.Repeat("€", 25)); !errors.Is(err, ErrInvalidPassword) {
		t.Errorf("25 three-byte characters: error %v, want ErrInvalidPassword", err)
	}
	if _, err := NewBcrypt(3).Hash("password"); err == nil {
		t.Error("bcrypt cost 3 accepted")
	}
}

func TestVerifyRejectsMalformedArgon2idHashes(t *testing.T) {
	h := NewArgon2id(cheapArgon2)
	good, err := h.Hash("password1")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for name, enc := range map[string]string{
		"empty":              "",
		"argon2i":            with(1, "argon2i"),
		"version 16":         with(2, "v=16"),
		"no version":         strings.Join(append(parts[:2:2], parts[3:]...), "$"),
		"params reordered":   with(3, "t=1,m=64,p=1"),
		"params missing":     with(3, "m=64,t=1"),
		"params extra":       with(3, "m=64,t=1,p=1,k=2"),
		"params not numbers": with(3, "m=x,t=1,p=1"),
		"memory zero":        with(3, "m=0,t=1,p=1"),
		"memory huge":        with(3, "m=4294967295,t=1,p=1"),
		"iterations zero":    with(3, "m=64,t=0,p=1"),
		"iterations huge":    with(3, "m=64,t=100000,p=1"),
		"parallelism zero":   with(3, "m=64,t=1,p=0"),
		"parallelism 256":    with(3, "m=4096,t=1,p=256"),
		"negative":           with(3, "m=-64,t=1,p=1"),
		"salt padded":        with(4, parts[4]+"=="),
		"salt not base64":    with(4, "!!!!!!!!!!!!"),
		"salt short":         with(4, "AAAA"),
		"key short":          with(5, "AAAA"),
		"trailing field":     good + "$x",
	} {
		ok, err := h.Verify(enc, "password1")
		if err == nil || ok {
			t.Errorf("%s: Verify = %v, %v; want an error", name, ok, err)
		}
	}
	if ok, err := h.Verify(good, "password1"); err != nil || !ok {
		t.Fatalf("the unmodified hash does not verify: %v, %v", ok, err)
	}
}

// Assess tells each hasher's own hashes from those it only verifies (to be
// rehashed at the next login) and from those Verify cannot use at all.
func TestAssessHashes(t *testing.T) {
	hash := func(h PasswordHasher) string {
		t.Helper()
		enc, err := h.Hash("password1")
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	argonCheap, argonOther := NewArgon2id(cheapArgon2), NewArgon2id(Argon2Params{Memory: 128, Iterations: 1, Parallelism: 1})
	bcrypt4, bcrypt5 := NewBcrypt(4), NewBcrypt(5)
	a1, a2, b4, b5 := hash(argonCheap), hash(argonOther), hash(bcrypt4), hash(bcrypt5)
	for _, tc := range []struct {
		h       PasswordHasher
		encoded string
		want    HashStatus
	}{
		{argonCheap, a1, HashCurrent},
		{argonCheap, a2, HashOutdated},
		{argonCheap, b4, HashOutdated},
		{argonOther, a2, HashCurrent},
		{bcrypt4, b4, HashCurrent},
		{bcrypt4, b5, HashOutdated},
		{bcrypt4, a1, HashOutdated},
		{bcrypt5, b5, HashCurrent},
		{argonCheap, "", HashUnusable},
		{argonCheap, "plain text", HashUnusable},
		{argonCheap, a1 + "$x", HashUnusable},
		{bcrypt4, b4[:len(b4)-1], HashUnusable},
		{bcrypt4, b4[:len(b4)-1] + "!", HashUnusable},
		{bcrypt4, "$2a$99$" + b4[7:], HashUnusable},
	} {
		if got := tc.h.Assess(tc.encoded); got != tc.want {
			t.Errorf("%T.Assess(%q) = %v, want %v", tc.h, tc.encoded, got, tc.want)
		}
		// What Assess finds usable, Verify uses.
		if tc.want != HashUnusable {
			if ok, err := tc.h.Verify(tc.encoded, "password1"); !ok || err != nil {
				t.Errorf("Verify(%q) = %v, %v", tc.encoded, ok, err)
			}
		}
	}
}

func TestArgon2idRefusesInvalidParameters(t *testing.T) {
	for _, p := range []Argon2Params{
		{Memory: 4, Iterations: 1, Parallelism: 1},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 4},
		{Memory: 64, Iterations: 1, Parallelism: 1, KeyLength: 8},
		{Memory: 64, Iterations: 1000, Parallelism: 1},
	} {
		if _, err := NewArgon2id(p).Hash("password1"); err == nil {
			t.Errorf("Hash with %+v succeeded", p)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		ok       bool
	}{
		{"7 characters", "abcdefg", false},
		{"8 characters", "abcdefgh", true},
		{"empty", "", false},
		{"8 multi-byte characters", "ééééééé€", true},
		{"7 three-byte characters is 21 bytes but too short", "€€€€€€€", false},
		{"spaces allowed", "correct horse", true},
		{"only spaces", "        ", true},
		{"128 characters", strings.Repeat("x", 128), true},
		{"128 multi-byte characters", strings.Repeat("ü", 128), true},
		{"129 characters", strings.Repeat("x", 129), false},
		{"invalid UTF-8", "abcdefg\xff", false},
		{"newline", "abcdefg\nh", false},
		{"tab", "abcd\tefgh", false},
		{"NUL", "abcdefgh\x00", false},
		{"DEL", "abcdefgh\x7f", false},
	} {
		err := CheckPassword(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckPassword = %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidPassword) {
				t.Errorf("%s: error %v does not wrap ErrInvalidPassword", tc.name, err)
			}
			if tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("%s: error message contains the password", tc.name)
			}
		}
	}
	if err := CheckPassword("short"); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("message for a short password is %q, want it to say the minimum", err)
	}
}

func TestNormalizeUsernameMakesLookalikesCollide(t *testing.T) {
	for _, in := range []string{"alice", "Alice", "ALICE", "Ａｌｉｃｅ", "ａｌｉｃｅ"} {
		got, err := NormalizeUsername(in)
		if err != nil || got != "alice" {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want alice", in, got, err)
		}
	}
	for in, want := range map[string]string{
		"Bob.Smith-2":      "bob.smith-2",
		"ÉLODIE":           "élodie",
		"e\u0301lodie":     "élodie", // combining accent composed (NFC)
		"user@example.com": "user@example.com",
	} {
		if got, err := NormalizeUsername(in); err != nil || got != want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestNormalizeUsernameRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"empty":           "",
		"space":           "alice smith",
		"colon":           "alice:admin",
		"fullwidth colon": "alice：admin",
		"control":         "alice\x00",
		"newline":         "alice\n",
		"too long":        strings.Repeat("a", MaxUsernameLength+1),
		"absurdly long":   strings.Repeat("a", 100000),
		"invalid UTF-8":   "alice\xff",
	} {
		got, err := NormalizeUsername(in)
		if err == nil {
			t.Errorf("%s: NormalizeUsername(%q) = %q, want an error", name, in, got)
		} else if !errors.Is(err, ErrInvalidUsername) {
			t.Errorf("%s: error %v does not wrap ErrInvalidUsername", name, err)
		}
	}
	if _, err := NormalizeUsername(strings.Repeat("a", MaxUsernameLength)); err != nil {
		t.Errorf("a name of the maximum length is refused: %v", err)
	}
}

func TestHashLimiterWaitEndsWithContext(t *testing.T) {
	l := newHashLimiter(2)
	r1, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third acquire = %v, want a deadline error", err)
	}
	r1()
	r3, err := l.acquire(context.Background())
	if err != nil {
		t.Fatalf("acquire after a release: %v", err)
	}
	r2()
	r3()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := l.acquire(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with a cancelled context = %v", err)
	}
	if n := cap(newHashLimiter(0).slots); n < 1 {
		t.Errorf("default limiter has %d slots", n)
	}
}
