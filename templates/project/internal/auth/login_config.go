package auth

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Account policies of login through external providers: what happens when
// an identity that no link names logs in.
const (
	// PolicyLinked (the default, and the safest): only identities an admin
	// linked to a user (`server links add`) log in; anyone else is refused.
	PolicyLinked = "linked"
	// PolicyVerifiedEmail: also link an identity to the existing user whose
	// name equals the email the provider gives, only when the provider says
	// the email is verified. Nobody is created.
	PolicyVerifiedEmail = "verified-email"
	// PolicyCreate: as PolicyVerifiedEmail, and otherwise create a user
	// (named PROVIDER-SUBJECT, with LOGIN_DEFAULT_SCOPES and no password)
	// on first login.
	PolicyCreate = "create"
)

// DefaultLoginPath is where the login endpoints are served unless
// LOGIN_PATH says otherwise: GET /auth/login/{provider} starts a login,
// GET /auth/login/{provider}/callback is the redirect URI registered at the
// provider, and POST /auth/login/session hands the session to the front end.
const DefaultLoginPath = "/auth/login"

// LoginConfig is the configuration of login through external providers
// (LOGIN_* variables). It is off when Providers is empty.
type LoginConfig struct {
	Providers     []ProviderConfig
	Path          string   // LOGIN_PATH
	PublicURL     string   // LOGIN_PUBLIC_URL: this server as browsers reach it, without a trailing slash
	Policy        string   // LOGIN_ACCOUNT_POLICY
	DefaultScopes []string // LOGIN_DEFAULT_SCOPES, of users PolicyCreate creates
	// ReturnTo is the allow-list of return_to values (LOGIN_RETURN_TO):
	// absolute URLs; a return_to is allowed when it has the same origin as
	// one of them and its path is that one's path or under it. The first is
	// the default.
	ReturnTo []*url.URL
	StateTTL time.Duration // LOGIN_STATE_TTL: how long a started login may take
	// AllowHTTP lets issuers and provider endpoints be http:// URLs
	// (LOGIN_ALLOW_HTTP, development mode only).
	AllowHTTP bool
}

