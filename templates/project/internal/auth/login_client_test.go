package auth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Requests to login providers follow no redirect (a token request sent on
// elsewhere would carry the code, the verifier and the client secret) and
// read no answer longer than maxProviderBody.
func TestGuardedProviderClient(t *testing.T) {
	var followed bool
	mux := http.NewServeMux()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed = true })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), maxProviderBody+1))
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), maxProviderBody))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := guardedProviderClient(srv.Client())

	resp, err := c.Post(srv.URL+"/token", "application/x-www-form-urlencoded", bytes.NewReader([]byte("code=c&client_secret=s")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || followed {
		t.Errorf("redirect: status %d, followed %v; want the 307 itself", resp.StatusCode, followed)
	}

	read := func(path string) ([]byte, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if _, err := read("/huge"); !errors.Is(err, errProviderBodyTooLarge) {
		t.Errorf("an answer of the limit plus one byte: %v, want errProviderBodyTooLarge", err)
	}
	if b, err := read("/exact"); err != nil || len(b) != maxProviderBody {
		t.Errorf("an answer of exactly the limit: %d bytes, %v", len(b), err)
	}
}
