package auth

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Exit codes of RunAdmin.
const (
	ExitOK    = 0 // the command did what was asked
	ExitError = 1 // it could not (the message says why)
	ExitUsage = 2 // the command line is wrong
)

// maxPasswordInput bounds what --password-stdin reads.
const maxPasswordInput = 4 << 10

// AdminDeps is what the administration commands work on.
type AdminDeps struct {
	Accounts *Accounts
	Store    store.Store
	// Algorithm and KeyDir are JWT_ALGORITHM and JWT_KEY_DIR, for
	// `keys rotate`.
	Algorithm string
	KeyDir    string
	// Getenv reads --password-env variables (os.Getenv if nil).
	Getenv func(string) string
	// Program names the binary in messages ("server" if empty).
	Program string
	// SpecScopes are the scopes the spec's operations require (SpecScopes
	// of routes.Operations), sorted; granting another one warns. nil: no
	// warnings.
	SpecScopes []string
}

// adminCommand is one subcommand: its usage, flags and action.
type adminCommand struct {
	group, name string
	args        string // flags synopsis
	summary     string
	help        string // more text for --help
	setup       func(fs *flag.FlagSet) func(ctx context.Context, a *adminRun) error
}

// adminRun is the state of one RunAdmin call.
type adminRun struct {
	deps           AdminDeps
	stdin          io.Reader
	stdout, stderr io.Writer
	// open, if not nil, fills deps when a command is about to run (after
	// its command line was checked) and returns what closes them.
	open      func(ctx context.Context, a *adminRun) (func(), error)
	closeDeps func() // set by ready once open succeeded
}

// usageError is a command-line mistake: exit code 2 and the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// RunAdmin runs one administration command and returns its exit code
// (ExitOK, ExitError, or ExitUsage for a wrong command line). args are the
// command-line arguments after the program name:
//
//	users add --username NAME (--password-stdin | --password-env VAR) [--scopes "a b"]
//	users passwd --username NAME (--password-stdin | --password-env VAR)
//	users disable --username NAME
//	users list
//	apikeys create --owner NAME [--scopes "a b"]
//	apikeys revoke --id ID
//	apikeys list
//	clients add --id ID [--scopes "a b"]
//	clients rotate-secret --id ID [--revoke-tokens]
//	clients remove --id ID
//	clients list
//	keys rotate
//	links add|remove|list (login_admin_gen.go)
//	migrate
//	help
//
// Every command takes --help. Passwords are read from standard input or an
// environment variable, never from a flag (flags show in process lists and
// shell history), and are never printed. API keys and client secrets are
// printed once, when created. Lists are sorted and tab-separated, one
// record per line, without a header.
func RunAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, deps AdminDeps) int {
	return runAdmin(ctx, args, stdin, stdout, stderr, deps, nil)
}

// runAdmin is RunAdmin with open (see adminRun).
func runAdmin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, deps AdminDeps,
	open func(context.Context, *adminRun) (func(), error)) int {
	if deps.Program == "" {
		deps.Program = "server"
	}
	if deps.Getenv == nil {
		deps.Getenv = os.Getenv
	}
	a := &adminRun{deps: deps, stdin: stdin, stdout: stdout, stderr: stderr, open: open}
	cmds := withLifecycleCommands(adminCommands())

	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		if len(args) >= 2 && args[0] == "help" {
			// `help users` or `help users add`
			return a.run(ctx, cmds, append(args[1:], "--help"))
		}
		if len(args) == 0 {
			a.topUsage(stderr, cmds)
			return ExitUsage
		}
		a.topUsage(stdout, cmds)
		return ExitOK
	}
	return a.run(ctx, cmds, args)
}

