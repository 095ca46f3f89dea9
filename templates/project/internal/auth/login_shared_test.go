package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
)

// A login started on one instance is finished on another that shares the
// store (as instances behind a load balancer share PostgreSQL), and its
// state, spent there, is refused when replayed on the first.
func TestProviderLoginFinishesOnAnotherInstance(t *testing.T) {
	shared := memory.New()
	a := newLoginTestOn(t, nil, shared)
	a.user("jane", false)
	a.link("248289761001", "jane")
	// Both instances have one configuration: a's provider and public URL.
	b := newLoginTestOn(t, func(lc *LoginConfig) {
		lc.Providers, lc.PublicURL = a.svc.login.cfg.Providers, a.svc.login.cfg.PublicURL
	}, shared)
	b.idp = a.idp
	b.svc.login.client = a.idp.srv.Client()

	br := a.browser() // cookies are per host, not port: b gets a's cookies
	cb := a.begin(br, "")
	onB := *cb
	bu, _ := url.Parse(b.srv.URL)
	onB.Host = bu.Host
	resp, body := b.finish(br, &onB)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback on the other instance: status %d %v, want 303", resp.StatusCode, body)
	}
	status, tr := b.handOff(br)
	if status != http.StatusOK || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("hand-off on the other instance: %d %+v", status, tr)
	}
	if c, err := b.svc.Tokens().Verify(context.Background(), tr.AccessToken); err != nil || c.Subject != "jane" {
		t.Errorf("access token: %v %+v, want jane's", err, c)
	}
	// The session is in the shared store: the first instance rotates it.
	rr, err := a.srv.Client().PostForm(a.srv.URL+DefaultTokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	rr.Body.Close()
	if rr.StatusCode != http.StatusOK {
		t.Errorf("refresh on the first instance: status %d, want 200", rr.StatusCode)
	}
	resp, body = a.finish(br, cb)
	a.refused(br, resp, body, http.StatusBadRequest, "invalid_request")
}

// unavailableStates is a store whose login states cannot be reached.
type unavailableStates struct{ *memory.Store }

func (unavailableStates) PutLoginState(context.Context, []byte, store.LoginState, time.Time) error {
	return fmt.Errorf("%w: test", store.ErrUnavailable)
}

func (unavailableStates) TakeLoginState(context.Context, []byte, time.Time) (store.LoginState, error) {
	return store.LoginState{}, fmt.Errorf("%w: test", store.ErrUnavailable)
}

// When the store of login states cannot be reached, start and callback
// answer 503 with the generic body, as every endpoint does.
func TestProviderLoginStoreUnavailable(t *testing.T) {
	lt := newLoginTestOn(t, nil, unavailableStates{memory.New()})
	c := noFollow(lt.srv.Client())
	for _, u := range []string{"/auth/login/fake", "/auth/login/fake/callback?state=x&code=y"} {
		req, _ := http.NewRequest(http.MethodGet, lt.srv.URL+u, nil)
		req.AddCookie(&http.Cookie{Name: loginStateCookie, Value: "v"})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable"`) {
			t.Errorf("%s: %d %s, want 503 with the generic body", u, resp.StatusCode, body)
		}
	}
}
