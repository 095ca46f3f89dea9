package cli

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/gatehouse-go/gatehouse/generator"
)

func (c *command) generate(ctx context.Context, args []string) int {
	fs := newFlagSet("generate", "generate [-C DIR] [--check] [--diff] [--force] [--strict]", c.stderr)
	dir := fs.String("C", ".", "the project directory")
	check := fs.Bool("check", false, "change nothing; exit 1 and list what is stale when the generated files do not match the spec and config")
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
	specData, err := os.ReadFile(specPath)
	if err != nil {
		return c.fail(fmt.Errorf("read the spec named in %s: %w", generator.ConfigFile, err))
	}
	manifest, err := generator.ReadManifest(*dir)
	if err != nil {
		return c.fail(err)
	}
	if generator.UpToDate(*dir, manifest, []string{cfg.Spec, generator.ConfigFile}) && !*force {
		if !*check && !*showDiff {
			fmt.Fprintln(c.stdout, "up to date")
		}
		return exitOK
	}

	if manifest.Output != 0 && manifest.Output != generator.OutputVersion {
		fmt.Fprintf(c.stderr, "notice: these files were written by a gatehouse with output version %d; this one writes version %d, so generated files change even where the spec did not (review them with --diff)\n", manifest.Output, generator.OutputVersion)
	}
	opts := generator.Options{SpecPath: specPath, Module: cfg.Module, Strict: cfg.Strict || *strict}
	if code := c.template(resolveTemplate(*dir, cfg.Template), &opts); code != exitOK {
		return code
	}
	if opts.Overrides != nil {
		opts.TemplateDir = cfg.Template
	}
	res, err := generator.Generate(ctx, opts)
	if err != nil {
		return c.fail(err)
	}
	c.report(res)
	inputs, err := runInputs(*dir, cfg, cfgData, specData, res, opts)
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
		if len(changes) == 0 {
			return exitOK
		}
		fmt.Fprintf(c.stderr, "gatehouse: generated files are stale; run gatehouse generate:\n")
		for _, ch := range changes {
			fmt.Fprintf(c.stderr, "\t%s\n", ch.Path)
		}
		return exitUser
	}
	// Stubs first: the manifest written by Apply marks the run as done, so
	// a failure here must leave it as it was, for the next run to retry.
	stubs, err := generator.AddStubs(*dir, res, manifest)
	if err != nil {
		return c.fail(fmt.Errorf("%v; no stubs were added and no generated file was changed", err))
	}
	if err := generator.Apply(*dir, changes, next); err != nil {
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
	if len(changes) == 0 && len(stubs.Added) == 0 {
		fmt.Fprintln(c.stdout, "up to date")
	}
	return exitOK
}

// resolveTemplate makes a template directory in gatehouse.yaml relative to
// the project.
func resolveTemplate(dir, tmpl string) string {
	if generator.IsBuiltinTemplate(tmpl) || filepath.IsAbs(tmpl) {
		return tmpl
	}
	return filepath.Join(dir, tmpl)
}

// runInputs collects every file a generation read, keyed as the manifest
// records them (project-relative with slashes when inside the project):
// gatehouse.yaml, the spec and the files its $refs reach, and the files of
// a template override directory.
func runInputs(dir string, cfg *generator.Config, cfgData, specData []byte, res *generator.Result, opts generator.Options) (map[string][]byte, error) {
	inputs := map[string][]byte{generator.ConfigFile: cfgData, cfg.Spec: specData}
	for _, f := range res.SpecFiles {
		if err := addInput(inputs, dir, f); err != nil {
			return nil, err
		}
	}
	if opts.Overrides != nil {
		if err := addTree(inputs, dir, resolveTemplate(dir, cfg.Template)); err != nil {
			return nil, err
		}
	}
	return inputs, nil
}

// addTree adds every file below root to inputs.
func addTree(inputs map[string][]byte, dir, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return addInput(inputs, dir, p)
	})
}

// addInput adds file to inputs under its key: relative to the project
// directory dir with slashes when inside it, else absolute.
func addInput(inputs map[string][]byte, dir, file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	key := abs
	if root, err := filepath.Abs(dir); err == nil {
		if rel, err := filepath.Rel(root, abs); err == nil && filepath.IsLocal(rel) {
			key = filepath.ToSlash(rel)
		}
	}
	if _, ok := inputs[key]; ok {
		return nil
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return err
	}
	inputs[key] = data
	return nil
}
