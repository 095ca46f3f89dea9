package auth

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/memory"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/postgres/pgtest"
	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/storetest"
)

// downStore is a memory store that can be switched to failing as a
// database server that does not answer makes a store fail.
type downStore struct {
	*memory.Store
	down atomic.Bool
}

func (s *downStore) unavailable(what string) error {
	return fmt.Errorf("%w: postgres: %s: failed to connect to `user=app database=app`: 10.9.8.7:5432: connection refused", store.ErrUnavailable, what)
}

func (s *downStore) User(ctx context.Context, username string) (store.User, error) {
	if s.down.Load() {
		return store.User{}, s.unavailable("user")
	}
	return s.Store.User(ctx, username)
}

func (s *downStore) RotateRefresh(ctx context.Context, r store.RefreshRotation) (store.RefreshRotated, error) {
	if s.down.Load() {
		return store.RefreshRotated{}, s.unavailable("rotate refresh token")
	}
	return s.Store.RotateRefresh(ctx, r)
}

// testStoreOutage checks what clients get while the store is down (between
// down and up): 503 with a generic body on the token endpoint (password and
// refresh grants) and on a Basic-protected route, never a 500 or a hint of
// the store's internals; and service as before once it is back.
func testStoreOutage(t *testing.T, store store.Store, down, up func()) {
	f := epSetupOn(t, store, nil)
	f.addUser("alice")
	tr := f.login("alice", "")

	down()
	basic := basicAuth("alice", epPassword)
	for name, w := range map[string]func() (int, string){
		"password grant": func() (int, string) {
			w := f.token("grant_type", "password", "username", "alice", "password", epPassword)
			return w.Code, w.Body.String()
		},
		"refresh grant": func() (int, string) {
			w := f.refresh(tr.RefreshToken)
			return w.Code, w.Body.String()
		},
		"Basic on a protected route": func() (int, string) {
			w := f.serve(http.MethodGet, "/me", "", "", "Authorization", basic)
			return w.Code, w.Body.String()
		},
	} {
		code, body := w()
		if code != http.StatusServiceUnavailable {
			t.Errorf("%s with the store down: status %d, want 503; body %s", name, code, body)
		}
		if !strings.Contains(body, "temporarily_unavailable") {
			t.Errorf("%s with the store down: body %s, want the generic temporarily_unavailable", name, body)
		}
		for _, internal := range []string{"postgres", "connect", "5432", "127.0.0.1", "10.9.8.7"} {
			if strings.Contains(body, internal) {
				t.Errorf("%s with the store down: the body shows %q: %s", name, internal, body)
			}
		}
	}
	// The access token needs no store: it is still accepted.
	if code := f.me(tr.AccessToken); code != http.StatusOK {
		t.Errorf("access token with the store down: status %d, want 200", code)
	}

	up()
	var w int
	for range 3 { // a pooled connection may be found dead once
		if w = f.refresh(tr.RefreshToken).Code; w != http.StatusServiceUnavailable {
			break
		}
	}
	if w != http.StatusOK {
		t.Errorf("refresh after the store came back: status %d, want 200 (the outage must not have consumed the token)", w)
	}
}

func TestStoreUnavailableIs503(t *testing.T) {
	s := &downStore{Store: memory.New()}
	testStoreOutage(t, s, func() { s.down.Store(true) }, func() { s.down.Store(false) })
}

func TestPostgresDownIs503(t *testing.T) {
	t.Parallel()
	cfg, proxy := pgtest.ProxiedConfig(t)
	s := openTestPostgresConfig(t, cfg)
	testStoreOutage(t, s, func() { proxy.Set(storetest.Refuse) }, func() { proxy.Set(storetest.Forward) })
}
