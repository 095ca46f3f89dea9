package docs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// viewSpec is the spec as the page shows it (served at Path/openapi.json).
type viewSpec struct {
	Title string
	json  []byte
}

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// securityScheme holds what the page needs of a security scheme object.
type securityScheme struct {
	Type        string `json:"type"`
	Scheme      string `json:"scheme"`
	Description string `json:"description"`
	Flows       map[string]struct {
		Scopes map[string]string `json:"scopes"`
	} `json:"flows"`
}

// carriesToken reports whether this server verifies the scheme's
// credential as a JWT access token (as auth.SchemeKind.IsToken).
func (s securityScheme) carriesToken() bool {
	return s.Type == "oauth2" || s.Type == "openIdConnect" || s.Type == "http" && strings.EqualFold(s.Scheme, "bearer")
}

// docsSpec returns the spec as the page shows it: the API as this server
// serves it, which is not always as the spec describes it.
//
//   - Requests go to this server: the servers of the document, its paths
//     and its operations are replaced by this origin, whose routes are the
//     spec's paths (the server matches them without a base path).
//   - The schemes that carry an access token become an OAuth2 password flow
//     at this server's token endpoint (opts.TokenURL), whatever flow,
//     token URL or http bearer scheme the spec declares, since this server
//     issues and checks those tokens; the scopes are the flows' and those
//     the operations require. Without a token endpoint they become http
//     bearer schemes that take a pasted token.
//
// Everything else is left as it is.
func docsSpec(raw []byte, opts Options) (*viewSpec, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("the spec is not a JSON object: %w", err)
	}
	var info struct {
		Title string `json:"title"`
	}
	_ = json.Unmarshal(doc["info"], &info) // without a title the page says "API"
	view := &viewSpec{Title: cmp.Or(strings.TrimSpace(info.Title), "API")}

	// Scopes each scheme is required with, from the root security and the
	// operations'.
	required := map[string]map[string]bool{}
	addRequirements(required, doc["security"])
	if p, ok := doc["paths"]; ok {
		paths, err := pathsOnThisServer(p, required)
		if err != nil {
			return nil, err
		}
		doc["paths"] = paths
	}
	doc["servers"] = json.RawMessage(`[{"url":"/","description":"this server"}]`)

	var err error
	if c, ok := doc["components"]; ok {
		var components map[string]json.RawMessage
		if err := json.Unmarshal(c, &components); err != nil {
			return nil, fmt.Errorf("components: %w", err)
		}
		if s, ok := components["securitySchemes"]; ok {
			schemes, err := schemesOfThisServer(s, required, opts)
			if err != nil {
				return nil, err
			}
			components["securitySchemes"] = schemes
		}
		if doc["components"], err = json.Marshal(components); err != nil {
			return nil, err
		}
	}
	if view.json, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	return view, nil
}

// pathsOnThisServer returns the paths object without servers of its own
// (in path items and operations), after adding the operations' security
// requirements to required. A path under Path is an error: the page would
// hide it.
func pathsOnThisServer(raw json.RawMessage, required map[string]map[string]bool) (json.RawMessage, error) {
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &paths); err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	var hidden []string
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		if path == Path || strings.HasPrefix(path, Path+"/") {
			hidden = append(hidden, path)
		}
		item := paths[path]
		delete(item, "servers")
		for _, m := range methods {
			opRaw, ok := item[m]
			if !ok {
				continue
			}
			var op map[string]json.RawMessage
			if err := json.Unmarshal(opRaw, &op); err != nil {
				return nil, fmt.Errorf("paths: %s %s: %w", strings.ToUpper(m), path, err)
			}
			addRequirements(required, op["security"])
			if _, ok := op["servers"]; !ok {
				continue
			}
			delete(op, "servers")
			var err error
			if item[m], err = json.Marshal(op); err != nil {
				return nil, err
			}
		}
	}
	if len(hidden) > 0 {
		return nil, fmt.Errorf("the spec declares %s, where the API reference would be served; rename those paths or turn the page off (DOCS_ENABLED=false)",
			strings.Join(hidden, ", "))
	}
	return json.Marshal(paths)
}

// addRequirements adds the scopes of a security requirement list to
// required, by scheme. A list that does not decode adds nothing: the
// server validated the spec, and the page can do without its scopes.
func addRequirements(required map[string]map[string]bool, raw json.RawMessage) {
	var reqs []map[string][]string
	if len(raw) == 0 || json.Unmarshal(raw, &reqs) != nil {
		return
	}
	for _, req := range reqs {
		for scheme, scopes := range req {
			if required[scheme] == nil {
				required[scheme] = map[string]bool{}
			}
			for _, s := range scopes {
				required[scheme][s] = true
			}
		}
	}
}

// schemesOfThisServer rewrites the token schemes of a securitySchemes
// object as docsSpec describes.
func schemesOfThisServer(raw json.RawMessage, required map[string]map[string]bool, opts Options) (json.RawMessage, error) {
	var schemes map[string]json.RawMessage
	if err := json.Unmarshal(raw, &schemes); err != nil {
		return nil, fmt.Errorf("components.securitySchemes: %w", err)
	}
	for name, sraw := range schemes {
		var s securityScheme
		if err := json.Unmarshal(sraw, &s); err != nil {
			return nil, fmt.Errorf("components.securitySchemes.%s: %w", name, err)
		}
		if !s.carriesToken() {
			continue
		}
		var err error
		if schemes[name], err = json.Marshal(tokenScheme(s, required[name], opts)); err != nil {
			return nil, err
		}
	}
	return json.Marshal(schemes)
}

// tokenScheme is the scheme object the page shows for a token scheme.
func tokenScheme(s securityScheme, required map[string]bool, opts Options) map[string]any {
	if opts.TokenURL == "" {
		how := "Paste an access token."
		if opts.TokenSource != "" {
			how = "Paste an access token from " + opts.TokenSource + "."
		}
		return map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": joinText(s.Description, how)}
	}
	scopes := map[string]string{}
	for _, f := range s.Flows {
		maps.Copy(scopes, f.Scopes)
	}
	for sc := range required {
		if _, ok := scopes[sc]; !ok {
			scopes[sc] = ""
		}
	}
	flow := &oauthFlow{TokenURL: opts.TokenURL, Scopes: scopes}
	flows := oauthFlows{Password: flow}
	how := fmt.Sprintf("Log in with a user's name and password (`server users add` creates users): the page gets an access token "+
		"from this server's token endpoint, POST %s. Leave client_id and client_secret empty; select no scope to get all "+
		"of the user's scopes.", opts.TokenURL)
	if opts.ClientCredentials {
		flows.ClientCredentials = flow
		how += " Registered clients (`server clients add`) use the client credentials flow."
	}
	return map[string]any{"type": "oauth2", "description": joinText(s.Description, how), "flows": flows}
}

// oauthFlows are the flows of an OAuth2 scheme the page offers, password
// first.
type oauthFlows struct {
	Password          *oauthFlow `json:"password"`
	ClientCredentials *oauthFlow `json:"clientCredentials,omitempty"`
}

type oauthFlow struct {
	TokenURL string            `json:"tokenUrl"`
	Scopes   map[string]string `json:"scopes"`
}

// joinText appends a paragraph to a description.
func joinText(description, paragraph string) string {
	if description = strings.TrimSpace(description); description == "" {
		return paragraph
	}
	return description + "\n\n" + paragraph
}
