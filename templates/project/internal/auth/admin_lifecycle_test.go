package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/open"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres/pgtest"
)

// Help, --help and command-line mistakes need no configuration at all (here
// a broken one) and create no files: the store is opened only for a command
// that is about to run.
func TestAdminHelpAndMistakesNeedNoConfigurationAndCreateNoFiles(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(dir, "data", "auth.db"), "LOG_LEVEL": "loud"}
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout for 0, stderr otherwise
	}{
		{nil, ExitUsage, "usage: server [serve]"},
		{[]string{"help"}, ExitOK, "sessions revoke"},
		{[]string{"--help"}, ExitOK, "users delete"},
		{[]string{"-h"}, ExitOK, "users scopes"},
		{[]string{"help", "users"}, ExitOK, "users enable --username NAME"},
		{[]string{"users", "--help"}, ExitOK, "users delete --username NAME"},
		{[]string{"users", "add", "--help"}, ExitOK, "usage: server users add"},
		{[]string{"sessions", "list", "--help"}, ExitOK, "usage: server sessions list --username NAME"},
		{[]string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{[]string{"users", "frobnicate"}, ExitUsage, `unknown command "frobnicate"`},
		{[]string{"users"}, ExitUsage, "which command?"},
		{[]string{"users", "delete"}, ExitUsage, "--username is required"},
		{[]string{"users", "scopes", "--username", "alice"}, ExitUsage, "--scopes is required"},
		{[]string{"sessions", "revoke", "--id", "x", "extra"}, ExitUsage, `unexpected argument "extra"`},
		{[]string{"users", "list", "--bogus"}, ExitUsage, "not defined: -bogus"},
	} {
		var out, errOut bytes.Buffer
		code := runAdminWith(context.Background(), cfLookup(vars), tc.args, strings.NewReader(""), &out, &errOut, open.Backends{})
		got := errOut.String()
		if tc.code == ExitOK {
			got = out.String()
		}
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out.String(), errOut.String(), tc.code, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help and mistakes created %v", entries)
	}
	// A command that runs reads the configuration, and says what is wrong.
	var out, errOut bytes.Buffer
	if code := runAdminWith(context.Background(), cfLookup(vars), []string{"users", "list"}, nil, &out, &errOut, open.Backends{}); code != ExitError ||
		!strings.Contains(errOut.String(), "LOG_LEVEL") {
		t.Errorf("users list with a broken configuration: exit %d, stderr %q", code, errOut.String())
	}
}