func (a *adminRun) run(ctx context.Context, cmds []adminCommand, args []string) int {
	prog := a.deps.Program
	group := args[0]
	var inGroup []adminCommand
	for _, c := range cmds {
		if c.group == group {
			inGroup = append(inGroup, c)
		}
	}
	if len(inGroup) == 0 {
		fmt.Fprintf(a.stderr, "%s: unknown command %q\n\n", prog, group)
		a.topUsage(a.stderr, cmds)
		return ExitUsage
	}
	var cmd *adminCommand
	var flagArgs []string
	if len(inGroup) == 1 && inGroup[0].name == "" {
		// A command of one word (migrate): its flags follow it.
		cmd, flagArgs = &inGroup[0], args[1:]
	} else {
		if len(args) < 2 || isHelp(args[1]) {
			out, code := a.stderr, ExitUsage
			if len(args) >= 2 {
				out, code = a.stdout, ExitOK
			} else {
				fmt.Fprintf(a.stderr, "%s %s: which command?\n\n", prog, group)
			}
			groupUsage(out, prog, inGroup)
			return code
		}
		for i := range inGroup {
			if inGroup[i].name == args[1] {
				cmd, flagArgs = &inGroup[i], args[2:]
			}
		}
		if cmd == nil {
			fmt.Fprintf(a.stderr, "%s %s: unknown command %q\n\n", prog, group, args[1])
			groupUsage(a.stderr, prog, inGroup)
			return ExitUsage
		}
	}

	name := strings.TrimSpace(prog + " " + cmd.group + " " + cmd.name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed below
	action := cmd.setup(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s\n\n%s\n", strings.TrimSpace(name+" "+cmd.args), cmd.summary)
		if cmd.help != "" {
			fmt.Fprintf(w, "\n%s\n", cmd.help)
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nflags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	err := fs.Parse(flagArgs)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(a.stdout)
		return ExitOK
	case err == nil && fs.NArg() > 0:
		err = usagef("unexpected argument %q", fs.Arg(0))
	case err == nil:
		err = a.act(ctx, action)
	default:
		err = &usageError{msg: flagErrorMessage(err)}
	}
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "%s: %v\n\n", name, err)
		usage(a.stderr)
		return ExitUsage
	}
	// This package's errors start with "auth: ", which tells an
	// administrator nothing.
	fmt.Fprintf(a.stderr, "%s: %s\n", name, strings.ReplaceAll(err.Error(), "auth: ", ""))
	return ExitError
}

// flagErrorMessage returns a parse error of the flag package without the
// value it quotes (it might be a password typed in the wrong place), and
// with a hint for the password flag that does not exist.
func flagErrorMessage(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "invalid ") {
		if i := strings.LastIndex(msg, " for -"); i >= 0 {
			name, _, _ := strings.Cut(msg[i+len(" for "):], ":")
			return "invalid value for " + name
		}
		return "invalid flag value"
	}
	if strings.HasSuffix(msg, "not defined: -password") {
		msg += " (passwords are read with --password-stdin or --password-env VAR, never from a flag)"
	}
	return msg
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func (a *adminRun) topUsage(w io.Writer, cmds []adminCommand) {
	prog := a.deps.Program
	fmt.Fprintf(w, "usage: %s [serve]         serve the API\n", prog)
	fmt.Fprintf(w, "       %s COMMAND ...     administer users, API keys, clients, keys and the schema\n\ncommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-21s %s\n", strings.TrimSpace(c.group+" "+c.name), c.summary)
	}
	fmt.Fprintf(w, "\nRun `%s COMMAND --help` for a command's flags.\n", prog)
}

func groupUsage(w io.Writer, prog string, cmds []adminCommand) {
	fmt.Fprintf(w, "usage:\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(prog+" "+c.group+" "+c.name+" "+c.args))
	}
}

