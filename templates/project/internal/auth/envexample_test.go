package auth

import (
	"os"
	"strings"
	"testing"
)

// TestEnvExampleMatchesConfigVars keeps the generated projects'
// .env.example in step with ConfigVars, which LoadConfig reads. This test is
// gatehouse's own (it is not copied into projects); GATEHOUSE_UPDATE=1
// rewrites the file.
func TestEnvExampleMatchesConfigVars(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Configuration of the server. Copy to .env, or set the variables in the\n# environment (which wins over .env). Defaults are shown commented out.\n")
	for _, v := range ConfigVars() {
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
	const path = "../../.env.example"
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
		t.Errorf("%s is out of date with ConfigVars; run GATEHOUSE_UPDATE=1 go test ./templates/...", path)
	}
}

func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