// adLifecycle runs the lifecycle commands against a server on store: scopes
// set, disable and enable, sessions listed and revoked, a user deleted with
// everything issued to it ending at once, warnings for scopes the spec
// never requires.
func adLifecycle(t *testing.T, store store.Store) {
	f := epSetupOn(t, store, nil, func(o *Options) { o.SpecScopes = []string{"pets:read", "pets:write"} })
	run := func(code int, args ...string) adResult {
		t.Helper()
		var out, errOut bytes.Buffer
		deps := AdminDeps{Accounts: f.svc.Accounts(), Store: f.svc.Store(), SpecScopes: f.svc.opts.SpecScopes}
		r := adResult{RunAdmin(context.Background(), args, strings.NewReader(epPassword+"\n"), &out, &errOut, deps), out.String(), errOut.String()}
		return r.want(t, code)
	}
	// Granting a scope no operation requires works, with a warning.
	r := run(ExitOK, "users", "add", "--username", "alice", "--password-stdin", "--scopes", "pets:read pets:wirte")
	if !strings.Contains(r.stderr, `warning: no operation of the spec requires scope "pets:wirte" (the spec's scopes: pets:read pets:write)`) {
		t.Errorf("users add with an unknown scope: stderr %q", r.stderr)
	}
	if r := run(ExitOK, "users", "add", "--username", "bob", "--password-stdin", "--scopes", "pets:read"); r.stderr != "" {
		t.Errorf("users add with the spec's scopes warned: %q", r.stderr)
	}

	// Two sessions of alice, listed; one revoked ends its refresh and access tokens.
	one, two := f.login("alice", ""), f.login("alice", "pets:read")
	r = run(ExitOK, "sessions", "list", "--username", "ALICE")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("sessions list:\n%s", r.stdout)
	}
	var ids []string
	for _, l := range lines {
		fields := strings.Split(l, "\t")
		if len(fields) != 6 || fields[1] != "-" {
			t.Fatalf("sessions list line %q", l)
		}
		ids = append(ids, fields[0])
	}
	if r := run(ExitOK, "sessions", "list", "--username", "bob"); r.stdout != "" {
		t.Errorf("bob's sessions: %q", r.stdout)
	}
	// Revoke the session of the second login (the one with pets:read).
	var secondID string
	sessions, err := f.svc.Accounts().Sessions(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if strings.Join(s.Scopes, " ") == "pets:read" {
			secondID = s.FamilyID
		}
	}
	if !slices.Contains(ids, secondID) {
		t.Errorf("sessions list shows %q, not the session %q", ids, secondID)
	}
	run(ExitOK, "sessions", "revoke", "--id", secondID)
	f.sync()
	if code := f.me(two.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token of a revoked session: %d, want 401", code)
	}
	if w := f.refresh(two.RefreshToken); w.Code != http.StatusBadRequest {
		t.Errorf("refresh of a revoked session: %d, want 400", w.Code)
	}
	if code := f.me(one.AccessToken); code != http.StatusOK {
		t.Errorf("access token of the other session: %d, want 200", code)
	}
	if r := run(ExitError, "sessions", "revoke", "--id", "nope"); !strings.Contains(r.stderr, `no session "nope"`) {
		t.Errorf("sessions revoke unknown: %q", r.stderr)
	}

	// users scopes replaces the scopes and ends the sessions.
	f.clock.Advance(time.Second)
	run(ExitOK, "users", "scopes", "--username", "alice", "--scopes", "pets:write")
	f.sync()
	if code := f.me(one.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token from before users scopes: %d, want 401", code)
	}
	f.clock.Advance(time.Second)
	if got := f.login("alice", "").Scope; got != "pets:write" {
		t.Errorf("scopes after users scopes: %q", got)
	}
	run(ExitOK, "users", "scopes", "--username", "alice", "--scopes", "")
	if r := run(ExitOK, "users", "list"); !strings.Contains(r.stdout, "alice\tactive\t-\t") {
		t.Errorf("users scopes --scopes \"\" left:\n%s", r.stdout)
	}
	run(ExitError, "users", "scopes", "--username", "nobody", "--scopes", "pets:read")

	// disable, enable.
	run(ExitOK, "users", "disable", "--username", "bob")
	run(ExitOK, "users", "enable", "--username", "bob")
	f.clock.Advance(time.Second)
	if r := run(ExitOK, "users", "list"); !strings.Contains(r.stdout, "bob\tactive\tpets:read\t") {
		t.Errorf("bob after enable:\n%s", r.stdout)
	}
	f.login("bob", "")
	run(ExitError, "users", "enable", "--username", "nobody")

	// delete: the session, the access token and the API key of bob end at once.
	f.clock.Advance(time.Second)
	session := f.login("bob", "")
	r = run(ExitOK, "apikeys", "create", "--owner", "bob", "--scopes", "pets:read")
	_, key, _ := strings.Cut(strings.TrimSpace(r.stdout), "\t")
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	if _, err := f.svc.Accounts().VerifyAPIKey(req, key); err != nil {
		t.Fatalf("bob's API key before delete: %v", err)
	}
	run(ExitOK, "users", "delete", "--username", "bob")
	f.sync()
	if code := f.me(session.AccessToken); code != http.StatusUnauthorized {
		t.Errorf("access token of a deleted user: %d, want 401", code)
	}
	if _, err := f.svc.Accounts().VerifyAPIKey(req, key); err == nil {
		t.Error("a deleted user's API key still verifies")
	}
	if r := run(ExitError, "users", "delete", "--username", "bob"); !strings.Contains(r.stderr, `no user "bob"`) {
		t.Errorf("users delete of an unknown user: %q", r.stderr)
	}
	// A new bob inherits nothing: not the session, not the key.
	run(ExitOK, "users", "add", "--username", "bob", "--password-stdin")
	if w := f.refresh(session.RefreshToken); w.Code != http.StatusBadRequest {
		t.Errorf("refresh of the deleted bob's session by the new bob: %d, want 400", w.Code)
	}
	if _, err := f.svc.Accounts().VerifyAPIKey(req, key); err == nil {
		t.Error("the deleted bob's API key works for the new bob")
	}
	if r := run(ExitError, "apikeys", "create", "--owner", "carol"); !strings.Contains(r.stderr, `no user "carol"`) {
		t.Errorf("apikeys create for an unknown owner: %q", r.stderr)
	}
}

func TestAdminLifecycleOnMemory(t *testing.T) { adLifecycle(t, memory.New()) }

func TestAdminLifecycleOnSQLite(t *testing.T) {
	adLifecycle(t, openTestSQLite(t, filepath.Join(t.TempDir(), "auth.db")))
}

func TestAdminLifecycleOnPostgres(t *testing.T) {
	t.Parallel()
	adLifecycle(t, openTestPostgres(t))
}

