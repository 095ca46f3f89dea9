package generator

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	texttemplate "text/template"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/gatehouse-go/gatehouse/generator/internal/model"
	"github.com/gatehouse-go/gatehouse/templates"
)

// runtimeImportPrefix starts the import paths by which the runtime's
// packages (internal/auth imports internal/store, internal/auth/authtest
// imports internal/auth) import one another in gatehouse's own module,
// where they are compiled and tested. In a project they import them from
// the project's module.
const runtimeImportPrefix = `"github.com/gatehouse-go/gatehouse/templates/project/`

// renderer renders the project tree of templates.FS, with overrides.
type renderer struct {
	files     map[string][]byte // project-relative path → content, after overrides
	overrides map[string]bool   // paths that came from the override directory
	// generated are the built-in runtime files (see generatedName): they
	// get the generated header when rendered.
	generated map[string]bool
	tmpl      *texttemplate.Template
}

// newRenderer loads the project tree, the overlay of the built-in template
// (none for "full"), and the user's override directory, each replacing
// files of the ones before by path.
// securityOverrides warns about each override of a file of the
// authentication runtime, of its store or of the routes: a template
// directory is code, and those files decide who may call what.
func (r *renderer) securityOverrides(dir string) []string {
	var warnings []string
	for _, p := range slices.Sorted(maps.Keys(r.overrides)) {
		if r.overrides[p] && (strings.HasPrefix(p, "internal/auth/") || strings.HasPrefix(p, "internal/store/") ||
			strings.HasPrefix(p, "internal/routes/")) {
			warnings = append(warnings, fmt.Sprintf("template directory %s replaces %s, part of the security layer that decides who may call what; review it as such", dir, p))
		}
	}
	return warnings
}

func newRenderer(template string, overrides fs.FS) (*renderer, error) {
	r := &renderer{files: map[string][]byte{}, overrides: map[string]bool{}, generated: map[string]bool{}}
	root, err := fs.Sub(templates.FS, templates.Root)
	if err != nil {
		return nil, err
	}
	if err := r.add(root, false); err != nil {
		return nil, err
	}
	if template != "full" {
		overlay, err := fs.Sub(templates.FS, templates.Overlays+"/"+template)
		if err != nil {
			return nil, err
		}
		if err := r.add(overlay, false); err != nil {
			return nil, fmt.Errorf("template %s: %w", template, err)
		}
	}
	if overrides != nil {
		if err := r.add(overrides, true); err != nil {
			return nil, fmt.Errorf("read template directory: %w", err)
		}
	}
	r.tmpl = texttemplate.New("").Funcs(funcs).Option("missingkey=error")
	names := make([]string, 0, len(r.files))
	for name := range r.files {
		names = append(names, name)
	}
	// Override files are parsed last, so their {{define}}s replace the
	// built-in {{block}}s.
	sort.Slice(names, func(i, j int) bool {
		if r.overrides[names[i]] != r.overrides[names[j]] {
			return !r.overrides[names[i]]
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		if !strings.HasSuffix(name, ".tmpl") {
			continue
		}
		if _, err := r.tmpl.New(name).Parse(string(r.files[name])); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
	}
	return r, nil
}

func (r *renderer) add(fsys fs.FS, override bool) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		gen := false
		if !override {
			p, gen = generatedName(p)
		}
		r.files[p] = data
		r.overrides[p] = override
		r.generated[p] = gen
		return nil
	})
}

// partial reports whether a template path is only included by others.
func partial(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, "_") {
			return true
		}
	}
	return false
}

