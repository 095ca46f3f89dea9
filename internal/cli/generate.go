package cli

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/gatehouse-go/gatehouse/generator"
)

func (c *command) generate(ctx context.Context, args []string) int {
	fs := newFlagSet("generate", "generate [-C DIR] [--check] [--diff] [--force] [--strict]", c.stderr)
	dir := fs.String("C", ".", "the project directory")
	check := fs.Bool("check", false, "change nothing; exit 1 and list what is stale when the generated files do not match the spec and config, or handler stubs are missing")
	showDiff := fs.Bool("diff", false, "change nothing; print a unified diff of what would change")
	force := fs.Bool("force", false, "overwrite generated files even if they were edited by hand")
	strict := fs.Bool("strict", false, "refuse spec constructs gatehouse would otherwise repair or degrade (as strict: true in gatehouse.yaml)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) > 0 {
		return c.usageError(fs, "unexpected argument %q", pos[0])
	}
	cfg, cfgData, err := generator.ReadConfig(*dir)
	if err != nil {
		return c.fail(err)
	}
	specPath := filepath.Join(*dir, filepath.FromSlash(cfg.Spec))
	specData, err := generator.ReadProjectFile(*dir, cfg.Spec)
	if err != nil {
		return c.fail(fmt.Errorf("read the spec named in %s: %w", generator.ConfigFile, err))
	}
	manifest, err := generator.ReadManifest(*dir)
	if err != nil {
		return c.fail(err)
	}
	// The manifest is a file of the project, so a pull request can make
	// its digests match hand-edited generated files: it may only save a
	// plain run the work, never decide what --check and --diff report.
	if !*check && !*showDiff && !*force && generator.UpToDate(*dir, manifest, []string{cfg.Spec, generator.ConfigFile}) && generator.HandlersComplete(*dir, manifest) {
		fmt.Fprintln(c.stdout, "up to date")
		return exitOK
	}

	if manifest.Output != 0 && manifest.Output != generator.OutputVersion {
		fmt.Fprintf(c.stderr, "notice: these files were written by a gatehouse with output version %d; this one writes version %d, so generated files change even where the spec did not (review them with --diff)\n", manifest.Output, generator.OutputVersion)
		for _, n := range generator.Upgrades(manifest.Output) {
			fmt.Fprintf(c.stderr, "upgrade: %s\n", strings.ReplaceAll(n, "MODULE", cfg.Module))
		}
	}
	opts := generator.Options{SpecPath: specPath, Module: cfg.Module, Template: cfg.Template, Strict: cfg.Strict || *strict, RateLimits: cfg.RateLimits}
	var overrides map[string][]byte
	if !generator.IsBuiltinTemplate(cfg.Template) {
		// ReadConfig checked that it is a directory of the project.
		if overrides, err = generator.ReadTemplateDir(*dir, cfg.Template); err != nil {
			return c.fail(err)
		}
		opts.Template, opts.TemplateDir, opts.Overrides = "full", cfg.Template, mapFS(overrides)
	}
	res, err := generator.Generate(ctx, opts)
	if err != nil {
		return c.fail(err)
	}
	c.report(res)
	inputs, err := runInputs(*dir, cfg, cfgData, specData, res, overrides)
	if err != nil {
		return c.fail(err)
	}
	next := generator.NewManifest(res, inputs)
	changes, err := generator.Plan(*dir, res, manifest, *force)
	if err != nil {
		return c.fail(err)
	}
	switch {
	case *showDiff:
		for _, ch := range changes {
			c.stdout.Write(diff.Diff("a/"+ch.Path, ch.Old, "b/"+ch.Path, ch.New))
		}
		return exitOK
	case *check:
		stubs, err := generator.MissingStubs(*dir, res)
		if err != nil {
			return c.fail(err)
		}
		if len(changes) == 0 && len(stubs) == 0 {
			return exitOK
		}
		fmt.Fprintf(c.stderr, "gatehouse: the project is stale; run gatehouse generate:\n")
		for _, ch := range changes {
			fmt.Fprintf(c.stderr, "\t%s\n", ch.Path)
		}
		for _, s := range stubs {
			fmt.Fprintf(c.stderr, "\twould add stub %s\n", s)
		}
		return exitUser
	}
	// Stubs first: the manifest written by Apply marks the run as done, so
	// a failure here must leave it as it was, for the next run to retry.
	stubs, err := c.w.AddStubs(*dir, res, manifest)
	if err != nil {
		return c.fail(fmt.Errorf("%v; no stubs were added and no generated file was changed", err))
	}
	if err := c.w.Apply(*dir, changes, next); err != nil {
		return c.fail(err)
	}
	for _, ch := range changes {
		verb := "updated"
		switch {
		case ch.Old == nil:
			verb = "created"
		case ch.New == nil:
			verb = "removed"
		}
		fmt.Fprintf(c.stdout, "%s %s\n", verb, ch.Path)
	}
	for _, s := range stubs.Added {
		fmt.Fprintf(c.stdout, "added stub %s\n", s)
	}
	for _, s := range stubs.Removed {
		fmt.Fprintf(c.stdout, "kept %s\n", s)
	}
	for _, s := range stubs.Security {
		fmt.Fprintf(c.stdout, "security of %s\n", s)
	}
	for _, s := range stubs.Docs {
		fmt.Fprintf(c.stdout, "updated the Security line of the doc comment of %s\n", s)
	}
	for _, s := range stubs.StaleDocs {
		fmt.Fprintf(c.stdout, "left the doc comment of %s as it is: it does not hold the Security line gatehouse wrote; update it by hand\n", s)
	}
	if len(changes) == 0 && len(stubs.Added) == 0 && len(stubs.Docs) == 0 {
		fmt.Fprintln(c.stdout, "up to date")
	}
	return exitOK
}

// runInputs collects every file a generation read, keyed as the manifest
// records them (project-relative with slashes): gatehouse.yaml, the spec
// and the files its $refs reach, and the files of a template override
// directory. Each must be a regular file inside the project.
func runInputs(dir string, cfg *generator.Config, cfgData, specData []byte, res *generator.Result, overrides map[string][]byte) (map[string][]byte, error) {
	inputs := map[string][]byte{generator.ConfigFile: cfgData, cfg.Spec: specData}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range res.SpecFiles {
		rel, err := filepath.Rel(root, f)
		if err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("the spec %s references %s, outside the project directory; gatehouse reads only files of the project: copy that file into the project and reference it by a relative path", cfg.Spec, f)
		}
		key := filepath.ToSlash(rel)
		if _, ok := inputs[key]; ok {
			continue
		}
		if inputs[key], err = generator.ReadProjectFile(dir, key); err != nil {
			return nil, err
		}
	}
	for p, data := range overrides {
		inputs[path.Join(cfg.Template, p)] = data
	}
	return inputs, nil
}
