package generator

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
)

// The typed client builds each request's path with fmt.Sprintf from a Go
// string literal: % is not a verb there, and " and \ do not end or escape
// the literal.
func TestPathFormat(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/pets/{petId}", "/pets/petId"},
		{"/files/{name}%3Ameta", "/files/name%3Ameta"},
		{`/a"b/{id}`, `/a"b/id`},
		{`/a\b/{id}`, `/a\b/id`},
		{"/x/{a}/{b}", "/x/a/b"},
		{"/x/{a}/{b}/y/{a}", "/x/a/b/y/a"},
		{"/x/{a}/{a}/{b}/{b}%", "/x/a/a/b/b%"},
	} {
		format, err := strconv.Unquote(`"` + pathFormat(tt.path) + `"`)
		if err != nil {
			t.Errorf("%s: %q is not the inside of a Go string literal: %v", tt.path, pathFormat(tt.path), err)
			continue
		}
		// The client passes each parameter once, in the order of first appearance.
		var args []any
		for _, n := range codegen.OrderedParamsFromUri(tt.path) {
			if !slices.Contains(args, any(n)) {
				args = append(args, n)
			}
		}
		if got := fmt.Sprintf(format, args...); got != tt.want {
			t.Errorf("%s: the client builds %q, want %q", tt.path, got, tt.want)
		}
	}
}