func (r *renderer) render(data *projectData) ([]File, error) {
	names := make([]string, 0, len(r.files))
	for name := range r.files {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []File
	for _, name := range names {
		if partial(name) {
			continue
		}
		content := r.files[name]
		target := name
		if strings.HasSuffix(name, ".tmpl") {
			target = strings.TrimSuffix(name, ".tmpl")
			var buf bytes.Buffer
			if err := r.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
				return nil, fmt.Errorf("render %s: %w", name, err)
			}
			content = buf.Bytes()
		}
		if name == target && strings.HasSuffix(name, "_test.go") && !strings.HasSuffix(name, "_gen_test.go") {
			continue // tests of gatehouse's own (not _gen_test.go) stay in gatehouse
		}
		// The built-in Go files that are not templates are gofmt's form
		// (TestBuiltinGoFilesFormatted): formatting the 15,000 lines of
		// runtime and the docs' assets again on every run would change
		// nothing, unless their imports of one another, renamed, now sort
		// differently.
		formatted := name == target && !r.overrides[name]
		if name == target && strings.HasSuffix(name, ".go") && bytes.Contains(content, []byte(runtimeImportPrefix)) {
			content = bytes.ReplaceAll(content, []byte(runtimeImportPrefix), []byte(`"`+data.Module+"/"))
			formatted = false
		}
		if len(bytes.TrimSpace(content)) == 0 {
			continue // a template may render nothing when it does not apply
		}
		if r.generated[name] {
			content = append([]byte(GeneratedHeader+"\n\n"), content...)
		}
		out = append(out, File{Path: target, Data: content, Tier: tierOf(target, content), formatted: formatted})
	}
	// One handler file per tag.
	for _, g := range data.Groups {
		content, err := r.handlerFile(g)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: "internal/handlers/" + g.File, Data: content, Tier: Scaffolded})
	}
	return out, nil
}

// handlerFile renders a handler file holding the stubs of g's operations.
func (r *renderer) handlerFile(g groupData) ([]byte, error) {
	var buf bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&buf, "internal/handlers/_tag.go.tmpl", g); err != nil {
		return nil, fmt.Errorf("render handlers for %s: %w", g.File, err)
	}
	return buf.Bytes(), nil
}

// stub renders one operation's stub method.
func (r *renderer) stub(op opData) ([]byte, error) {
	var buf bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&buf, "internal/handlers/_stub.go.tmpl", op); err != nil {
		return nil, fmt.Errorf("render stub for %s: %w", op.GoName, err)
	}
	return buf.Bytes(), nil
}

func tierOf(name string, content []byte) Tier {
	if bytes.HasPrefix(content, []byte(GeneratedHeader+"\n")) {
		return Generated
	}
	return Scaffolded
}

// projectData is what every template receives. The README documents it.
type projectData struct {
	Module   string
	Title    string
	Template string
	// Base is the built-in template the project starts from: full,
	// minimal or resource-server (Template may name a directory).
	Base     string
	SpecFile string
	API      *model.API
	Ops      []opData
	Schemes  []model.Scheme
	Custom   []model.Scheme // schemes with a user-written verifier
	// QueryKeys are query parameter names that carry API keys (redacted
	// from logs).
	QueryKeys []string
	Groups    []groupData
	// Example is the operation the user-owned example tests and the README
	// call (see example); ExampleToken is set when a bearer token alone
	// with ExampleScopes satisfies it.
	Example       opData
	ExampleToken  bool
	ExampleScopes []string
	// ExampleClient is the testclient expression of a client whose
	// credentials satisfy Example ("c.As(\"alice\", \"accounts:read\")"),
	// after the statements of ExampleSetup.
	ExampleClient string
	ExampleSetup  []string
	// ExampleAuthorized is set when ExampleClient satisfies Example's
	// security (no alternative needs a custom scheme).
	ExampleAuthorized bool
	// ExampleCurl is the curl command that calls Example on a local
	// server, with credentials from $ACCESS_TOKEN, $API_KEY or $PASSWORD.
	ExampleCurl string
	// ExampleCall is the typed client's call of Example with the sample
	// request's arguments ("GetStatementWithResponse(t.Context(), 2024)"),
	// or "" when one of them has no Go literal.
	ExampleCall string
	// ExampleRawCall is ExampleCall without decoding the response
	// ("GetStatement(t.Context(), 2024)", a method of the client's
	// ClientInterface): for checks of the status alone, which must not
	// depend on whether the spec's schema for that status matches what
	// the security layer answers (a 401's body, for one).
	ExampleRawCall string
	// ExampleStatus is the first success (2xx) status the spec declares
	// for Example, or 0.
	ExampleStatus int
	// Strict is --strict or strict: true, recorded in gatehouse.yaml.
	Strict bool
	// Changes list the spec's repairs and degradations (README).
	Changes []changeData
	// SecurityMatrix is the access matrix of `gatehouse lint --matrix`
	// (README).
	SecurityMatrix string
	// RateLimits are the operations' rate limits (gatehouse.yaml,
	// x-gatehouse-rate-limit).
	RateLimits rateLimitData
}

