package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseBasic checks the two Basic decoders: the guard's (RFC 7617, the
// user name up to the first colon) and the token endpoint's for clients
// (RFC 6749 §2.3.1, both halves form-encoded). Whatever they accept must
// be what a client encoding it would have sent; they never panic.
func FuzzParseBasic(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString
	for _, seed := range []string{
		" " + b64([]byte("alice:correct horse")),
		" " + b64([]byte("alice:pass:with:colons")),
		" " + b64([]byte("alice:")),
		" " + b64([]byte(":password")),
		" " + b64([]byte("no colon")),
		" " + b64([]byte("tab\t:x")),
		" " + b64([]byte("\xff\xfe:x")),
		" " + b64([]byte("ünïcödé:pässwörd")),
		" " + b64([]byte("client%3Aid:s%25cret+x")),
		"  " + b64([]byte("two:spaces")),
		" YWxp\r\nY2U6cGFzcw==", // line breaks, which base64 decoders skip
		" YWxpY2U6cGFzcw",       // unpadded
		" YWxpY2U6cGFzcw==",
		" !!!",
		" ",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		if user, pass, ok := parseBasic(rest); ok {
			if user == "" || strings.Contains(user, ":") || !printableUTF8(user) || !printableUTF8(pass) {
				t.Errorf("parseBasic(%q) accepted user %q, password %q", rest, user, pass)
			}
			if got := " " + b64([]byte(user+":"+pass)); got != rest {
				t.Errorf("parseBasic(%q) = %q, %q, which encode as %q", rest, user, pass, got)
			}
		}
		cred := strings.TrimPrefix(rest, " ")
		if id, secret, ok := parseClientBasic(cred); ok {
			if id == "" || !utf8.ValidString(id) || !utf8.ValidString(secret) {
				t.Errorf("parseClientBasic(%q) accepted id %q, secret %q", cred, id, secret)
			}
			again := b64([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
			if id2, secret2, ok := parseClientBasic(again); !ok || id2 != id || secret2 != secret {
				t.Errorf("parseClientBasic(%q) = %q, %q, which do not survive re-encoding", cred, id, secret)
			}
		}
	})
}

// FuzzTokenEndpointBody posts arbitrary bodies, form-encoded and JSON, to
// the token endpoint of a test service with one user: every answer is a
// success or an OAuth error of a status the endpoint documents, never a
// 500; and what readParams accepts as JSON is what encoding/json reads.
func FuzzTokenEndpointBody(f *testing.F) {
	for _, seed := range []struct {
		body string
		json bool
	}{
		{"grant_type=password&username=alice&password=" + url.QueryEscape(testPassword), false},
		{"grant_type=password&username=alice&password=wrong&scope=read+write", false},
		{"grant_type=password&username=alice&username=bob&password=x", false},
		{"grant_type=refresh_token&refresh_token=ghr_x", false},
		{"grant_type=client_credentials&client_id=partner&client_secret=x", false},
		{"grant_type=password&username=%zz", false},
		{"grant_type=password&username=%C0%80&password=x", false},
		{"=&&=&a", false},
		{"grant_type=password;username=alice", false},
		{`{"grant_type":"password","username":"alice","password":"` + testPassword + `"}`, true},
		{`{"grant_type":"password","username":"alice","username":"bob"}`, true},
		{`{"grant_type":null,"scope":"a"}`, true},
		{`{"grant_type":1}`, true},
		{`{"a":"\ud800"}`, true},
		{`[]`, true},
		{`{}{}`, true},
		{``, true},
	} {
		f.Add(seed.body, seed.json)
	}
	svc, err := NewTestService(Options{ClientCredentials: true}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { svc.Close() })
	ctx := context.Background()
	if _, err := svc.Accounts().CreateUser(ctx, "alice", testPassword, []string{"read"}); err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux)
	h := svc.Handler(mux)
	f.Fuzz(func(t *testing.T, body string, isJSON bool) {
		contentType := "application/x-www-form-urlencoded"
		if isJSON {
			contentType = "application/json"
			checkJSONParams(t, body)
		}
		r := httptest.NewRequest(http.MethodPost, svc.TokenPath(), strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			return
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		default:
			t.Fatalf("body %q: status %d: %s", body, w.Code, w.Body)
		}
		var e ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Errorf("body %q: error answer %q is not an OAuth error (%v)", body, w.Body, err)
		}
	})
}

// checkJSONParams compares parseJSONParams with encoding/json on body.
func checkJSONParams(t *testing.T, body string) {
	t.Helper()
	params, rerr := parseJSONParams([]byte(body))
	if rerr != nil {
		return
	}
	var std map[string]*string
	if err := json.Unmarshal([]byte(body), &std); err != nil {
		t.Fatalf("parseJSONParams accepted %q, which encoding/json refuses: %v", body, err)
	}
	for k, v := range std {
		if got, ok := params[k]; (v == nil && ok) || (v != nil && (!ok || got != *v)) {
			t.Errorf("parseJSONParams(%q)[%q] = %q, %v; encoding/json reads %v", body, k, got, ok, v)
		}
	}
	if len(params) > len(std) {
		t.Errorf("parseJSONParams(%q) = %v: more than encoding/json reads (%v)", body, params, std)
	}
}