// parseScopesFlag parses --scopes: scope names separated by spaces or commas.
func parseScopesFlag(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// passwordFlags are the two ways to pass a password.
type passwordFlags struct {
	stdin bool
	env   string
}

func (p *passwordFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.StringVar(&p.env, "password-env", "", "read the password from the environment variable `VAR`")
}

// read returns the password; it is never part of an error message.
func (p *passwordFlags) read(a *adminRun) (string, error) {
	switch {
	case p.stdin && p.env != "":
		return "", usagef("give --password-stdin or --password-env, not both")
	case p.stdin:
		r := bufio.NewReaderSize(io.LimitReader(a.stdin, maxPasswordInput+1), 512)
		line, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		if len(line) > maxPasswordInput {
			return "", errors.New("the password on standard input is too long")
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if pw == "" {
			return "", errors.New("no password on standard input")
		}
		return pw, nil
	case p.env != "":
		pw := a.deps.Getenv(p.env)
		if pw == "" {
			return "", fmt.Errorf("the environment variable %s is empty or not set", p.env)
		}
		return pw, nil
	}
	return "", usagef("a password is required: --password-stdin or --password-env VAR")
}

// failed adds what was being done to an action's error.
func failed(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

func required(name, value string) error {
	if value == "" {
		return usagef("--%s is required", name)
	}
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtScopes(scopes []string) string {
	if len(scopes) == 0 {
		return "-"
	}
	return strings.Join(scopes, " ")
}

// adminCommands lists every administration command, in help order.
func adminCommands() []adminCommand {
	return append([]adminCommand{
		{
			group: "users", name: "add",
			args:    `--username NAME (--password-stdin | --password-env VAR) [--scopes "a b"]`,
			summary: "create a user",
			help:    "The user name is normalised (case-folded, width-mapped); the password must have 8 to 128 characters.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				username := fs.String("username", "", "the user `NAME`")
				scopes := fs.String("scopes", "", "the `SCOPES` granted to the user, separated by spaces or commas")
				var pw passwordFlags
				pw.register(fs)
				return func(ctx context.Context, a *adminRun) error {
					if err := required("username", *username); err != nil {
						return err
					}
					password, err := pw.read(a)
					if err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					u, err := a.deps.Accounts.CreateUser(ctx, *username, password, parseScopesFlag(*scopes))
					if errors.Is(err, store.ErrExists) {
						return fmt.Errorf("user %q already exists", *username)
					}
					if err != nil {
						return failed(err, "creating user %q", *username)
					}
					a.warnScopes(a.deps.Program+" users add", u.Scopes)
					fmt.Fprintf(a.stdout, "created user %s\n", u.Username)
					return nil
				}
			},
		},
		{
			group: "users", name: "passwd",
			args:    "--username NAME (--password-stdin | --password-env VAR)",
			summary: "set a user's password; ends the user's earlier sessions",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				username := fs.String("username", "", "the user `NAME`")
				var pw passwordFlags
				pw.register(fs)
				return func(ctx context.Context, a *adminRun) error {
					if err := required("username", *username); err != nil {
						return err
					}
					password, err := pw.read(a)
					if err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					err = a.deps.Accounts.SetPassword(ctx, *username, password)
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no user %q", *username)
					}
					if err != nil {
						return failed(err, "setting the password of %q", *username)
					}
					fmt.Fprintf(a.stdout, "changed the password of %s; earlier sessions are ended\n", *username)
					return nil
				}
			},
		},
		{
			group: "users", name: "disable",
			args:    "--username NAME",
			summary: "disable a user; ends the user's sessions and API keys",
			setup:   userChange((*Accounts).DisableUser, "disabling", "disabled user %s; sessions are ended"),
		},
		{
			group: "users", name: "list",
			summary: "list users: NAME, active|disabled, SCOPES, CREATED (tab-separated)",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				return func(ctx context.Context, a *adminRun) error {
					if err := a.ready(ctx); err != nil {
						return err
					}
					users, err := a.deps.Store.ListUsers(ctx)
					if err != nil {
						return failed(err, "listing users")
					}
					for _, u := range users {
						status := "active"
						if u.Disabled {
							status = "disabled"
						}
						fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\n", u.Username, status, fmtScopes(u.Scopes), fmtTime(u.CreatedAt))
					}
					return nil
				}
			},
		},
		{
			group: "apikeys", name: "create",
			args:    `--owner NAME [--scopes "a b"]`,
			summary: "create an API key; prints ID<TAB>KEY, the key only this once",
			help: "Requests with the key act for the owner, an existing user (disabled, the key stops working; deleted, it is revoked)\n" +
				"with the key's scopes. Only a digest of the key is stored: it cannot be shown again.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				owner := fs.String("owner", "", "the `NAME` requests with the key act for")
				scopes := fs.String("scopes", "", "the `SCOPES` granted to the key, separated by spaces or commas")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("owner", *owner); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					switch ok, err := a.deps.Accounts.UserExists(ctx, *owner); {
					case err != nil:
						return failed(err, "creating an API key")
					case !ok:
						return fmt.Errorf("no user %q: create the user first (users add); the key acts for its owner", *owner)
					}
					id, key, err := a.deps.Accounts.CreateAPIKey(ctx, *owner, parseScopesFlag(*scopes))
					if err != nil {
						return failed(err, "creating an API key")
					}
					a.warnScopes(a.deps.Program+" apikeys create", store.NormScopes(parseScopesFlag(*scopes)))
					fmt.Fprintf(a.stdout, "%s\t%s\n", id, key)
					fmt.Fprintf(a.stderr, "API key %s created; store the key now, it is not shown again\n", id)
					return nil
				}
			},
		},
		{
			group: "apikeys", name: "revoke",
			args:    "--id ID",
			summary: "revoke an API key",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				id := fs.String("id", "", "the key's `ID` (as listed, not the key itself)")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("id", *id); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					err := a.deps.Accounts.RevokeAPIKey(ctx, *id)
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no API key %q", *id)
					}
					if err != nil {
						return failed(err, "revoking %q", *id)
					}
					fmt.Fprintf(a.stdout, "revoked API key %s\n", *id)
					return nil
				}
			},
		},
		{
			group: "apikeys", name: "list",
			summary: "list API keys: ID, OWNER, active|revoked, SCOPES, CREATED (tab-separated)",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				return func(ctx context.Context, a *adminRun) error {
					if err := a.ready(ctx); err != nil {
						return err
					}
					keys, err := a.deps.Store.ListAPIKeys(ctx)
					if err != nil {
						return failed(err, "listing API keys")
					}
					for _, k := range keys {
						status := "active"
						if !k.RevokedAt.IsZero() {
							status = "revoked"
						}
						fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Owner, status, fmtScopes(k.Scopes), fmtTime(k.CreatedAt))
					}
					return nil
				}
			},
		},
		{
			group: "clients", name: "add",
			args:    `--id ID [--scopes "a b"]`,
			summary: "register an OAuth client; prints ID<TAB>SECRET, the secret only this once",
			help: "The client gets access tokens with the client_credentials grant, authenticating with its id and\n" +
				"secret (HTTP Basic). Only a hash of the secret is stored: it cannot be shown again.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				id := fs.String("id", "", "the client `ID`: letters, digits and . _ ~ -")
				scopes := fs.String("scopes", "", "the `SCOPES` the client may be granted, separated by spaces or commas")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("id", *id); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					secret, err := a.deps.Accounts.CreateClient(ctx, *id, parseScopesFlag(*scopes))
					if errors.Is(err, store.ErrExists) {
						return fmt.Errorf("client %q already exists", *id)
					}
					if err != nil {
						return failed(err, "registering client %q", *id)
					}
					a.warnScopes(a.deps.Program+" clients add", store.NormScopes(parseScopesFlag(*scopes)))
					fmt.Fprintf(a.stdout, "%s\t%s\n", *id, secret)
					fmt.Fprintf(a.stderr, "client %s registered; store the secret now, it is not shown again\n", *id)
					return nil
				}
			},
		},
		{
			group: "clients", name: "rotate-secret",
			args:    "--id ID [--revoke-tokens]",
			summary: "give a client a new secret; prints ID<TAB>SECRET, the secret only this once",
			help: "The old secret stops working at once. Tokens already issued to the client keep working until they\n" +
				"expire, unless --revoke-tokens is given: use it when the old secret may have leaked.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				id := fs.String("id", "", "the client `ID`")
				revoke := fs.Bool("revoke-tokens", false, "also end every token issued to the client so far")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("id", *id); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					secret, err := a.deps.Accounts.RotateClientSecret(ctx, *id, *revoke)
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no client %q", *id)
					}
					if err != nil {
						return failed(err, "rotating the secret of client %q", *id)
					}
					fmt.Fprintf(a.stdout, "%s\t%s\n", *id, secret)
					ended := "tokens already issued keep working until they expire"
					if *revoke {
						ended = "tokens issued to it so far are revoked"
					}
					fmt.Fprintf(a.stderr, "client %s has a new secret; store it now, it is not shown again; %s\n", *id, ended)
					return nil
				}
			},
		},
		{
			group: "clients", name: "remove",
			args:    "--id ID",
			summary: "remove an OAuth client; ends every token issued to it",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				id := fs.String("id", "", "the client `ID`")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("id", *id); err != nil {
						return err
					}
					if err := a.ready(ctx); err != nil {
						return err
					}
					err := a.deps.Accounts.RemoveClient(ctx, *id)
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no client %q", *id)
					}
					if err != nil {
						return failed(err, "removing client %q", *id)
					}
					fmt.Fprintf(a.stdout, "removed client %s; its tokens are revoked\n", *id)
					return nil
				}
			},
		},
		{
			group: "clients", name: "list",
			summary: "list OAuth clients: ID, SCOPES, CREATED (tab-separated)",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				return func(ctx context.Context, a *adminRun) error {
					if err := a.ready(ctx); err != nil {
						return err
					}
					clients, err := a.deps.Store.ListClients(ctx)
					if err != nil {
						return failed(err, "listing clients")
					}
					for _, c := range clients {
						fmt.Fprintf(a.stdout, "%s\t%s\t%s\n", c.ID, fmtScopes(c.Scopes), fmtTime(c.CreatedAt))
					}
					return nil
				}
			},
		},
		{
			group: "keys", name: "rotate",
			summary: "create a new signing key (EdDSA, ES256, RS256); prints its kid",
			help: "The new key signs access tokens once the server restarts (restart every instance); older keys keep\n" +
				"verifying until their files are removed from JWT_KEY_DIR, which is safe one ACCESS_TOKEN_TTL later.\n" +
				"With HS256 the secret lives in the environment: this prints a new random secret to put in JWT_SECRET,\n" +
				"moving the current one to JWT_PREVIOUS_SECRETS.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				return func(ctx context.Context, a *adminRun) error {
					if err := a.ready(ctx); err != nil {
						return err
					}
					if a.deps.Algorithm == AlgHS256 || a.deps.Algorithm == "" {
						b := make([]byte, 48)
						if _, err := rand.Read(b); err != nil {
							return failed(err, "generating a secret")
						}
						fmt.Fprintf(a.stdout, "%s\n", base64.StdEncoding.EncodeToString(b))
						fmt.Fprintf(a.stderr, "HS256: set JWT_SECRET to the value above, add the current JWT_SECRET to JWT_PREVIOUS_SECRETS,\n"+
							"and restart; drop the previous secret one ACCESS_TOKEN_TTL later\n")
						return nil
					}
					kid, err := GenerateKey(a.deps.KeyDir, a.deps.Algorithm)
					if err != nil {
						return failed(err, "creating a %s key in %s", a.deps.Algorithm, a.deps.KeyDir)
					}
					fmt.Fprintf(a.stdout, "%s\n", kid)
					fmt.Fprintf(a.stderr, "created %s key %s in %s; restart the server to sign with it\n", a.deps.Algorithm, kid, a.deps.KeyDir)
					return nil
				}
			},
		},
		{
			group:   "migrate",
			summary: "bring the database schema (DATABASE_URL) up to date",
			help: "The server also migrates when it starts. Run this as a one-off job before starting a new version, so that\n" +
				"instances start on a current schema. Several instances or jobs migrating at once is safe: they take turns.\n" +
				"A schema newer than this binary is refused, by this command and by the server.",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				return func(ctx context.Context, a *adminRun) error {
					if err := a.ready(ctx); err != nil {
						return err
					}
					m, ok := a.deps.Store.(store.SchemaMigrator)
					if !ok {
						fmt.Fprintf(a.stdout, "this store keeps no schema: nothing to migrate\n")
						return nil
					}
					v, err := m.Migrate(ctx)
					if err != nil {
						return failed(err, "migrating the schema")
					}
					if v.Opened == v.Current {
						fmt.Fprintf(a.stdout, "schema at version %d, up to date\n", v.Current)
					} else {
						fmt.Fprintf(a.stdout, "schema migrated from version %d to %d\n", v.Opened, v.Current)
					}
					return nil
				}
			},
		},
	}, linkAdminCommands()...)
}
