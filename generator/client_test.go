package generator

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
)

// The typed client builds each request's path with fmt.Sprintf from a Go
// string literal: % is not a verb there, and " and \ do not end or escape
// the literal.
func TestPathFormat(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/pets/{petId}", "/pets/v"},
		{"/files/{name}%3Ameta", "/files/v%3Ameta"},
		{`/a"b/{id}`, `/a"b/v`},
		{`/a\b/{id}`, `/a\b/v`},
		{"/x/{a}/{b}", "/x/v/v"},
	} {
		format, err := strconv.Unquote(`"` + pathFormat(tt.path) + `"`)
		if err != nil {
			t.Errorf("%s: %q is not the inside of a Go string literal: %v", tt.path, pathFormat(tt.path), err)
			continue
		}
		args := []any{"v", "v"}[:len(codegen.OrderedParamsFromUri(tt.path))]
		if got := fmt.Sprintf(format, args...); got != tt.want {
			t.Errorf("%s: the client builds %q, want %q", tt.path, got, tt.want)
		}
	}
}
