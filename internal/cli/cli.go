// Package cli is gatehouse's command line: it parses arguments, calls the
// generator and reports. Main is the whole program, so tests run it in
// process.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing/fstest"

	"github.com/gatehouse-go/gatehouse/generator"
)

// Version is gatehouse's version, set at link time for releases.
var Version = "devel"

// Exit codes (DESIGN §3).
const (
	exitOK    = 0
	exitUser  = 1 // bad spec, stale output under --check
	exitUsage = 2
)

const usage = `gatehouse generates a Go API server from an OpenAPI 3.x spec, with
authentication, per-operation authorization and tests derived from its
security schemes.

Usage:
  gatehouse new DIR --spec FILE [--module PATH] [--template NAME|DIR] [--force] [--strict]
  gatehouse generate [-C DIR] [--check] [--diff] [--force] [--strict]
  gatehouse lint SPEC [--format text|json|sarif] [--matrix] [--fail-on LEVEL]
  gatehouse diff OLD_SPEC NEW_SPEC | --base REV SPEC [--fail-on-loosening]
  gatehouse templates
  gatehouse version

Run 'gatehouse COMMAND -h' for a command's flags.
`

// Main runs gatehouse with args (without the program name) and returns the
// exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &command{stdout: stdout, stderr: stderr, w: &generator.Writer{}}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx := context.Background()
	switch args[0] {
	case "new":
		return c.interruptible(ctx, func(ctx context.Context) int { return c.new(ctx, args[1:]) })
	case "generate", "gen":
		return c.interruptible(ctx, func(ctx context.Context) int { return c.generate(ctx, args[1:]) })
	case "lint":
		return c.lint(ctx, args[1:])
	case "diff":
		return c.diff(ctx, args[1:])
	case "templates":
		return c.templates(args[1:])
	case "version":
		fmt.Fprintf(stdout, "gatehouse %s\n", Version)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

type command struct {
	stdout, stderr io.Writer
	w              *generator.Writer // every write of the run
}

// fail reports err and returns the user-error exit code.
func (c *command) fail(err error) int {
	fmt.Fprintf(c.stderr, "gatehouse: %v\n", err)
	return exitUser
}

func (c *command) usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "gatehouse %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// parse parses flags that may come before or after positional arguments
// (`new DIR --spec x` and `new --spec x DIR` both work).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (c *command) new(ctx context.Context, args []string) int {
	fs := newFlagSet("new", "new DIR --spec FILE [--module PATH] [--template NAME|DIR] [--force] [--strict]", c.stderr)
	specPath := fs.String("spec", "", "the OpenAPI document (YAML or JSON)")
	module := fs.String("module", "", "the project's Go module path (default example.com/<DIR name>)")
	tmpl := fs.String("template", "full", "a built-in template name (see gatehouse templates) or a directory of overrides")
	force := fs.Bool("force", false, "write into a directory that is not empty")
	strict := fs.Bool("strict", false, "refuse spec constructs gatehouse would otherwise repair or degrade (recorded in gatehouse.yaml)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	switch {
	case len(pos) != 1:
		return c.usageError(fs, "give exactly one project directory")
	case *specPath == "":
		return c.usageError(fs, "--spec is required")
	}
	dir := pos[0]
	if *module == "" {
		*module = defaultModule(dir)
	}
	opts := generator.Options{SpecPath: *specPath, Module: *module, Strict: *strict}
	if code := c.template(*tmpl, &opts); code != exitOK {
		return code
	}
	var overrides map[string][]byte
	copyTemplate := false
	if opts.Overrides != nil {
		overrides, opts.TemplateDir, copyTemplate, err = newTemplate(dir, *tmpl)
		if err != nil {
			return c.fail(err)
		}
		opts.Overrides = mapFS(overrides)
	}
	res, err := generator.Generate(ctx, opts)
	if err != nil {
		return c.fail(err)
	}
	c.report(res)
	cfg, err := findFile(res, generator.ConfigFile)
	if err != nil {
		return c.fail(err)
	}
	specData, err := findFile(res, res.SpecFile)
	if err != nil {
		return c.fail(err)
	}
	inputs := map[string][]byte{res.SpecFile: specData, generator.ConfigFile: cfg}
	for p, data := range overrides {
		p = path.Join(opts.TemplateDir, p)
		inputs[p] = data
		if copyTemplate {
			res.Files = append(res.Files, generator.File{Path: p, Data: data, Tier: generator.Scaffolded})
		}
	}
	manifest := generator.NewManifest(res, inputs)
	if err := c.w.WriteNew(dir, res, manifest, *force); err != nil {
		return c.fail(err)
	}
	run := "GATEHOUSE_ENV=development go run ./cmd/server"
	if opts.Template == "resource-server" {
		run = "OIDC_ISSUER=https://your-idp.example OIDC_AUDIENCE=your-api go run ./cmd/server"
	}
	fmt.Fprintf(c.stdout, "created %s: %d operations, %d files\nnext:\n  cd %s\n  go test ./...\n  %s\n", dir, len(res.API.Operations), len(res.Files), dir, run)
	return exitOK
}