// ProviderConfig is one provider: an OpenID Connect issuer, found by
// discovery, or a plain OAuth2 provider with explicit endpoints.
type ProviderConfig struct {
	Name         string // lower case, in URLs and variable names
	Issuer       string // OIDC issuer; empty for plain OAuth2
	AuthURL      string // plain OAuth2: the authorization endpoint
	TokenURL     string // plain OAuth2: the token endpoint
	UserInfoURL  string // plain OAuth2: where the profile is read with the access token
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Claims of the ID token (OIDC) or fields of the user-info answer (plain
	// OAuth2) that make the profile.
	SubjectClaim       string
	EmailClaim         string
	EmailVerifiedClaim string // empty: the provider's emails are never taken as verified
	NameClaim          string
}

// LinkIssuer is the issuer identities of this provider are linked under:
// the OIDC issuer, or the origin of a plain OAuth2 provider's authorization
// endpoint (https://github.com).
func (p ProviderConfig) LinkIssuer() string {
	if p.Issuer != "" {
		return p.Issuer
	}
	u, err := url.Parse(p.AuthURL)
	if err != nil {
		return p.AuthURL
	}
	return u.Scheme + "://" + u.Host
}

var providerNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,31}$`)

// loginConfigVars documents the LOGIN_* variables. Per-provider variables
// are shown for a provider named GOOGLE; their values are examples, not
// defaults.
func loginConfigVars() []ConfigVar {
	return []ConfigVar{
		{"LOGIN_PROVIDERS", "",
			"Comma-separated names of external login providers (letters and digits, such as google,github,keycloak); empty turns login through providers off. Each NAME is configured by the LOGIN_NAME_* variables below, shown for google."},
		{"LOGIN_GOOGLE_ISSUER", "https://accounts.google.com",
			"(example) OpenID Connect issuer of the provider: its discovery document (ISSUER/.well-known/openid-configuration) names its endpoints and keys, and its ID tokens are verified (issuer, audience, expiry, nonce, signature). Leave empty for a plain OAuth2 provider and set the three URLs below."},
		{"LOGIN_GOOGLE_AUTH_URL", "https://github.com/login/oauth/authorize",
			"(example, plain OAuth2 only) Authorization endpoint of a provider without OpenID Connect, such as GitHub."},
		{"LOGIN_GOOGLE_TOKEN_URL", "https://github.com/login/oauth/access_token",
			"(example, plain OAuth2 only) Token endpoint of that provider."},
		{"LOGIN_GOOGLE_USERINFO_URL", "https://api.github.com/user",
			"(example, plain OAuth2 only) Profile endpoint, read with the access token; its JSON object gives the claims below."},
		{"LOGIN_GOOGLE_CLIENT_ID", "",
			"Client id registered at the provider. Register LOGIN_PUBLIC_URL + LOGIN_PATH + /NAME/callback as its redirect URI."},
		{"LOGIN_GOOGLE_CLIENT_SECRET", "",
			"Client secret registered at the provider."},
		{"LOGIN_GOOGLE_SCOPES", "openid email profile",
			"Scopes asked of the provider, space-separated; default openid email profile for OIDC, none for plain OAuth2 (GitHub: read:user)."},
		{"LOGIN_GOOGLE_SUBJECT_CLAIM", "sub",
			"Claim (or user-info field) holding the provider's stable account id; default sub (GitHub: id). Links are keyed by the issuer and this value, never by an email."},
		{"LOGIN_GOOGLE_EMAIL_CLAIM", "email",
			"Claim holding the email; default email."},
		{"LOGIN_GOOGLE_EMAIL_VERIFIED_CLAIM", "email_verified",
			"Boolean claim saying the provider verified the email; default email_verified for OIDC, none for plain OAuth2. Without it the email is never used to link an account."},
		{"LOGIN_GOOGLE_NAME_CLAIM", "name",
			"Claim holding the display name, for logs; default name."},
		{"LOGIN_PUBLIC_URL", "",
			"This server's URL as browsers reach it (https://api.example.com), from which the redirect URIs are built. Required when LOGIN_PROVIDERS is set."},
		{"LOGIN_PATH", DefaultLoginPath,
			"Base path of the login endpoints: GET PATH/NAME starts a login, GET PATH/NAME/callback receives the provider's answer, POST PATH/session hands the session to the front end."},
		{"LOGIN_ACCOUNT_POLICY", PolicyLinked,
			"Who may log in through a provider: linked (only identities an admin linked with `server links add`), verified-email (also the existing user whose name is the email the provider verified), or create (as verified-email, and otherwise a new user with LOGIN_DEFAULT_SCOPES and no password)."},
		{"LOGIN_DEFAULT_SCOPES", "",
			"Space-separated scopes of users the create policy creates."},
		{"LOGIN_RETURN_TO", "",
			"Comma-separated absolute URLs the browser may be sent back to after a login (the front end): a return_to parameter must have one's origin and a path under its path. The first is the default. Required when LOGIN_PROVIDERS is set."},
		{"LOGIN_STATE_TTL", "10m",
			"How long a started login may take before its state expires, 1m to 1h."},
		{"LOGIN_ALLOW_HTTP", "false",
			"true allows http:// provider and public URLs, for a local provider; only with GATEHOUSE_ENV=development."},
	}
}

// loadLoginConfig reads the LOGIN_* variables. Per-provider variables have
// no defaults from ConfigVars: their documented values are examples.
func loadLoginConfig(lookup func(string) (string, bool), development bool) (LoginConfig, []error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	c := LoginConfig{
		Path:     DefaultLoginPath,
		Policy:   PolicyLinked,
		StateTTL: 10 * time.Minute,
	}
	if v := get("LOGIN_PATH"); v != "" {
		if !validEndpointPath(v) {
			fail("LOGIN_PATH", "%q must be an absolute path such as /auth/login, without spaces, query, wildcards or a trailing slash", v)
		}
		c.Path = v
	}
	switch v := get("LOGIN_ALLOW_HTTP"); v {
	case "", "false":
	case "true":
		if !development {
			fail("LOGIN_ALLOW_HTTP", "true is allowed only with GATEHOUSE_ENV=development")
		}
		c.AllowHTTP = true
	default:
		fail("LOGIN_ALLOW_HTTP", "must be true or false, not %q", v)
	}
	names := get("LOGIN_PROVIDERS")
	if names == "" {
		return LoginConfig{}, errs // off: the zero configuration
	}
	checkURL := func(name, v string, required bool) string {
		if v == "" {
			if required {
				fail(name, "is required")
			}
			return ""
		}
		if err := checkFetchURL(v, c.AllowHTTP); err != nil {
			fail(name, "%v", err)
		}
		return strings.TrimSuffix(v, "/")
	}
	for _, name := range strings.Split(names, ",") {
		name = strings.TrimSpace(name)
		if !providerNameRE.MatchString(strings.ToLower(name)) {
			fail("LOGIN_PROVIDERS", "%q is not a provider name: letters and digits, starting with a letter, at most 32", name)
			continue
		}
		name = strings.ToLower(name)
		if name == "session" {
			fail("LOGIN_PROVIDERS", "session is the path of the session hand-off, not a provider name")
			continue
		}
		if slices.ContainsFunc(c.Providers, func(p ProviderConfig) bool { return p.Name == name }) {
			fail("LOGIN_PROVIDERS", "%q is listed twice", name)
			continue
		}
		v := func(suffix string) (string, string) {
			n := "LOGIN_" + strings.ToUpper(name) + "_" + suffix
			return n, get(n)
		}
		p := ProviderConfig{Name: name}
		n, issuer := v("ISSUER")
		if issuer != "" {
			if err := checkFetchURL(issuer, c.AllowHTTP); err != nil {
				fail(n, "%v", err)
			}
			p.Issuer = issuer // exactly as the provider's iss: no slash trimmed
		}
		n, p.AuthURL = v("AUTH_URL")
		p.AuthURL = checkURL(n, p.AuthURL, issuer == "")
		n, p.TokenURL = v("TOKEN_URL")
		p.TokenURL = checkURL(n, p.TokenURL, issuer == "")
		n, p.UserInfoURL = v("USERINFO_URL")
		p.UserInfoURL = checkURL(n, p.UserInfoURL, issuer == "")
		if issuer != "" && (p.AuthURL != "" || p.TokenURL != "" || p.UserInfoURL != "") {
			fail("LOGIN_"+strings.ToUpper(name)+"_ISSUER", "an OpenID Connect provider's endpoints come from discovery: leave AUTH_URL, TOKEN_URL and USERINFO_URL empty")
		}
		if n, p.ClientID = v("CLIENT_ID"); p.ClientID == "" {
			fail(n, "is required")
		}
		if n, p.ClientSecret = v("CLIENT_SECRET"); p.ClientSecret == "" {
			fail(n, "is required")
		}
		oidcDefault := func(def string) string {
			if issuer != "" {
				return def
			}
			return ""
		}
		_, scopes := v("SCOPES")
		if scopes == "" {
			scopes = oidcDefault("openid email profile")
		}
		p.Scopes = strings.Fields(scopes)
		if issuer != "" && !slices.Contains(p.Scopes, "openid") {
			fail("LOGIN_"+strings.ToUpper(name)+"_SCOPES", "must include openid for an OpenID Connect provider")
		}
		claim := func(suffix, def string) string {
			if _, x := v(suffix); x != "" {
				return x
			}
			return def
		}
		p.SubjectClaim = claim("SUBJECT_CLAIM", "sub")
		p.EmailClaim = claim("EMAIL_CLAIM", "email")
		p.EmailVerifiedClaim = claim("EMAIL_VERIFIED_CLAIM", oidcDefault("email_verified"))
		p.NameClaim = claim("NAME_CLAIM", "name")
		c.Providers = append(c.Providers, p)
	}
	slices.SortFunc(c.Providers, func(a, b ProviderConfig) int { return strings.Compare(a.Name, b.Name) })
	// Identities are linked by issuer and subject: two providers under one
	// issuer (two tenants of one host as plain OAuth2, or a plain provider
	// at an OIDC issuer's origin) would share one subject namespace, and an
	// account at one could log in as a user linked through the other.
	byIssuer := map[string]string{}
	for _, p := range c.Providers {
		if other, ok := byIssuer[p.LinkIssuer()]; ok {
			fail("LOGIN_PROVIDERS", "providers %s and %s both link identities under the issuer %s, so an account at one could log in as a user linked through the other; configure one as OpenID Connect (LOGIN_NAME_ISSUER) or drop one", other, p.Name, p.LinkIssuer())
			continue
		}
		byIssuer[p.LinkIssuer()] = p.Name
	}

	if v := get("LOGIN_PUBLIC_URL"); v == "" {
		fail("LOGIN_PUBLIC_URL", "is required when LOGIN_PROVIDERS is set")
	} else if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.AllowHTTP)) ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		fail("LOGIN_PUBLIC_URL", "%q must be an https:// URL (http:// with LOGIN_ALLOW_HTTP) without query or fragment", v)
	} else {
		c.PublicURL = strings.TrimSuffix(v, "/")
	}
	switch v := get("LOGIN_ACCOUNT_POLICY"); v {
	case "":
	case PolicyLinked, PolicyVerifiedEmail, PolicyCreate:
		c.Policy = v
	default:
		fail("LOGIN_ACCOUNT_POLICY", "must be linked, verified-email or create, not %q", v)
	}
	c.DefaultScopes = parseScopesList(get("LOGIN_DEFAULT_SCOPES"))
	for _, r := range strings.Split(get("LOGIN_RETURN_TO"), ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && c.AllowHTTP)) ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			fail("LOGIN_RETURN_TO", "%q must be an https:// URL (http:// with LOGIN_ALLOW_HTTP) without query or fragment", r)
			continue
		}
		if u.Path == "" {
			u.Path = "/"
		}
		c.ReturnTo = append(c.ReturnTo, u)
	}
	if len(c.ReturnTo) == 0 {
		fail("LOGIN_RETURN_TO", "is required when LOGIN_PROVIDERS is set: the front end's URL the browser returns to")
	}
	if v := get("LOGIN_STATE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > time.Hour {
			fail("LOGIN_STATE_TTL", "must be a duration from 1m to 1h, not %q", v)
		}
		c.StateTTL = d
	}
	return c, errs
}

// parseScopesList splits space- or comma-separated scopes, sorted and
// without duplicates.
func parseScopesList(s string) []string {
	out := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	slices.Sort(out)
	return slices.Compact(out)
}
