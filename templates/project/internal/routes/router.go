package routes

import (
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
)

// router matches request paths against the spec's path templates. It exists
// because real specs declare paths that Go's ServeMux refuses: parameters
// inside a segment ("/files/{name}.json"), and pairs such as "/a/{x}/b" and
// "/a/c/{y}" where neither is more specific. Precedence follows OpenAPI:
// segment by segment from the left, a literal segment beats a parameter with
// literal affixes, which beats a bare parameter. Matched parameters are set
// with Request.SetPathValue, so handlers read them with PathValue as usual.
type router struct {
	root node
	// literals are the templates without parameters, each once, in the
	// order they were registered (see mount).
	literals []string
}

type node struct {
	literal map[string]*node
	params  []*param // most specific first
	methods map[string]*endpoint
}

type param struct {
	prefix, suffix string
	name           string
	next           *node
}

type endpoint struct {
	handler http.Handler
	params  []string // path value names, in segment order
}

// pathParam maps a spec path parameter to the path value name handlers read
// (a Go identifier, as oapi-codegen's wrappers expect).
type pathParam struct{ name, wildcard string }

// handle registers h for method and a spec path template such as
// "/pets/{petId}".
func (rt *router) handle(method, template string, params []pathParam, h http.Handler) {
	n := &rt.root
	var names []string
	for _, seg := range strings.Split(strings.TrimPrefix(template, "/"), "/") {
		open := strings.IndexByte(seg, '{')
		if open < 0 {
			if n.literal == nil {
				n.literal = map[string]*node{}
			}
			next := n.literal[seg]
			if next == nil {
				next = &node{}
				n.literal[seg] = next
			}
			n = next
			continue
		}
		end := strings.IndexByte(seg, '}')
		if end < open {
			panic("routes: malformed path template " + template)
		}
		p := &param{prefix: seg[:open], suffix: seg[end+1:], name: seg[open+1 : end]}
		found := false
		for _, q := range n.params {
			if q.prefix == p.prefix && q.suffix == p.suffix {
				p, found = q, true
				break
			}
		}
		if !found {
			p.next = &node{}
			n.params = append(n.params, p)
			sort.SliceStable(n.params, func(i, j int) bool {
				return len(n.params[i].prefix)+len(n.params[i].suffix) > len(n.params[j].prefix)+len(n.params[j].suffix)
			})
		}
		name := seg[open+1 : end]
		for _, pp := range params {
			if pp.name == name {
				name = pp.wildcard
				break
			}
		}
		names = append(names, name)
		n = p.next
	}
	if n.methods == nil {
		n.methods = map[string]*endpoint{}
		if len(names) == 0 {
			rt.literals = append(rt.literals, template)
		}
	}
	if _, dup := n.methods[method]; dup {
		// The generator refuses such specs; never let one route shadow
		// another silently.
		panic("routes: " + method + " " + template + " is registered twice")
	}
	n.methods[method] = &endpoint{handler: h, params: names}
}

// mount serves rt on mux at "/", below every other pattern: those mux has
// (the token endpoint) or is given later win, as ServeMux does. Each
// literal path of rt (one without parameters) is also registered on its
// own, unless mux has a pattern that serves it already: ServeMux finds
// such a pattern at once, while a request that only "/" matches costs it
// a second search (for the path with a trailing slash) and allocations.
// Registering such a path on mux later panics, as for any duplicate.
func (rt *router) mount(mux *http.ServeMux) {
	mux.Handle("/", rt)
	for _, p := range rt.literals {
		if !plainPath(p) {
			continue
		}
		probe := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: p}}
		if _, pattern := mux.Handler(probe); pattern != "/" {
			continue // mux has a pattern of its own for p, which keeps it
		}
		mux.Handle(p, rt)
	}
}

// plainPath reports whether p means the same as a ServeMux pattern as it
// does to rt: a clean path of unreserved characters, not ending in a slash
// (which ServeMux reads as a whole subtree).
func plainPath(p string) bool {
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' || path.Clean(p) != p {
		return false
	}
	for _, c := range []byte(p) {
		if !(c == '/' || c == '-' || c == '.' || c == '_' || c == '~' ||
			'0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf [16]string
	segs, ok := pathSegments(r.URL, buf[:0])
	if !ok {
		writeError(w, http.StatusBadRequest, `{"error":"invalid_request","error_description":"malformed path"}`)
		return
	}
	var values [8]string
	n, vals := rt.root.match(segs, values[:0])
	if n == nil {
		writeError(w, http.StatusNotFound, `{"error":"not_found","error_description":"no such resource"}`)
		return
	}
	e := n.methods[r.Method]
	if e == nil && r.Method == http.MethodHead {
		e = n.methods[http.MethodGet]
	}
	if e == nil {
		allowed := make([]string, 0, len(n.methods))
		for m := range n.methods {
			allowed = append(allowed, m)
		}
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, `{"error":"method_not_allowed","error_description":"the resource does not support this method"}`)
		return
	}
	for i, name := range e.params {
		r.SetPathValue(name, vals[i])
	}
	e.handler.ServeHTTP(w, r)
}

// pathSegments appends the unescaped segments of u's path to segs. An
// escaped slash stays inside its segment. It reports false when the path
// is malformed.
func pathSegments(u *url.URL, segs []string) ([]string, bool) {
	escaped := u.RawPath != ""
	p := u.Path
	if escaped {
		// The path as sent, where %2F is still no separator.
		p = u.EscapedPath()
	}
	p = strings.TrimPrefix(p, "/")
	for {
		seg, rest, more := strings.Cut(p, "/")
		if escaped && strings.IndexByte(seg, '%') >= 0 {
			u, err := url.PathUnescape(seg)
			if err != nil {
				return nil, false
			}
			seg = u
		}
		segs = append(segs, seg)
		if !more {
			return segs, true
		}
		p = rest
	}
}

// match finds the most specific node for segs, collecting parameter values.
func (n *node) match(segs []string, vals []string) (*node, []string) {
	if len(segs) == 0 {
		if len(n.methods) > 0 {
			return n, vals
		}
		return nil, nil
	}
	seg, rest := segs[0], segs[1:]
	if next := n.literal[seg]; next != nil {
		if m, v := next.match(rest, vals); m != nil {
			return m, v
		}
	}
	for _, p := range n.params {
		if len(seg) <= len(p.prefix)+len(p.suffix) || !strings.HasPrefix(seg, p.prefix) || !strings.HasSuffix(seg, p.suffix) {
			continue
		}
		value := seg[len(p.prefix) : len(seg)-len(p.suffix)]
		if m, v := p.next.match(rest, append(vals, value)); m != nil {
			return m, v
		}
	}
	return nil, nil
}

func writeError(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
