package generator

import (
	"context"
	"os"
	"path/filepath"
	"slices"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
)

// Template is a built-in project template.
type Template struct {
	Name    string
	Summary string
}

var builtinTemplates = []Template{
	{Name: "full", Summary: "login, refresh and revocation, users, API keys and clients in an embedded SQLite store (default)"},
}

// BuiltinTemplates lists the built-in templates.
func BuiltinTemplates() []Template { return slices.Clone(builtinTemplates) }

// BuiltinTemplateNames lists the built-in templates' names.
func BuiltinTemplateNames() []string {
	names := make([]string, len(builtinTemplates))
	for i, t := range builtinTemplates {
		names[i] = t.Name
	}
	return names
}

// IsBuiltinTemplate reports whether name is a built-in template.
func IsBuiltinTemplate(name string) bool {
	return slices.Contains(BuiltinTemplateNames(), name)
}

// Lint loads a spec and computes its security model without generating.
func Lint(ctx context.Context, specPath string) (*Result, error) {
	doc, err := spec.Load(ctx, specPath)
	if err != nil {
		return nil, err
	}
	api, err := model.Build(doc, model.Options{})
	if err != nil {
		return nil, err
	}
	if n := doc.Validate(ctx); n != "" {
		doc.Notices = append(doc.Notices, n)
	}
	return &Result{Notices: doc.Notices, Warnings: api.Warnings, API: api}, nil
}

// UpToDate reports, without loading the spec, whether the inputs are those
// of the last run and every generated file is as that run wrote it.
func UpToDate(dir string, m *Manifest, inputs map[string][]byte) bool {
	if len(m.Files) == 0 || len(m.Inputs) != len(inputs) {
		return false
	}
	for p, data := range inputs {
		if m.Inputs[p] != Digest(data) {
			return false
		}
	}
	for p, want := range m.Files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || Digest(data) != want {
			return false
		}
	}
	return true
}
