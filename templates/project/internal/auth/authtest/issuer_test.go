package authtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/auth"
)

func TestResourceServerGuardsWithIssuer(t *testing.T) {
	ti, err := NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	defer ti.Close()
	rs, err := auth.NewTestResourceServer(auth.Options{Schemes: []auth.Scheme{{Name: "jwt", Kind: auth.KindBearer}}}, ti.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	h := rs.Guard().Protect(auth.Policy{{{Scheme: "jwt", Scopes: []string{"read"}}}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.PrincipalFrom(r.Context())
			w.Write([]byte(p.Subject))
		}))
	for _, tc := range []struct {
		scopes []string
		want   int
	}{{[]string{"read"}, 200}, {[]string{"write"}, 403}, {nil, 403}} {
		token, err := ti.Issue("bob", tc.scopes, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("scopes %v: status %d, want %d", tc.scopes, rec.Code, tc.want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}
