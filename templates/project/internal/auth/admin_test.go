package auth

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/open"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/sqlite"
)

// adResult is the outcome of one admin command.
type adResult struct {
	code           int
	stdout, stderr string
}

// adRun runs an admin command against f's service with stdin and the
// environment env.
func adRun(f *epFixture, stdin string, env map[string]string, args ...string) adResult {
	var out, errOut bytes.Buffer
	deps := AdminDeps{
		Accounts:  f.svc.Accounts(),
		Store:     f.svc.Store(),
		Algorithm: AlgHS256,
		Getenv:    func(name string) string { return env[name] },
	}
	code := RunAdmin(context.Background(), args, strings.NewReader(stdin), &out, &errOut, deps)
	return adResult{code, out.String(), errOut.String()}
}

func (r adResult) want(t *testing.T, code int) adResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

func TestAdminUsersEndToEnd(t *testing.T) {
	f := epSetup(t)
	const pw = "a long enough password"

	adRun(f, pw+"\n", nil, "users", "add", "--username", "Alice", "--password-stdin", "--scopes", "pets:read pets:write").want(t, ExitOK)
	adRun(f, "", map[string]string{"BOB_PW": pw}, "users", "add", "--username", "bob", "--password-env", "BOB_PW").want(t, ExitOK)
	w := f.token("grant_type", "password", "username", "alice", "password", pw)
	if got := f.wantTokens(w).Scope; got != "pets:read pets:write" {
		t.Errorf("alice's scopes %q", got)
	}

	r := adRun(f, "", nil, "users", "list").want(t, ExitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "alice\tactive\tpets:read pets:write\t") || !strings.HasPrefix(lines[1], "bob\tactive\t-\t") {
		t.Errorf("users list:\n%s", r.stdout)
	}

	r = adRun(f, pw+"\n", nil, "users", "add", "--username", "ALICE", "--password-stdin").want(t, ExitError)
	if !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate user: %s", r.stderr)
	}

	const newPW = "another long password"
	adRun(f, newPW, nil, "users", "passwd", "--username", "alice", "--password-stdin").want(t, ExitOK)
	f.clock.Advance(time.Second) // logins wait for the second after a change
	f.wantTokens(f.token("grant_type", "password", "username", "alice", "password", newPW))
	adRun(f, newPW, nil, "users", "passwd", "--username", "nobody", "--password-stdin").want(t, ExitError)

	adRun(f, "", nil, "users", "disable", "--username", "bob").want(t, ExitOK)
	if r := adRun(f, "", nil, "users", "list").want(t, ExitOK); !strings.Contains(r.stdout, "bob\tdisabled\t") {
		t.Errorf("bob not listed as disabled:\n%s", r.stdout)
	}
	wantOAuthError(t, f.token("grant_type", "password", "username", "bob", "password", pw), 400, "invalid_grant")
}

func TestAdminNeverTakesOrEchoesPasswords(t *testing.T) {
	f := epSetup(t)
	const pw = "my secret password"
	for _, tc := range []struct {
		name  string
		stdin string
		env   map[string]string
		args  []string
		code  int
		want  string
	}{
		{"password flag", "", nil, []string{"users", "add", "--username", "a", "--password", pw}, ExitUsage, "--password-stdin"},
		{"password flag with =", "", nil, []string{"users", "add", "--username", "a", "--password=" + pw}, ExitUsage, "never from a flag"},
		{"bool flag given the password", "", nil, []string{"users", "add", "--username", "a", "--password-stdin=" + pw}, ExitUsage, "invalid value for -password-stdin"},
		{"no password source", "", nil, []string{"users", "add", "--username", "a"}, ExitUsage, "a password is required"},
		{"both sources", pw, map[string]string{"PW": pw}, []string{"users", "add", "--username", "a", "--password-stdin", "--password-env", "PW"}, ExitUsage, "not both"},
		{"empty stdin", "", nil, []string{"users", "add", "--username", "a", "--password-stdin"}, ExitError, "no password on standard input"},
		{"unset env", "", nil, []string{"users", "add", "--username", "a", "--password-env", "NOPE"}, ExitError, "NOPE is empty or not set"},
		{"short password", "short\n", nil, []string{"users", "add", "--username", "a", "--password-stdin"}, ExitError, "at least 8 characters"},
		{"missing username", pw, nil, []string{"users", "add", "--password-stdin"}, ExitUsage, "--username is required"},
		{"bad username", pw, nil, []string{"users", "add", "--username", "a b", "--password-stdin"}, ExitError, "user name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := adRun(f, tc.stdin, tc.env, tc.args...).want(t, tc.code)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
			if strings.Contains(r.stdout+r.stderr, pw) {
				t.Errorf("the password is echoed:\n%s%s", r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "auth: ") {
				t.Errorf("package prefix in a message: %s", r.stderr)
			}
		})
	}
}

