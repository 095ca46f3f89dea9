package generator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/generator/internal/spec"
	"github.com/gatehouse-go/gatehouse/templates"
)

// Template is a built-in project template.
type Template struct {
	Name    string
	Summary string
}

var builtinTemplates = []Template{
	{Name: "full", Summary: "login, refresh and revocation, users, API keys and clients in an embedded SQLite store (default)"},
	{Name: "minimal", Summary: "API keys (as digests) and access tokens from configuration, in memory; no users, no login"},
	{Name: "resource-server", Summary: "no login: access tokens of an external identity provider, verified through its JWKS or OIDC discovery"},
}

// checkTemplate refuses a spec whose operations use a scheme the template
// cannot verify: the minimal and resource-server templates have no users,
// so no HTTP Basic.
func checkTemplate(template string, doc *spec.Doc, api *model.API) error {
	if template != "minimal" && template != "resource-server" {
		return nil
	}
	for _, op := range api.Operations {
		for _, r := range op.Security.Alternatives {
			for _, u := range r {
				if api.Scheme(u.Scheme).Kind != model.KindBasic {
					continue
				}
				return spec.Errorf(doc.Locate("components", "securitySchemes", u.Scheme),
					"template %s has no users, so it cannot verify the http basic scheme %q that %s %s uses; "+
						"use --template full, or replace the scheme (e.g. by an apiKey scheme)", template, u.Scheme, op.Method, op.Path)
			}
		}
	}
	return nil
}

// providerLoginWarnings says that the minimal and resource-server templates
// have no login through external providers, which the spec asks for with an
// authorizationCode flow or an openIdConnect scheme: their servers verify
// bearer tokens only.
func providerLoginWarnings(template string, doc *spec.Doc, api *model.API) []string {
	if api.ProviderLogin == "" || (template != "minimal" && template != "resource-server") {
		return nil
	}
	return []string{fmt.Sprintf("%s: security scheme %q asks for login through an external provider (authorization code flow); "+
		"template %s has no login, so its server only verifies bearer tokens for it; use --template full for provider login",
		doc.Locate("components", "securitySchemes", api.ProviderLogin), api.ProviderLogin, template)}
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
	doc, api, err := load(ctx, specPath)
	if err != nil {
		return nil, err
	}
	if !valid(ctx, doc) {
		if n := validate(ctx, doc); n != "" {
			doc.Notices = append(doc.Notices, n)
		}
	}
	imports, err := checkGoImports(doc)
	if err != nil {
		return nil, err
	}
	res := &Result{Notices: doc.Notices, Warnings: slices.Concat(doc.Repairs, api.Warnings, imports), API: api}
	// The repairs and degradations `gatehouse new` would make are part of
	// the review: they say which handlers get raw JSON.
	changes, err := dropSameRoutes(doc, api, false)
	if err != nil {
		return nil, err
	}
	if len(api.Operations) > 0 {
		_, more, err := generateAPI(doc, api, false)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("gatehouse new would refuse this spec: %v", err))
		}
		changes = append(changes, more...)
	}
	res.Changes = changes
	for _, c := range changes {
		res.Warnings = append(res.Warnings, c.String())
	}
	return res, nil
}

// UpToDate reports, without loading the spec, whether this gatehouse wrote
// the project (GeneratorDigest), every input of the last run (gatehouse.yaml, the spec and the files its $refs reach, template
// overrides) is unchanged, the inputs named in required are among them, and
// every generated file is as that run wrote it. Only regular files inside
// the project are read: an input recorded elsewhere (by an older gatehouse)
// makes the project out of date, so the run checks it properly.
func UpToDate(dir string, m *Manifest, required []string) bool {
	if len(m.Files) == 0 || m.Output != OutputVersion || m.Generator != GeneratorDigest() {
		return false
	}
	for _, p := range required {
		if _, ok := m.Inputs[p]; !ok {
			return false
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	same := func(p, want string) bool {
		if localPath(p) != nil {
			return false
		}
		data, err := readRegular(root, dir, p)
		return err == nil && Digest(data) == want
	}
	for p, want := range m.Inputs {
		if !same(p, want) {
			return false
		}
	}
	for p, want := range m.Files {
		if !same(p, want) {
			return false
		}
	}
	return true
}

// GeneratorDigest identifies this gatehouse by what it generates from: the
// built-in templates and runtime, byte for byte, and the versions of
// gatehouse and of every module it was built with (oapi-codegen,
// kin-openapi, ...). A gatehouse built from other sources has another, so
// after an upgrade generate rewrites the generated files even where the
// spec did not change.
var GeneratorDigest = sync.OnceValue(func() string {
	h := sha256.New()
	// WalkDir visits in lexical order: the same templates, the same digest.
	_ = fs.WalkDir(templates.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := templates.FS.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(data))
		h.Write(data)
		return nil
	})
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(h, "%s %s %s\n", bi.Main.Path, bi.Main.Version, bi.Main.Sum)
		for _, m := range bi.Deps {
			if m.Replace != nil {
				m = m.Replace
			}
			fmt.Fprintf(h, "%s %s %s\n", m.Path, m.Version, m.Sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
})
