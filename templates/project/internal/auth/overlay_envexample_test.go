package auth

import (
	"os"
	"strings"
	"testing"
)

// TestOverlayEnvExamples keeps the .env.example of the minimal and
// resource-server templates in step with the variables they read. Like
// TestEnvExampleMatchesConfigVars it is gatehouse's own; GATEHOUSE_UPDATE=1
// rewrites the files.
func TestOverlayEnvExamples(t *testing.T) {
	for path, vars := range map[string][]ConfigVar{
		"../../../overlays/minimal/.env.example":         MinimalConfigVars(),
		"../../../overlays/resource-server/.env.example": ResourceServerConfigVars(),
	} {
		var b strings.Builder
		b.WriteString("# Configuration of the server. Copy to .env, or set the variables in the\n# environment (which wins over .env). Defaults are shown commented out.\n")
		for _, v := range vars {
			b.WriteString("\n")
			for _, line := range wrap(v.Description, 76) {
				b.WriteString("# " + line + "\n")
			}
			if v.Default == "" {
				b.WriteString(v.Name + "=\n")
			} else {
				b.WriteString("# " + v.Name + "=" + v.Default + "\n")
			}
		}
		if os.Getenv("GATEHOUSE_UPDATE") != "" {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != b.String() {
			t.Errorf("%s is out of date; run GATEHOUSE_UPDATE=1 go test ./templates/...", path)
		}
	}
}
