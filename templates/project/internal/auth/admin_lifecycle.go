package auth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// RunAdminFromEnvWith is RunAdminFromEnv for a server built with opts: the
// commands that grant scopes warn about those no operation of the spec
// requires (opts.SpecScopes). The configuration is read and the store
// opened (with backends) only once the command line is known to be right,
// so `help`, `--help` and mistakes need no configuration and create no
// files.
func RunAdminFromEnvWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, backends Backends, opts Options) int {
	return runAdminLookup(ctx, envLookup, args, stdin, stdout, stderr, backends, opts)
}

// runAdminLookup is RunAdminFromEnvWith with the variables from env.
func runAdminLookup(ctx context.Context, env func() (func(string) (string, bool), error), args []string, stdin io.Reader, stdout, stderr io.Writer,
	backends Backends, opts Options) int {
	deps := AdminDeps{SpecScopes: opts.SpecScopes}
	return runAdmin(ctx, args, stdin, stdout, stderr, deps, func(ctx context.Context, a *adminRun) (func(), error) {
		lookup, err := env()
		if err != nil {
			return nil, fmt.Errorf("configuration:\n%w", err)
		}
		cfg, err := loadConfig(lookup, keyLocations)
		if err != nil {
			return nil, fmt.Errorf("configuration:\n%w", err)
		}
		if err := checkBackends(&cfg, backends); err != nil {
			return nil, err
		}
		st, _, err := openStore(ctx, cfg, backends)
		if err != nil {
			return nil, err
		}
		a.deps.Accounts = NewAccounts(st, newHasher(cfg), NewThrottle(ThrottleConfig{}), AccountsOptions{})
		a.deps.Store = st
		a.deps.Algorithm, a.deps.KeyDir = cfg.JWTAlgorithm, cfg.JWTKeyDir
		return func() { st.Close() }, nil
	})
}

// SpecScopes returns the scopes that the policies require, sorted and
// without duplicates (empty, not nil, when none does): what granting a
// scope can make a difference to.
func SpecScopes(policies ...Policy) []string {
	out := []string{}
	for _, p := range policies {
		for _, req := range p {
			for _, sr := range req {
				out = append(out, sr.Scopes...)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// warnScopes writes a warning, not an error, for each granted scope that no
// operation requires: a typo, or a scope of another API. The command still
// succeeds (exit 0). Without the spec's scopes (nil) it says nothing.
func (a *adminRun) warnScopes(name string, granted []string) {
	if a.deps.SpecScopes == nil {
		return
	}
	for _, s := range granted {
		if _, ok := slices.BinarySearch(a.deps.SpecScopes, s); !ok {
			known := strings.Join(a.deps.SpecScopes, " ")
			if known == "" {
				known = "none"
			}
			fmt.Fprintf(a.stderr, "%s: warning: no operation of the spec requires scope %q (the spec's scopes: %s)\n", name, s, known)
		}
	}
}

// withLifecycleCommands inserts the lifecycle commands (users scopes,
// enable, delete; sessions list, revoke) after the other commands of their
// group, so that help lists each group together.
func withLifecycleCommands(cmds []adminCommand) []adminCommand {
	for _, c := range lifecycleCommands() {
		at := len(cmds)
		for i, d := range cmds {
			if d.group == c.group {
				at = i + 1
			}
		}
		if at == len(cmds) && c.group == "sessions" {
			// A new group: after the users.
			for i, d := range cmds {
				if d.group == "users" {
					at = i + 1
				}
			}
		}
		cmds = slices.Insert(cmds, at, c)
	}
	return cmds
}

// failedOr is failed, with the message missing when err is ErrNotFound.
func failedOr(err error, missing string, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return errors.New(missing)
	}
	return failed(err, format, args...)
}

// userChange is the setup of a command that changes the user named by
// --username with act, and says done (a format of the user's name).
func userChange(act func(*Accounts, context.Context, string) error, doing, done string) func(*flag.FlagSet) func(context.Context, *adminRun) error {
	return func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
		username := fs.String("username", "", "the user `NAME`")
		return func(ctx context.Context, a *adminRun) error {
			if err := required("username", *username); err != nil {
				return err
			}
			if err := a.ready(ctx); err != nil {
				return err
			}
			if err := act(a.deps.Accounts, ctx, *username); err != nil {
				return failedOr(err, fmt.Sprintf("no user %q", *username), "%s %q", doing, *username)
			}
			fmt.Fprintf(a.stdout, done+"\n", *username)
			return nil
		}
	}
}

// scopesFlag is --scopes where an empty value means "none" and the flag
// missing means "not given".
type scopesFlag struct {
	set    bool
	scopes []string
}

func (f *scopesFlag) String() string { return strings.Join(f.scopes, " ") }
func (f *scopesFlag) Set(s string) error {
	f.set, f.scopes = true, parseScopesFlag(s)
	return nil
}

func lifecycleCommands() []adminCommand {
	return []adminCommand{
		{
			group: "users", name: "scopes",
			args:    `--username NAME --scopes "a b"`,
			summary: "set a user's scopes (replacing them); ends the user's sessions",
			help: "The user's tokens carry the scopes granted at login, so the user's sessions end: a scope taken away\n" +
				"stops working at once, one granted is in the tokens of the next login. --scopes \"\" removes them all.\n" +
				"A scope that no operation of the spec requires is granted with a warning.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				username := fs.String("username", "", "the user `NAME`")
				var scopes scopesFlag
				fs.Var(&scopes, "scopes", "the `SCOPES`, separated by spaces or commas, that replace the user's")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("username", *username); err != nil {
						return err
					}
					if !scopes.set {
						return usagef("--scopes is required (--scopes \"\" removes every scope)")
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					err := a.deps.Accounts.SetScopes(ctx, *username, scopes.scopes)
					if err != nil {
						return failedOr(err, fmt.Sprintf("no user %q", *username), "setting the scopes of %q", *username)
					}
					a.warnScopes(a.deps.Program+" users scopes", scopes.scopes)
					fmt.Fprintf(a.stdout, "set the scopes of %s to %s; earlier sessions are ended\n", *username, fmtScopes(store.NormScopes(scopes.scopes)))
					return nil
				}
			},
		},
		{
			group: "users", name: "enable",
			args:    "--username NAME",
			summary: "enable a disabled user (the user logs in again)",
			setup:   userChange((*Accounts).EnableUser, "enabling", "enabled user %s"),
		},
		{
			group: "users", name: "delete",
			args:    "--username NAME",
			summary: "delete a user; ends the user's sessions, tokens and API keys at once",
			help: "The user's refresh tokens and access tokens stop working in every instance (within the revocation\n" +
				"feed's poll), and the API keys the user owns are revoked. A user later created under the same name\n" +
				"inherits none of them.",
			setup: userChange((*Accounts).DeleteUser, "deleting", "deleted user %s; its sessions, tokens and API keys are ended"),
		},
		{
			group: "sessions", name: "list",
			args:    "--username NAME",
			summary: "list a user's sessions: ID, CLIENT, SCOPES, LOGIN, LAST-REFRESH, EXPIRES (tab-separated)",
			help:    "A session is one login: its refresh token rotates on each use. CLIENT is - for a password login.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				username := fs.String("username", "", "the user `NAME`")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("username", *username); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					sessions, err := a.deps.Accounts.Sessions(ctx, *username)
					if err != nil {
						return failed(err, "listing the sessions of %q", *username)
					}
					for _, s := range sessions {
						client := s.ClientID
						if client == "" {
							client = "-"
						}
						fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", s.FamilyID, client, fmtScopes(s.Scopes),
							fmtTime(s.AuthTime), fmtTime(s.IssuedAt), fmtTime(s.ExpiresAt))
					}
					return nil
				}
			},
		},
		{
			group: "sessions", name: "revoke",
			args:    "--id ID",
			summary: "end one session: its refresh token and the access tokens issued with it",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				id := fs.String("id", "", "the session `ID`, as `sessions list` shows it")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("id", *id); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					if err := a.deps.Accounts.RevokeSession(ctx, *id); err != nil {
						return failedOr(err, fmt.Sprintf("no session %q", *id), "revoking session %q", *id)
					}
					fmt.Fprintf(a.stdout, "revoked session %s\n", *id)
					return nil
				}
			},
		},
	}
}

