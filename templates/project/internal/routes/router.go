package routes

import (
	"net/http"
	"net/url"
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
	}
	if _, dup := n.methods[method]; dup {
		// The generator refuses such specs; never let one route shadow
		// another silently.
		panic("routes: " + method + " " + template + " is registered twice")
	}
	n.methods[method] = &endpoint{handler: h, params: names}
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') >= 0 {
			u, err := url.PathUnescape(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, `{"error":"invalid_request","error_description":"malformed path"}`)
				return
			}
			segs[i] = u
		}
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
