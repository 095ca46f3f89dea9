package auth

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// The pre-encoded errors of the request path answer exactly as WriteError
// does: status, headers and body, byte for byte.
func TestStaticErrorsMatchWriteError(t *testing.T) {
	for _, tc := range []struct {
		static            staticError
		code, description string
	}{
		{errAuthenticationRequired, "unauthorized", "authentication is required"},
		{errInvalidToken, "invalid_token", "the access token is invalid, expired or revoked"},
		{errInvalidCredentials, "unauthorized", "the credentials are invalid"},
	} {
		want := httptest.NewRecorder()
		WriteError(want, http.StatusUnauthorized, tc.code, tc.description)
		got := httptest.NewRecorder()
		tc.static.write(got)
		if got.Code != want.Code || got.Body.String() != want.Body.String() || !reflect.DeepEqual(got.Header(), want.Header()) {
			t.Errorf("%s: static answer %d %v %q, WriteError %d %v %q",
				tc.code, got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}