// changeData is one repair or degradation as the project's README lists
// it: At is "api/openapi.yaml:12:5" when the project's spec is the user's
// file, and empty when it is a bundle or conversion of it.
type changeData struct {
	At       string
	Degraded bool
	What     string
}

type opData struct {
	model.Operation
	PathParams []pathParam // spec name → ServeMux wildcard
	PolicyVar  string      // name of the generated auth.Policy variable
	RateLimit  string      // the operation's rate limit policy ("default" or its own)
	Request    model.Request
	Cases      []model.Case
}

type pathParam struct{ Name, Wildcard string }

// groupData is one handler file: the operations of one tag.
type groupData struct {
	Module string
	File   string
	Tag    string
	Ops    []opData
}

func newProjectData(opts Options, doc *openapi3.T, api *model.API, specFile string) *projectData {
	d := &projectData{
		Module:   opts.Module,
		Title:    api.Title,
		Template: cmp.Or(opts.TemplateDir, opts.Template),
		Base:     opts.Template,
		SpecFile: specFile,
		API:      api,
		Schemes:  api.Schemes,
		// The README's table is the access matrix, from the same code.
		SecurityMatrix: MatrixMarkdown(api),
	}
	for _, s := range api.Schemes {
		if s.Kind == model.KindCustom {
			d.Custom = append(d.Custom, s)
		}
		if s.Kind == model.KindAPIKey && s.In == "query" {
			d.QueryKeys = append(d.QueryKeys, s.Param)
		}
	}
	groups := map[string]*groupData{}
	for _, op := range api.Operations {
		o := opData{
			Operation: op,
			PolicyVar: "security" + op.GoName,
			Request:   model.SampleRequest(doc, op),
			Cases:     api.Cases(op),
		}
		for _, name := range codegen.OrderedParamsFromUri(op.Path) {
			o.PathParams = append(o.PathParams, pathParam{Name: name, Wildcard: codegen.SanitizeGoIdentifier(name)})
		}
		d.Ops = append(d.Ops, o)
		tag := "default"
		if len(op.Tags) > 0 && fileName(op.Tags[0]) != "" {
			tag = op.Tags[0]
		}
		file := handlerFileName(tag)
		g := groups[file]
		if g == nil {
			g = &groupData{Module: opts.Module, File: file, Tag: tag}
			groups[file] = g
		}
		g.Ops = append(g.Ops, o)
	}
	for _, g := range groups {
		d.Groups = append(d.Groups, *g)
	}
	d.example(api, doc)
	sort.Slice(d.Groups, func(i, j int) bool { return d.Groups[i].File < d.Groups[j].File })
	return d
}

