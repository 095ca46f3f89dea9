package auth

import (
	"os"
	"strings"
	"testing"
)

// TestEnvExamples keeps each template's .env.example in step with the
// variables its server reads. This test is gatehouse's own (it is not copied
// into projects); GATEHOUSE_UPDATE=1 rewrites the files.
func TestEnvExamples(t *testing.T) {
	for path, vars := range map[string][]ConfigVar{
		"../../.env.example":                             ConfigVars(),
		"../../../overlays/minimal/.env.example":         MinimalConfigVars(),
		"../../../overlays/resource-server/.env.example": ResourceServerConfigVars(),
	} {
		want := envExample(vars)
		if os.Getenv("GATEHOUSE_UPDATE") != "" {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is out of date with its variables; run GATEHOUSE_UPDATE=1 go test ./templates/...", path)
		}
	}
}

// envExample renders a .env.example: each variable with its description,
// defaults commented out.
func envExample(vars []ConfigVar) string {
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
	return b.String()
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
