package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse-go/gatehouse/generator"
)

func (c *command) lint(ctx context.Context, args []string) int {
	fs := newFlagSet("lint", "lint SPEC [--format text|json|sarif] [--matrix [--format markdown|csv]] [--fail-on error|warning|info|off] [--config FILE]", c.stderr)
	format := fs.String("format", "", "output format: text (default), json or sarif; with --matrix: markdown (default) or csv")
	matrix := fs.Bool("matrix", false, "print the access matrix (who may call each operation) instead of the findings")
	failOn := fs.String("fail-on", "", "exit 1 when a finding is at least this severe: error (default), warning, info, or off")
	configPath := fs.String("config", "", "gatehouse.yaml with a lint section (default: ./gatehouse.yaml when it exists)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		return c.usageError(fs, "give exactly one spec file")
	}
	formats := []string{"text", "json", "sarif"}
	if *matrix {
		formats = []string{"markdown", "csv"}
	}
	if *format == "" {
		*format = formats[0]
	}
	if !contains(formats, *format) {
		return c.usageError(fs, "--format %s: use %s", *format, strings.Join(formats, ", "))
	}
	fail := generator.SevError
	if *failOn != "" {
		s, ok := generator.ParseSeverity(*failOn)
		if !ok {
			return c.usageError(fs, "--fail-on %s: use error, warning, info or off", *failOn)
		}
		fail = s
	}
	cfgFile, optional := *configPath, false
	if cfgFile == "" {
		cfgFile, optional = generator.ConfigFile, true
	}
	cfg, err := generator.ReadLintConfig(cfgFile, optional)
	if err != nil {
		return c.fail(err)
	}
	if *failOn == "" {
		fail = cfg.FailOnSeverity()
	}
	rv, err := generator.ReviewSpec(ctx, pos[0], cfg)
	if err != nil {
		return c.fail(err)
	}
	if *format == "text" || *format == "markdown" {
		// The repairs and degradations gatehouse new would make are part
		// of a review read by a person; machine formats hold findings only.
		res, err := generator.Lint(ctx, pos[0])
		if err != nil {
			return c.fail(err)
		}
		c.report(res)
	}
	switch *format {
	case "markdown":
		_, err = io.WriteString(c.stdout, generator.MatrixMarkdown(rv.API))
	case "csv":
		err = generator.WriteMatrixCSV(c.stdout, rv.API)
	case "text":
		err = rv.WriteText(c.stdout)
	case "json":
		err = rv.WriteJSON(c.stdout)
	case "sarif":
		err = rv.WriteSARIF(c.stdout)
	}
	if err != nil {
		return c.fail(err)
	}
	if !*matrix && rv.Fails(fail) {
		return exitUser
	}
	return exitOK
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *command) diff(ctx context.Context, args []string) int {
	fs := newFlagSet("diff", "diff OLD_SPEC NEW_SPEC | diff --base REV SPEC [--format text|markdown|json] [--fail-on-loosening]", c.stderr)
	base := fs.String("base", "", "compare SPEC as git revision REV holds it (e.g. main, origin/main, HEAD~1) with SPEC as it is")
	format := fs.String("format", "text", "output format: text, markdown (for a pull-request comment) or json")
	failLoose := fs.Bool("fail-on-loosening", false, "exit 1 when a change lets in a caller the old spec refused")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if !contains([]string{"text", "markdown", "json"}, *format) {
		return c.usageError(fs, "--format %s: use text, markdown or json", *format)
	}
	var oldPath, oldName, newPath string
	rename := func(s string) string { return s }
	switch {
	case *base != "" && len(pos) == 1:
		newPath = pos[0]
		rs, err := generator.SpecAtRevision(*base, pos[0])
		if err != nil {
			return c.fail(err)
		}
		defer rs.Remove()
		oldPath, oldName, rename = rs.Path, rs.Name, rs.Rename
	case *base == "" && len(pos) == 2:
		oldPath, oldName, newPath = pos[0], pos[0], pos[1]
	case *base != "":
		return c.usageError(fs, "with --base, give exactly one spec file")
	default:
		return c.usageError(fs, "give the old and the new spec files, or --base REV and one spec file")
	}
	d, err := generator.DiffSpecs(ctx, oldPath, oldName, newPath, newPath)
	if err != nil {
		// A revision's copy is named as git names it.
		return c.fail(errors.New(rename(err.Error())))
	}
	switch *format {
	case "text":
		err = d.WriteText(c.stdout)
	case "markdown":
		err = d.WriteMarkdown(c.stdout)
	case "json":
		err = d.WriteJSON(c.stdout)
	}
	if err != nil {
		return c.fail(err)
	}
	if *failLoose && d.Loosens() {
		if *format != "json" {
			fmt.Fprintln(c.stderr, "gatehouse diff: the new spec loosens security (see the changes marked loosening)")
		}
		return exitUser
	}
	return exitOK
}