// example chooses the operation the example tests and the README call:
// the first protected one that a bearer token alone can satisfy, else the
// first protected one the test client can satisfy (tokens, API keys,
// Basic), else the first; among those, one the typed client can call with
// the sample request first.
func (d *projectData) example(api *model.API, doc *openapi3.T) {
	best, bestScore := 0, -1
	for i, op := range d.Ops {
		score := 0
		protected := !op.Security.Public() && !op.Security.AllowsAnonymous()
		if _, ok := tokenAlternative(api, op.Security); ok && protected {
			score = 4
		} else if _, ok := exampleAlternative(api, op.Security); ok && protected {
			score = 2
		}
		if _, callable := clientCallOf(op); callable {
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	d.Example = d.Ops[best]
	if r, ok := tokenAlternative(api, d.Example.Security); ok {
		d.ExampleToken = true
		for _, u := range r {
			d.ExampleScopes = append(d.ExampleScopes, u.Scopes...)
		}
	}
	r, ok := exampleAlternative(api, d.Example.Security)
	d.ExampleAuthorized = ok || d.Example.Security.Public() || d.Example.Security.AllowsAnonymous()
	d.ExampleClient, d.ExampleSetup = exampleClient(api, r)
	d.ExampleCurl = exampleCurl(api, d.Example, r)
	d.ExampleCall, _ = clientCallOf(d.Example)
	d.ExampleRawCall = strings.Replace(d.ExampleCall, "WithResponse(", "(", 1)
	d.ExampleStatus = successStatus(doc, d.Example.Operation)
}

// exampleAlternative returns the alternative of sec the examples satisfy:
// the first a bearer token alone satisfies, else the first whose schemes
// all carry tokens, API keys or Basic credentials that one request can
// hold together.
func exampleAlternative(api *model.API, sec model.Security) (model.Requirement, bool) {
	if r, ok := tokenAlternative(api, sec); ok {
		return r, true
	}
	for _, r := range sec.Alternatives {
		supported := len(r) > 0 && api.Satisfiable(r)
		for _, u := range r {
			switch api.Scheme(u.Scheme).Kind {
			case model.KindBearer, model.KindOAuth2, model.KindOpenIDConnect, model.KindAPIKey, model.KindBasic:
			default:
				supported = false
			}
		}
		if supported {
			return r, true
		}
	}
	return nil, false
}

// exampleClient returns the testclient expression of a client whose
// credentials satisfy r (the anonymous client c when r is empty), with the
// statements to run first.
func exampleClient(api *model.API, r model.Requirement) (string, []string) {
	var tokenScopes, setup, with []string
	token := false
	for _, u := range r {
		switch api.Scheme(u.Scheme).Kind {
		case model.KindBearer, model.KindOAuth2, model.KindOpenIDConnect:
			token = true
			tokenScopes = append(tokenScopes, u.Scopes...)
		case model.KindAPIKey:
			with = append(with, fmt.Sprintf(".WithAPIKey(c.CreateAPIKey(%s), %q)", goArgs("alice", u.Scopes), u.Scheme))
		case model.KindBasic:
			setup = append(setup, fmt.Sprintf("c.AddUser(%s)", goArgs("alice", append([]string{examplePassword}, u.Scopes...))))
			with = append(with, fmt.Sprintf(".WithBasic(%q, %q)", "alice", examplePassword))
		}
	}
	expr := "c"
	if token {
		expr += ".As(" + goArgs("alice", tokenScopes) + ")"
	}
	return expr + strings.Join(with, ""), setup
}

// exampleCurl returns the curl command that sends op's sample request to
// a local server with the credentials of r, from the shell variables
// ACCESS_TOKEN, API_KEY and PASSWORD.
func exampleCurl(api *model.API, op opData, r model.Requirement) string {
	args := []string{"curl -s"}
	if op.Method != http.MethodGet {
		args = append(args, "-X "+op.Method)
	}
	query := op.Request.Query
	keyInQuery := ""
	for _, u := range r {
		s := api.Scheme(u.Scheme)
		switch s.Kind {
		case model.KindBearer, model.KindOAuth2, model.KindOpenIDConnect:
			args = append(args, `-H "Authorization: Bearer $ACCESS_TOKEN"`)
		case model.KindBasic:
			args = append(args, `-u "alice:$PASSWORD"`)
		case model.KindAPIKey:
			switch s.In {
			case "header":
				args = append(args, `-H "`+s.Param+`: $API_KEY"`)
			case "cookie":
				args = append(args, `-b "`+s.Param+`=$API_KEY"`)
			case "query":
				keyInQuery = url.QueryEscape(s.Param) + "="
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(op.Request.Headers)) {
		args = append(args, "-H "+shellQuote(k+": "+op.Request.Headers[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(op.Request.Cookies)) {
		args = append(args, "-b "+shellQuote(k+"="+op.Request.Cookies[k]))
	}
	if op.Request.ContentType != "" {
		args = append(args, "-H "+shellQuote("Content-Type: "+op.Request.ContentType), "--data-raw "+shellQuote(op.Request.Body))
	}
	target := "localhost:8080" + op.Request.Path
	if query != "" || keyInQuery != "" {
		target += "?" + query
		if query != "" && keyInQuery != "" {
			target += "&"
		}
	}
	target = shellQuote(target + keyInQuery)
	if keyInQuery != "" {
		target += `"$API_KEY"`
	}
	return strings.Join(append(args, target), " ")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// statusConst writes a success status as net/http's constant.
func statusConst(code int) string {
	names := map[int]string{200: "StatusOK", 201: "StatusCreated", 202: "StatusAccepted",
		203: "StatusNonAuthoritativeInfo", 204: "StatusNoContent", 205: "StatusResetContent", 206: "StatusPartialContent"}
	if name, ok := names[code]; ok {
		return "http." + name
	}
	return strconv.Itoa(code)
}

// examplePassword is the password of the example tests' user.
const examplePassword = "correct horse battery staple"

// goArgs writes first and rest as Go string literals separated by commas.
func goArgs(first string, rest []string) string {
	args := []string{strconv.Quote(first)}
	for _, s := range rest {
		args = append(args, strconv.Quote(s))
	}
	return strings.Join(args, ", ")
}

// clientCallOf returns the typed client's call of op with the arguments of
// its sample request, and whether it can be written: every path parameter
// has a Go literal, no other parameter is required, and the sample request
// satisfies the spec.
func clientCallOf(op opData) (string, bool) {
	if !op.Request.Valid || op.Client.RequiredParams {
		return "", false
	}
	args := []string{"t.Context()"}
	for _, p := range op.Client.PathParams {
		lit, ok := goLiteral(p.Basic, op.Request.PathValues[p.Name])
		if !ok {
			return "", false
		}
		args = append(args, lit)
	}
	if op.Client.Params {
		args = append(args, "nil")
	}
	name := op.GoName
	if op.Client.Body {
		if op.Request.ContentType == "" {
			return "", false
		}
		name += "WithBody"
		args = append(args, strconv.Quote(op.Request.ContentType), "strings.NewReader("+strconv.Quote(op.Request.Body)+")")
	}
	return name + "WithResponse(" + strings.Join(args, ", ") + ")", true
}

// goLiteral writes v as a constant of the basic Go type basic.
func goLiteral(basic, v string) (string, bool) {
	bits := func(prefix string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(basic, prefix))
		if err != nil {
			return 64
		}
		return n
	}
	var err error
	switch {
	case basic == "string":
		return strconv.Quote(v), true
	case basic == "bool":
		_, err = strconv.ParseBool(v)
	case strings.HasPrefix(basic, "int"):
		_, err = strconv.ParseInt(v, 10, bits("int"))
	case strings.HasPrefix(basic, "uint"):
		_, err = strconv.ParseUint(v, 10, bits("uint"))
	case strings.HasPrefix(basic, "float"):
		_, err = strconv.ParseFloat(v, bits("float"))
	default:
		return "", false
	}
	return v, err == nil && v != ""
}

// successStatus returns the first success (2xx) status the spec declares
// for op, or 0.
func successStatus(doc *openapi3.T, op model.Operation) int {
	item := doc.Paths.Value(op.Path)
	if item == nil || item.GetOperation(op.Method) == nil || item.GetOperation(op.Method).Responses == nil {
		return 0
	}
	status := 0
	for code := range item.GetOperation(op.Method).Responses.Map() {
		if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 && (status == 0 || n < status) {
			status = n
		}
	}
	return status
}

// tokenAlternative returns the first requirement of sec that a bearer token
// alone satisfies.
func tokenAlternative(api *model.API, sec model.Security) (model.Requirement, bool) {
	for _, r := range sec.Alternatives {
		if len(r) == 0 {
			continue
		}
		ok := true
		for _, u := range r {
			switch api.Scheme(u.Scheme).Kind {
			case model.KindBearer, model.KindOAuth2, model.KindOpenIDConnect:
			default:
				ok = false
			}
		}
		if ok {
			return r, true
		}
	}
	return nil, false
}

// handlerFileName is the user file for a tag's handlers: not one of the
// package's own files, and never a name the go tool would read as a test
// or restrict to one OS or architecture ("admin_windows.go").
func handlerFileName(tag string) string {
	stem := fileName(tag)
	if len(stem) > maxStem {
		// Long tags would exceed file system name limits (255 bytes); a
		// digest of the whole stem keeps names distinct and stable.
		sum := sha256.Sum256([]byte(stem))
		stem = strings.TrimRight(stem[:maxStem-9], "_") + "_" + hex.EncodeToString(sum[:4])
	}
	switch stem {
	case "handlers", "verifiers":
		return "tag_" + stem + ".go"
	}
	elems := strings.Split(stem, "_")
	last := elems[len(elems)-1]
	if last == "test" || knownOS[last] || knownArch[last] {
		stem += "_ops"
	}
	return stem + ".go"
}

// maxStem bounds the length of a handler file name's stem.
const maxStem = 64

// knownOS and knownArch are the GOOS and GOARCH values that make a file
// name a build constraint (go/build's list).
var (
	knownOS   = setOf("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos")
	knownArch = setOf("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")
)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// fileName turns a tag into a lower-case Go file name stem.
func fileName(tag string) string {
	var b strings.Builder
	lastUnderscore := true
	for _, r := range tag {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
			lastUnderscore = false
		case !lastUnderscore:
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	return strings.Trim(b.String(), "_")
}

var funcs = texttemplate.FuncMap{
	"quote":     strconv.Quote,
	"join":      strings.Join,
	"base":      path.Base,
	"goStrings": goStrings,
	"goArgs":    goArgs,
	"status":    statusConst,
	"contains":  strings.Contains,
	// scopesFlag is the --scopes flag of an admin command granting scopes,
	// or nothing.
	"scopesFlag": func(scopes []string) string {
		if len(scopes) == 0 {
			return ""
		}
		return " --scopes " + strconv.Quote(strings.Join(scopes, " "))
	},
	"caseName": caseName,
	"cred":     credLiteral,
	"want":     wantLiteral,
	// comment makes s safe inside a // comment.
	"comment": func(s string) string {
		return strings.Join(strings.Fields(s), " ")
	},
}

// caseName is a security test's name: the operation, the credentials and
// the expected answer.
func caseName(op opData, c model.Case) string {
	return op.Method + " " + op.Path + " " + c.Name + " → " + outcomeText(c.Want)
}

func outcomeText(o model.Outcome) string {
	if o.Status == model.Reached {
		return "handler"
	}
	return strconv.Itoa(o.Status)
}

// credLiteral renders a test credential as a Go composite literal.
func credLiteral(schemes []model.Scheme, c model.Cred) string {
	var s model.Scheme
	for _, sc := range schemes {
		if sc.Name == c.Scheme {
			s = sc
		}
	}
	kind := "custom"
	switch s.Kind {
	case model.KindBearer, model.KindOAuth2, model.KindOpenIDConnect:
		kind = "bearer"
	case model.KindBasic:
		kind = "basic"
	case model.KindAPIKey:
		kind = "apiKey"
	}
	lit := "{scheme: " + strconv.Quote(c.Scheme) + ", kind: " + strconv.Quote(kind)
	if kind == "apiKey" {
		lit += ", in: " + strconv.Quote(s.In) + ", name: " + strconv.Quote(s.Param)
	}
	if len(c.Scopes) > 0 {
		lit += ", scopes: " + goStrings(c.Scopes)
	}
	if c.Invalid {
		lit += ", invalid: true"
	}
	return lit + "}"
}

// wantLiteral renders an expected outcome as a call of the test helpers.
func wantLiteral(o model.Outcome) string {
	quoted := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = strconv.Quote(s)
		}
		return strings.Join(q, ", ")
	}
	switch o.Status {
	case model.Reached:
		return "reached(" + quoted(o.Schemes) + ")"
	case 401:
		return "unauthorized(" + quoted(o.Challenges) + ")"
	case 403:
		args := strconv.FormatBool(o.Bearer)
		if len(o.Missing) > 0 {
			args += ", " + quoted(o.Missing)
		}
		return "forbidden(" + args + ")"
	}
	return fmt.Sprintf("want{status: %d}", o.Status)
}

func goStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}