// template resolves --template into opts: a built-in name, or a directory.
func (c *command) template(name string, opts *generator.Options) int {
	if generator.IsBuiltinTemplate(name) {
		opts.Template = name
		return exitOK
	}
	info, err := os.Stat(name)
	if err != nil || !info.IsDir() {
		fmt.Fprintf(c.stderr, "gatehouse: template %q is neither a built-in template (%s) nor a directory\n", name, strings.Join(generator.BuiltinTemplateNames(), ", "))
		return exitUsage
	}
	opts.Template = "full"
	opts.Overrides = os.DirFS(name)
	return exitOK
}

// templateCopy is where new copies a template override directory from
// outside the project: a directory the go tool ignores.
const templateCopy = ".gatehouse/template"

// newTemplate reads the files of the template override directory tmpl for
// a new project in dir, and says where gatehouse.yaml records it: a
// directory inside the project stays where it is; one outside (a template
// shared between projects) is copied into the project, so that generate
// reads only files of the project and the project regenerates the same
// anywhere.
func newTemplate(dir, tmpl string) (files map[string][]byte, rel string, copied bool, err error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", false, err
	}
	abs, err := filepath.Abs(tmpl)
	if err != nil {
		return nil, "", false, err
	}
	if r, err := filepath.Rel(absDir, abs); err == nil && filepath.IsLocal(r) {
		files, err := generator.ReadTemplateDir(dir, filepath.ToSlash(r))
		return files, filepath.ToSlash(r), false, err
	}
	files, err = generator.ReadTemplateDir(tmpl, ".")
	return files, templateCopy, true, err
}

// mapFS serves files (slash-separated paths) as a file system.
func mapFS(files map[string][]byte) fs.FS {
	m := fstest.MapFS{}
	for p, data := range files {
		m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	return m
}

func findFile(res *generator.Result, path string) ([]byte, error) {
	for _, f := range res.Files {
		if f.Path == path {
			return f.Data, nil
		}
	}
	return nil, fmt.Errorf("internal error: no %s was generated", path)
}

func (c *command) report(res *generator.Result) {
	for _, n := range res.Notices {
		fmt.Fprintf(c.stderr, "notice: %s\n", n)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
}

var moduleUnsafe = regexp.MustCompile(`[^a-z0-9._-]+`)

// defaultModule derives a module path from the project directory's name.
func defaultModule(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := strings.Trim(moduleUnsafe.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-"), "-.")
	if name == "" {
		name = "api"
	}
	return "example.com/" + name
}

func (c *command) templates(args []string) int {
	if len(args) > 0 {
		fmt.Fprintln(c.stderr, "usage: gatehouse templates")
		return exitUsage
	}
	for _, t := range generator.BuiltinTemplates() {
		fmt.Fprintf(c.stdout, "%-16s %s\n", t.Name, t.Summary)
	}
	return exitOK
}
