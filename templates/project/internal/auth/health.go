package auth

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"
)

// HealthPath is where the server says whether it can serve (GET or HEAD),
// for load balancers and readiness probes.
const HealthPath = "/health"

// Health is the JSON body of a HealthPath answer from this package.
type Health struct {
	Status string `json:"status"`           // "ok" or "unavailable"
	Reason string `json:"reason,omitempty"` // why it is unavailable
}

// Health reports whether the service can check the credentials it is
// given: not when its revocation state is stale (the revocation feed could
// not be read for longer than REVOCATION_MAX_STALENESS), since access
// tokens are then refused. The reason names no internals; the log has the
// store's error.
func (s *Service) Health() Health {
	age, stale := s.rev.Staleness()
	if !stale {
		return Health{Status: "ok"}
	}
	return Health{Status: "unavailable", Reason: fmt.Sprintf(
		"the revocation state has not been refreshed from the database for %s, longer than REVOCATION_MAX_STALENESS (%s): access tokens are refused until it is",
		fmtDuration(age.Round(time.Second)), fmtDuration(s.rev.MaxStaleness()))}
}

// withHealth answers GET and HEAD HealthPath before h. While the service is
// unavailable (see Health) the answer is 503 with the reason, whatever h
// would say: an instance that refuses tokens must leave the load balancer.
// Otherwise h answers (the spec's own /health operation, if it has one),
// and if h has no such route, the answer is 200 {"status":"ok"}.
func (s *Service) withHealth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != HealthPath || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			h.ServeHTTP(w, r)
			return
		}
		if health := s.Health(); health.Status != "ok" {
			writeHealth(w, http.StatusServiceUnavailable, health)
			return
		}
		c := &notFoundCatcher{w: w, header: w.Header().Clone()}
		h.ServeHTTP(c, r)
		switch {
		case c.notFound:
			writeHealth(w, http.StatusOK, Health{Status: "ok"})
		case !c.decided:
			c.WriteHeader(http.StatusOK) // an empty answer: send its headers
		}
	})
}

func writeHealth(w http.ResponseWriter, status int, health Health) {
	body, _ := json.Marshal(health) // two strings always marshal
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// notFoundCatcher passes a response through unless its status is 404,
// which it swallows (headers and body) so that the caller answers instead.
type notFoundCatcher struct {
	w        http.ResponseWriter
	header   http.Header
	decided  bool
	notFound bool
}

func (c *notFoundCatcher) Header() http.Header { return c.header }

func (c *notFoundCatcher) WriteHeader(code int) {
	if c.decided {
		return
	}
	c.decided = true
	if code == http.StatusNotFound {
		c.notFound = true
		return
	}
	maps.Copy(c.w.Header(), c.header)
	c.w.WriteHeader(code)
}

func (c *notFoundCatcher) Write(b []byte) (int, error) {
	if !c.decided {
		c.WriteHeader(http.StatusOK)
	}
	if c.notFound {
		return len(b), nil
	}
	return c.w.Write(b)
}