func TestAdminAPIKeysEndToEnd(t *testing.T) {
	f := epSetup(t)
	if r := adRun(f, "", nil, "apikeys", "create", "--owner", "alice", "--scopes", "a,b").want(t, ExitError); !strings.Contains(r.stderr, `no user "alice"`) {
		t.Errorf("apikeys create for an owner that does not exist: stderr %q", r.stderr)
	}
	f.addUser("alice")
	r := adRun(f, "", nil, "apikeys", "create", "--owner", "alice", "--scopes", "a,b").want(t, ExitOK)
	id, key, ok := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), "\t")
	if !ok || !strings.HasPrefix(key, APIKeyPrefix) || strings.Contains(key, "\t") {
		t.Fatalf("apikeys create printed %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "not shown again") {
		t.Errorf("no shown-once notice: %q", r.stderr)
	}
	req := httptest.NewRequest("GET", "/", nil)
	if p, err := f.svc.Accounts().VerifyAPIKey(req, key); err != nil || p.Subject != "alice" || strings.Join(p.Scopes, " ") != "a b" {
		t.Fatalf("the created key: %+v, %v", p, err)
	}
	r = adRun(f, "", nil, "apikeys", "list").want(t, ExitOK)
	if !strings.HasPrefix(r.stdout, id+"\talice\tactive\ta b\t") || strings.Contains(r.stdout, key) {
		t.Errorf("apikeys list:\n%s", r.stdout)
	}
	adRun(f, "", nil, "apikeys", "revoke", "--id", id).want(t, ExitOK)
	if _, err := f.svc.Accounts().VerifyAPIKey(req, key); err == nil {
		t.Error("a revoked key still verifies")
	}
	if r := adRun(f, "", nil, "apikeys", "list").want(t, ExitOK); !strings.Contains(r.stdout, "\trevoked\t") {
		t.Errorf("apikeys list after revoke:\n%s", r.stdout)
	}
	adRun(f, "", nil, "apikeys", "revoke", "--id", "ak_nonexistent").want(t, ExitError)
	adRun(f, "", nil, "apikeys", "create").want(t, ExitUsage)
}

func TestAdminClientsEndToEnd(t *testing.T) {
	f := epSetup(t, func(o *Options) { o.ClientCredentials = true })
	r := adRun(f, "", nil, "clients", "add", "--id", "partner", "--scopes", "read").want(t, ExitOK)
	id, secret, ok := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), "\t")
	if !ok || id != "partner" || !strings.HasPrefix(secret, ClientSecretPrefix) {
		t.Fatalf("clients add printed %q", r.stdout)
	}
	f.wantTokens(f.token("grant_type", "client_credentials", "client_id", "partner", "client_secret", secret))
	adRun(f, "", nil, "clients", "add", "--id", "partner").want(t, ExitError)
	adRun(f, "", nil, "clients", "add", "--id", "bad id").want(t, ExitError)
	adRun(f, "", nil, "clients", "add", "--id", "alpha").want(t, ExitOK)
	r = adRun(f, "", nil, "clients", "list").want(t, ExitOK)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "alpha\t-\t") || !strings.HasPrefix(lines[1], "partner\tread\t") {
		t.Errorf("clients list (sorted):\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, secret) {
		t.Error("clients list shows the secret")
	}
}

