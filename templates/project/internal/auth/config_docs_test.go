package auth

import (
	"strings"
	"testing"
)

// The API reference at /docs is on by default in development mode only;
// DOCS_ENABLED decides either way.
func TestConfigDocsEnabled(t *testing.T) {
	for _, c := range []struct {
		env, docs string
		want      bool
	}{
		{"production", "", false},
		{"development", "", true},
		{"production", "true", true},
		{"development", "false", false},
		{"production", " TRUE ", true},
	} {
		cfg, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "GATEHOUSE_ENV": c.env, "DOCS_ENABLED": c.docs})
		if err != nil {
			t.Fatalf("GATEHOUSE_ENV=%s DOCS_ENABLED=%q: %v", c.env, c.docs, err)
		}
		if cfg.DocsEnabled != c.want {
			t.Errorf("GATEHOUSE_ENV=%s DOCS_ENABLED=%q: DocsEnabled %v, want %v", c.env, c.docs, cfg.DocsEnabled, c.want)
		}
	}
	_, err := cfLoad(t, map[string]string{"JWT_SECRET": cfSecret, "DOCS_ENABLED": "yes"})
	if err == nil || !strings.Contains(err.Error(), `DOCS_ENABLED: must be true or false, not "yes"`) {
		t.Errorf("DOCS_ENABLED=yes: error %v, want one naming the variable and the value", err)
	}
}