// act runs a command's action, and closes what a.ready opened.
func (a *adminRun) act(ctx context.Context, action func(context.Context, *adminRun) error) error {
	defer func() {
		if a.closeDeps != nil {
			a.closeDeps()
		}
	}()
	return action(ctx, a)
}

// ready opens the store (a.open) if it is not open yet. Actions call it
// once their command line is checked, so that a mistake in it is reported
// (exit 2) without reading the configuration or creating files.
func (a *adminRun) ready(ctx context.Context) error {
	if a.open == nil || a.closeDeps != nil {
		return nil
	}
	done, err := a.open(ctx, a)
	if err != nil {
		return err
	}
	a.closeDeps = done
	return nil
}

// ServeCommand checks the arguments after `server serve`, the explicit form
// of `server`: with none, it returns done false and the caller serves;
// --help prints the usage (exit 0); anything else is a usage error (exit 2).
func ServeCommand(args []string, stdout, stderr io.Writer) (code int, done bool) {
	const usage = "usage: server serve\n\nserve the API, with the configuration from the environment and .env (see .env.example);\n`server` alone does the same\n"
	switch {
	case len(args) == 0:
		return ExitOK, false
	case len(args) == 1 && (isHelp(args[0]) || args[0] == "help"):
		fmt.Fprint(stdout, usage)
		return ExitOK, true
	}
	fmt.Fprintf(stderr, "server serve: unexpected argument %q\n\n%s", args[0], usage)
	return ExitUsage, true
}

// RunMinimalAdminFromEnv is RunMinimalAdmin with the configuration from the
// environment, read only for `tokens issue`, which signs with the
// configured key: help, mistakes and `apikeys create` need none.
func RunMinimalAdminFromEnv(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "tokens" || slices.ContainsFunc(args, isHelp) {
		return RunMinimalAdmin(ctx, args, stdout, stderr, Config{})
	}
	cfg, err := LoadConfigFromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "server: configuration:\n%v\n", err)
		return ExitError
	}
	return RunMinimalAdmin(ctx, args, stdout, stderr, cfg)
}
