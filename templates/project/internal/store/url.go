package store

import (
	"net/netip"
	"net/url"
	"strings"
)

// LocalHost reports whether host, a backend's, is this machine: a Unix
// socket directory, localhost or a loopback address. A connection to
// another host that is not encrypted gets a warning.
func LocalHost(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// RedactURL returns the URL of the variable name (DATABASE_URL, REDIS_URL)
// fit for logs: the password in the user information or in a password or
// sslpassword parameter is replaced by xxxxx. A value that does not parse as a URL is
// not shown.
func RedactURL(name, s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(not shown: " + name + " does not parse as a URL)"
	}
	if u.Opaque != "" { // sqlite:data/x.db, memory:
		return s
	}
	q := u.Query()
	changed := false
	for name := range q {
		if n := strings.ToLower(name); n == "password" || n == "sslpassword" {
			q.Set(name, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
