package templates_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates"
)

// instruction is one Dockerfile instruction: its keyword (upper case), its
// --flags, and the rest of the line.
type instruction struct {
	cmd   string
	flags map[string]string
	args  string
}

// stage is one FROM ... section of a Dockerfile.
type stage struct {
	name         string
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions. It knows
// enough of the syntax for the project's Dockerfile: comments, line
// continuations, --flags and FROM ... AS name.
func parseDockerfile(t *testing.T, src string) []stage {
	t.Helper()
	var stages []stage
	var logical strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && logical.Len() == 0 {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			logical.WriteString(cont + " ")
			continue
		}
		logical.WriteString(trimmed)
		fields := strings.Fields(logical.String())
		logical.Reset()
		if len(fields) == 0 {
			continue
		}
		in := instruction{cmd: strings.ToUpper(fields[0]), flags: map[string]string{}}
		rest := fields[1:]
		for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
			name, value, _ := strings.Cut(strings.TrimPrefix(rest[0], "--"), "=")
			in.flags[name] = value
			rest = rest[1:]
		}
		in.args = strings.Join(rest, " ")
		if in.cmd == "FROM" {
			st := stage{}
			if len(rest) == 3 && strings.EqualFold(rest[1], "AS") {
				st.name = rest[2]
			}
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
		}
		stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
	}
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// The image runs the server as a user other than root, with a data volume
// that user can write: the directory is created and handed to that user in
// the build stage and copied into the image with that owner, so a new named
// volume (which starts as a copy of it) is writable. The store and the keys
// live on the volume. docker cannot build images offline on the machines
// gatehouse is tested on (no cached base images), so this reads the
// Dockerfile instead of building it.
func TestDockerfileRunsAsNonRootWithWritableVolume(t *testing.T) {
	src, err := fs.ReadFile(templates.FS, templates.Root+"/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, string(src))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	final := stages[len(stages)-1]

	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("the final stage has no USER: the server would run as root")
	}
	user := users[len(users)-1].args
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || strings.Trim(uid, "0123456789") != "" || strings.TrimLeft(uid, "0") == "" {
		t.Fatalf("USER %s: want a numeric uid other than 0 (runAsNonRoot can only check a number)", user)
	}

	volumes := final.all("VOLUME")
	if len(volumes) != 1 {
		t.Fatalf("the final stage has %d VOLUME instructions, want one", len(volumes))
	}
	dir := strings.Trim(volumes[0].args, `[]" `)
	copied := false
	for _, cp := range final.all("COPY") {
		from := cp.flags["from"]
		if !strings.HasSuffix(cp.args, " "+dir) || from == "" {
			continue
		}
		owner, _, _ := strings.Cut(cp.flags["chown"], ":")
		if owner != uid {
			t.Errorf("COPY of %s: owner %q, want the USER %s", dir, cp.flags["chown"], uid)
		}
		i := slices.IndexFunc(stages, func(s stage) bool { return s.name == from })
		if i < 0 {
			t.Fatalf("COPY --from=%s: no such stage", from)
		}
		var made, chowned bool
		for _, run := range stages[i].all("RUN") {
			made = made || strings.Contains(run.args, "mkdir -p "+dir)
			chowned = chowned || strings.Contains(run.args, "chown -R "+user+" "+dir) || strings.Contains(run.args, "chown -R "+uid+" "+dir)
		}
		if !made || !chowned {
			t.Errorf("stage %s: %s created %v, chowned to %s %v; want both", from, dir, made, user, chowned)
		}
		copied = true
	}
	if !copied {
		t.Errorf("the final stage does not copy %s from the build stage: a volume on it would belong to root", dir)
	}

	env := map[string]string{}
	for _, in := range final.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	for name, value := range map[string]string{"DATABASE_URL": strings.TrimPrefix(env["DATABASE_URL"], "sqlite:"), "JWT_KEY_DIR": env["JWT_KEY_DIR"]} {
		if !strings.HasPrefix(value, dir+"/") {
			t.Errorf("ENV %s=%s: want a place on the volume %s", name, env[name], dir)
		}
	}

	entry := final.all("ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0].args), &argv) != nil || len(argv) != 1 {
		t.Errorf("ENTRYPOINT %v: want the exec form [\"/server\"], so that `docker run IMAGE users list` runs an admin command", entry)
	}
}

// excluded reports whether a .dockerignore leaves p (slash-separated,
// relative to the context) out of the build context: the last pattern that
// matches p or one of its parent directories decides, and ! re-includes.
func excluded(patterns []string, p string) bool {
	out := false
	for _, pat := range patterns {
		negate := strings.HasPrefix(pat, "!")
		pat = path.Clean(strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/"))
		for q := p; q != "."; q = path.Dir(q) {
			if ok, _ := path.Match(pat, q); ok {
				out = !negate
				break
			}
		}
	}
	return out
}

// Secrets (.env), the local store and keys (data/) and the repository stay
// out of the build context, and so out of the image; the sources and
// .env.example go in.
func TestDockerignoreKeepsSecretsAndDataOut(t *testing.T) {
	src, err := fs.ReadFile(templates.FS, templates.Root+"/.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(src), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, p := range []string{".env", ".env.production", "data/gatehouse.db", "data/keys/key-1.pem", ".git/config", "server"} {
		if !excluded(patterns, p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{".env.example", "go.mod", "go.sum", "cmd/server/main.go", "internal/data/store.go", "api/openapi.yaml"} {
		if excluded(patterns, p) {
			t.Errorf(".dockerignore keeps %s, which the build needs, out of the context", p)
		}
	}
}