// adClientSecret returns the secret a clients command printed as ID<TAB>SECRET.
func adClientSecret(t *testing.T, r adResult, id string) string {
	t.Helper()
	gotID, secret, ok := strings.Cut(strings.TrimSuffix(r.stdout, "\n"), "\t")
	if !ok || gotID != id || !strings.HasPrefix(secret, ClientSecretPrefix) {
		t.Fatalf("printed %q, want %s<TAB>SECRET", r.stdout, id)
	}
	return secret
}

// A client's secret can be rotated (the old one stops at once; its tokens
// live on unless --revoke-tokens) and a client removed (every token issued
// to it ends, its sessions included).
func TestAdminClientsRotateSecretAndRemoveEndTheirTokens(t *testing.T) {
	f := epSetup(t, func(o *Options) { o.ClientCredentials = true })
	f.addUser("alice")
	clientToken := func(secret string) *httptest.ResponseRecorder {
		return f.token("grant_type", "client_credentials", "client_id", "partner", "client_secret", secret)
	}
	secret := adClientSecret(t, adRun(f, "", nil, "clients", "add", "--id", "partner").want(t, ExitOK), "partner")
	before := f.wantTokens(clientToken(secret))
	session := f.wantTokens(f.token("grant_type", "password", "username", "alice", "password", epPassword,
		"client_id", "partner", "client_secret", secret))

	// A routine rotation: the old secret stops, issued tokens live on.
	f.clock.Advance(time.Second)
	r := adRun(f, "", nil, "clients", "rotate-secret", "--id", "partner").want(t, ExitOK)
	rotated := adClientSecret(t, r, "partner")
	if rotated == secret || !strings.Contains(r.stderr, "not shown again") {
		t.Fatalf("rotate-secret: new secret %q, stderr %q", rotated, r.stderr)
	}
	wantOAuthError(t, clientToken(secret), http.StatusUnauthorized, "invalid_client")
	f.wantTokens(clientToken(rotated))
	f.sync()
	if code := f.me(before.AccessToken); code != http.StatusOK {
		t.Errorf("access token after a plain rotation: %d, want 200", code)
	}
	session = f.wantTokens(f.refresh(session.RefreshToken, "client_id", "partner", "client_secret", rotated))

	// A rotation for a leaked secret: every token issued so far ends.
	f.clock.Advance(time.Second)
	r = adRun(f, "", nil, "clients", "rotate-secret", "--id", "partner", "--revoke-tokens").want(t, ExitOK)
	leaked := adClientSecret(t, r, "partner")
	f.sync()
	// The client's logins wait for the second after the revocation.
	f.clock.Advance(time.Second)
	for name, access := range map[string]string{"client token": before.AccessToken, "user session": session.AccessToken} {
		if code := f.me(access); code != http.StatusUnauthorized {
			t.Errorf("%s after rotate-secret --revoke-tokens: %d, want 401", name, code)
		}
	}
	wantOAuthError(t, f.refresh(session.RefreshToken, "client_id", "partner", "client_secret", leaked), http.StatusBadRequest, "invalid_grant")
	after := f.wantTokens(clientToken(leaked))
	session = f.wantTokens(f.token("grant_type", "password", "username", "alice", "password", epPassword,
		"client_id", "partner", "client_secret", leaked))
	if code := f.me(after.AccessToken); code != http.StatusOK {
		t.Errorf("a token issued after the rotation: %d, want 200", code)
	}

	// Removal ends everything issued to the client.
	f.clock.Advance(time.Second)
	r = adRun(f, "", nil, "clients", "remove", "--id", "partner").want(t, ExitOK)
	if strings.Contains(r.stdout+r.stderr, leaked) {
		t.Error("clients remove printed the secret")
	}
	f.sync()
	for name, access := range map[string]string{"client token": after.AccessToken, "user session": session.AccessToken} {
		if code := f.me(access); code != http.StatusUnauthorized {
			t.Errorf("%s after clients remove: %d, want 401", name, code)
		}
	}
	wantOAuthError(t, clientToken(leaked), http.StatusUnauthorized, "invalid_client")
	if out := adRun(f, "", nil, "clients", "list").want(t, ExitOK).stdout; out != "" {
		t.Errorf("clients list after remove: %q", out)
	}
	// Registered again under the same id, the client starts afresh.
	fresh := adClientSecret(t, adRun(f, "", nil, "clients", "add", "--id", "partner").want(t, ExitOK), "partner")
	f.clock.Advance(time.Second)
	if code := f.me(f.wantTokens(clientToken(fresh)).AccessToken); code != http.StatusOK {
		t.Errorf("a token of the client registered again: %d, want 200", code)
	}

	for _, args := range [][]string{
		{"clients", "remove", "--id", "partner-x"},
		{"clients", "rotate-secret", "--id", "partner-x"},
	} {
		if r := adRun(f, "", nil, args...).want(t, ExitError); !strings.Contains(r.stderr, `no client "partner-x"`) {
			t.Errorf("%q: stderr %q", args, r.stderr)
		}
	}
	adRun(f, "", nil, "clients", "remove").want(t, ExitUsage)
}