// ADMIN_USERNAME creates the first administrator once: a second start
// leaves it (and a changed password) alone, without reading the password
// file; instances starting at once on one database create it once.
func TestFirstAdminFromEnvironment(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(pwFile, []byte(epPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"ADMIN_USERNAME": "Root", "ADMIN_PASSWORD_FILE": pwFile, "ADMIN_SCOPES": "pets:read,admin:all"}
	cfg := svConfig(t, dir, vars)
	var logs lockedBuffer
	opts := Options{SpecScopes: []string{"pets:read"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}

	// The schema exists (SQLite serialises its creation by failing a second
	// writer with SQLITE_BUSY; instances sharing one database are a
	// PostgreSQL deployment, tested in TestFirstAdminOnPostgresOnce).
	first, err := New(ctx, svConfig(t, dir, nil), open.Backends{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()

	// Several instances start at once.
	var wg sync.WaitGroup
	svcs := make([]*Service, 3)
	errs := make([]error, 3)
	for i := range svcs {
		wg.Go(func() { svcs[i], errs[i] = New(ctx, cfg, open.Backends{}, opts) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		defer svcs[i].Close()
	}
	if n := strings.Count(logs.String(), "created the first administrator"); n != 1 {
		t.Errorf("the administrator was created %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "scope=admin:all") || strings.Contains(logs.String(), epPassword) {
		t.Errorf("want a warning for admin:all and no password in the logs:\n%s", logs.String())
	}
	u, err := svcs[0].Accounts().Authenticate(ctx, "root", epPassword, "127.0.0.1")
	if err != nil || strings.Join(u.Scopes, " ") != "admin:all pets:read" {
		t.Fatalf("the administrator: %+v, %v", u, err)
	}
	// Changed since, and the secret file removed: a restart leaves it alone.
	if err := svcs[0].Accounts().SetPassword(ctx, "root", "a changed password!"); err != nil {
		t.Fatal(err)
	}
	// Logins wait for the whole second after a password change (at most 1s).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	for _, s := range svcs {
		s.Close()
	}
	os.Remove(pwFile)
	logs.Reset()
	svc, err := New(ctx, cfg, open.Backends{}, opts)
	if err != nil {
		t.Fatalf("restart without the password file: %v", err)
	}
	defer svc.Close()
	if !strings.Contains(logs.String(), "the user exists; left unchanged") {
		t.Errorf("restart logs:\n%s", logs.String())
	}
	if _, err := svc.Accounts().Authenticate(ctx, "root", "a changed password!", "127.0.0.1"); err != nil {
		t.Errorf("the changed password after a restart: %v", err)
	}

	// A missing password file for a user to create is an error naming it.
	cfg2 := svConfig(t, t.TempDir(), map[string]string{"ADMIN_USERNAME": "other", "ADMIN_PASSWORD_FILE": pwFile})
	if _, err := New(ctx, cfg2, open.Backends{}, opts); err == nil || !strings.Contains(err.Error(), "ADMIN_PASSWORD_FILE") {
		t.Errorf("missing password file: %v", err)
	}
	// The variables go together.
	for _, v := range []map[string]string{{"ADMIN_USERNAME": "x"}, {"ADMIN_PASSWORD_FILE": pwFile}} {
		v["JWT_SECRET"] = cfSecret
		if _, err := LoadConfig(cfLookup(v)); err == nil || !strings.Contains(err.Error(), "ADMIN_") {
			t.Errorf("LoadConfig(%v): %v", v, err)
		}
	}
}

// lockedBuffer is a bytes.Buffer that several goroutines may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// Instances starting at once on one PostgreSQL database create the first
// administrator once; the others log that it exists.
func TestFirstAdminOnPostgresOnce(t *testing.T) {
	t.Parallel()
	pwFile := filepath.Join(t.TempDir(), "admin-password")
	if err := os.WriteFile(pwFile, []byte(epPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	pg := pgtest.Config(t)
	admin := func(c *Config) { c.AdminUsername, c.AdminPasswordFile = "root", pwFile }
	fixtures := make([]*epFixture, 4)
	for i := range fixtures {
		fixtures[i] = epSetupOn(t, openTestPostgresConfig(t, pg.Copy()), admin)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(fixtures))
	for i, f := range fixtures {
		wg.Go(func() { errs[i] = f.svc.createFirstAdmin(context.Background()) })
	}
	wg.Wait()
	created, exists := 0, 0
	for i, f := range fixtures {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		created += strings.Count(f.log.String(), "created the first administrator")
		exists += strings.Count(f.log.String(), "the user exists; left unchanged")
	}
	if created != 1 || exists != len(fixtures)-1 {
		t.Errorf("created %d times, found existing %d times; want 1 and %d", created, exists, len(fixtures)-1)
	}
	if _, err := fixtures[0].svc.Accounts().Authenticate(context.Background(), "root", epPassword, "127.0.0.1"); err != nil {
		t.Errorf("the administrator: %v", err)
	}
}
