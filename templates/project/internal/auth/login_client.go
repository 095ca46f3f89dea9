package auth

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxProviderBody bounds every answer read from a login provider
// (discovery, keys, token, profile): go-oidc reads discovery documents and
// key sets whole.
const maxProviderBody = 1 << 20

// errProviderBodyTooLarge is the read error of an answer longer than
// maxProviderBody.
var errProviderBodyTooLarge = errors.New("auth: login provider's answer is larger than 1 MiB")

// guardedProviderClient returns c as requests to login providers use it:
// redirects are not followed (a token request redirected elsewhere would
// carry the code, the PKCE verifier and the client secret there; a
// provider's endpoints do not redirect), and answers are cut at
// maxProviderBody.
func guardedProviderClient(c *http.Client) *http.Client {
	guarded := *c
	guarded.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	guarded.Transport = limitedTransport{base}
	return &guarded
}

// limitedTransport cuts every response body at maxProviderBody.
type limitedTransport struct{ base http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxProviderBody}
	return resp, nil
}

// limitedBody reads at most left bytes of rc, then fails.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errProviderBodyTooLarge
		}
		return b.rc.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// maxLoggedError bounds the text of a provider error as logged: go-oidc
// and oauth2 put the provider's answer in their errors, and a provider
// must not be able to write large log lines.
const maxLoggedError = 256

// shortError returns err's text, cut to maxLoggedError bytes (at a rune
// boundary) with its line breaks replaced.
func shortError(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) <= maxLoggedError {
		return s
	}
	cut := maxLoggedError
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
