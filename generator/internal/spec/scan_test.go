package spec

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestNullSecurityJSON checks that a null security list is found in a
// JSON spec, and that a JSON spec without a null value is not parsed again
// to look for one.
func TestNullSecurityJSON(t *testing.T) {
	for _, tt := range []struct {
		name, security string
		found          bool
	}{
		{"null", `null`, true},
		{"null after a newline", "\n\t null", true},
		{"list", `[{"bearer": []}]`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
"paths": {"/a": {"get": {"security": ` + tt.security + `, "responses": {"204": {"description": "none"}}}}},
"components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}`
			p := filepath.Join(t.TempDir(), "spec.json")
			if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			doc, err := Load(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			pos, found := doc.NullSecurity()
			if found != tt.found {
				t.Fatalf("NullSecurity found %v, want %v", found, tt.found)
			}
			if found && (pos.Line != 2 || pos.Col != 26) {
				t.Errorf("NullSecurity at %v, want line 2, column 26", pos)
			}
			if !found && doc.locator != nil {
				t.Error("the spec was parsed again for its positions")
			}
		})
	}
}