func TestAdminKeysRotate(t *testing.T) {
	f := epSetup(t)
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errOut bytes.Buffer
	deps := AdminDeps{Accounts: f.svc.Accounts(), Store: f.svc.Store(), Algorithm: AlgEdDSA, KeyDir: dir}
	if code := RunAdmin(context.Background(), []string{"keys", "rotate"}, nil, &out, &errOut, deps); code != ExitOK {
		t.Fatalf("keys rotate: %d %s", code, errOut.String())
	}
	ks, err := LoadKeyDir(dir, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if kid := strings.TrimSpace(out.String()); ks.KIDs()[0] != kid {
		t.Errorf("printed kid %q, key set %q", kid, ks.KIDs())
	}

	// HS256: a new secret to configure, strong enough for LoadConfig.
	r := adRun(f, "", nil, "keys", "rotate").want(t, ExitOK)
	if _, err := cfLoad(t, map[string]string{"JWT_SECRET": strings.TrimSpace(r.stdout)}); err != nil {
		t.Errorf("the suggested secret is refused: %v", err)
	}
	if !strings.Contains(r.stderr, "JWT_PREVIOUS_SECRETS") {
		t.Errorf("no rotation instructions: %s", r.stderr)
	}
}

func TestAdminUsage(t *testing.T) {
	f := epSetup(t)
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{nil, ExitUsage, "", "users add"},
		{[]string{"help"}, ExitOK, "keys rotate", ""},
		{[]string{"--help"}, ExitOK, "apikeys create", ""},
		{[]string{"help", "users", "add"}, ExitOK, "--password-stdin", ""},
		{[]string{"users"}, ExitUsage, "", "which command?"},
		{[]string{"users", "--help"}, ExitOK, "users passwd", ""},
		{[]string{"users", "add", "--help"}, ExitOK, "--scopes", ""},
		{[]string{"users", "add", "-h"}, ExitOK, "usage: server users add", ""},
		{[]string{"users", "list", "extra"}, ExitUsage, "", `unexpected argument "extra"`},
		{[]string{"users", "remove"}, ExitUsage, "", `unknown command "remove"`},
		{[]string{"frobnicate"}, ExitUsage, "", `unknown command "frobnicate"`},
		{[]string{"users", "list", "--bogus"}, ExitUsage, "", "flag provided but not defined"},
	} {
		r := adRun(f, "", nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderrPart) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}

// runAdminOn runs an admin command against store alone, as `server
// migrate` does in a one-off job.
func runAdminOn(store store.Store, args ...string) adResult {
	var out, errOut bytes.Buffer
	code := RunAdmin(context.Background(), args, strings.NewReader(""), &out, &errOut, AdminDeps{Store: store})
	return adResult{code, out.String(), errOut.String()}
}

func TestAdminMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	latest := sqlite.SchemaVersion()
	r := runAdminOn(s, "migrate").want(t, ExitOK)
	if want := fmt.Sprintf("schema migrated from version 0 to %d\n", latest); r.stdout != want {
		t.Errorf("migrate of a new database printed %q, want %q", r.stdout, want)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r = runAdminOn(s, "migrate").want(t, ExitOK)
	if want := fmt.Sprintf("schema at version %d, up to date\n", latest); r.stdout != want {
		t.Errorf("migrate of a current database printed %q, want %q", r.stdout, want)
	}

	r = runAdminOn(memory.New(), "migrate").want(t, ExitOK)
	if !strings.Contains(r.stdout, "nothing to migrate") {
		t.Errorf("migrate on the memory store printed %q", r.stdout)
	}
	for _, tc := range []struct {
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{[]string{"help"}, ExitOK, "  migrate ", ""},
		{[]string{"migrate", "--help"}, ExitOK, "usage: server migrate\n", ""},
		{[]string{"help", "migrate"}, ExitOK, "a schema newer than this binary is refused", ""},
		{[]string{"migrate", "now"}, ExitUsage, "", `unexpected argument "now"`},
	} {
		r := runAdminOn(s, tc.args...)
		if r.code != tc.code || !strings.Contains(strings.ToLower(r.stdout), strings.ToLower(tc.stdout)) || !strings.Contains(r.stderr, tc.stderrPart) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}

// The admin commands need only the store's settings: in production mode,
// without the JWT_SECRET the server requires, a migration and a user added
// work, as a one-off job beside the servers would run them; `keys rotate`
// finds the key directory; the store's own settings are still checked.
func TestAdminNeedsNoSigningSecret(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	vars := map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(dir, "auth.db"),
		"PASSWORD_HASH": HashBcrypt,
	}
	if _, err := LoadConfig(cfLookup(vars)); err == nil || !strings.Contains(err.Error(), "JWT_SECRET") {
		t.Fatalf("the server's configuration without JWT_SECRET: %v, want an error naming it", err)
	}
	run := func(stdin string, args ...string) adResult {
		var out, errOut bytes.Buffer
		code := runAdminWith(ctx, cfLookup(vars), args, strings.NewReader(stdin), &out, &errOut, open.Backends{})
		return adResult{code, out.String(), errOut.String()}
	}
	r := run("", "migrate").want(t, ExitOK)
	if want := fmt.Sprintf("schema migrated from version 0 to %d\n", sqlite.SchemaVersion()); r.stdout != want {
		t.Errorf("migrate printed %q, want %q", r.stdout, want)
	}
	run("correct horse battery\n", "users", "add", "--username", "alice", "--password-stdin").want(t, ExitOK)
	if r := run("", "users", "list").want(t, ExitOK); !strings.HasPrefix(r.stdout, "alice\tactive\t") {
		t.Errorf("users list printed %q", r.stdout)
	}

	vars["JWT_ALGORITHM"], vars["JWT_KEY_DIR"] = AlgEdDSA, filepath.Join(dir, "keys")
	run("", "keys", "rotate").want(t, ExitOK)
	if names, err := keyFileNames(vars["JWT_KEY_DIR"]); err != nil || len(names) != 1 {
		t.Errorf("after keys rotate the key directory has %q (%v), want one key", names, err)
	}

	vars["DATABASE_URL"] = "mysql://db/app"
	if r := run("", "migrate"); r.code != ExitError || !strings.Contains(r.stderr, "DATABASE_URL") {
		t.Errorf("migrate with a bad DATABASE_URL: exit %d, stderr %q", r.code, r.stderr)
	}
}
