package gatehouse_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-go/gatehouse/internal/cli"
)

// The corpus run is opt-in: it generates, builds, vets and tests a project
// for every spec of ../shared/corpus, which takes long.
const (
	corpusAllEnv  = "GATEHOUSE_CORPUS_ALL"  // 1 runs TestCorpus
	corpusOnlyEnv = "GATEHOUSE_CORPUS_ONLY" // comma-separated name fragments: run only those files
	corpusDirEnv  = "GATEHOUSE_CORPUS"      // the corpus's specs folder
	// corpusStepTimeout bounds each go build, vet or test of a project.
	corpusStepTimeout = 30 * time.Minute
)

// corpusRefused lists the files that must be refused, with the reason that
// must be given: an undeclared security scheme fails closed.
var corpusRefused = map[string]*regexp.Regexp{
	"hubspot-crm-commerceSubscriptions-v3.json": regexp.MustCompile(`names scheme "oauth2_legacy", which components.securitySchemes does not declare`),
}

// corpusResult is what happened to one spec of the corpus.
type corpusResult struct {
	name              string
	refused           string // the first line of the error, when new failed
	repairs, degrades int
	gen               time.Duration
	build, vet, test  string // ok, FAIL, or - (not run)
	buildTime         time.Duration
	testTime          time.Duration
}

// TestCorpus runs `gatehouse new` on every spec of the real-world corpus and
// builds, vets and tests each project, then prints a table (run with -v to
// see it on success). Every file but the expected refusals must pass.
//
//	GATEHOUSE_CORPUS_ALL=1 go test -v -run TestCorpus -timeout 3h .
//	GATEHOUSE_CORPUS_ALL=1 GATEHOUSE_CORPUS_ONLY=stripe go test -v -run TestCorpus .
func TestCorpus(t *testing.T) {
	if os.Getenv(corpusAllEnv) != "1" {
		t.Skipf("set %s=1 to generate, build, vet and test a project for every spec of the corpus (slow)", corpusAllEnv)
	}
	dir := os.Getenv(corpusDirEnv)
	if dir == "" {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "..", "shared", "corpus", "specs")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the corpus folder %s is absent (set %s to its specs folder)", dir, corpusDirEnv)
	}
	files, err := corpusFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var only []string
	if s := os.Getenv(corpusOnlyEnv); s != "" {
		only = strings.Split(s, ",")
	}
	env := append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	// Smallest first, so that an interrupted run has covered the most
	// files; each row is printed as soon as it is known, and the table
	// again in name order at the end.
	size := func(f string) int64 {
		info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return 0
		}
		return info.Size()
	}
	order := slices.Clone(files)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(size(a), size(b)) })
	var results []corpusResult
	for _, f := range order {
		name := corpusName(f)
		if len(only) > 0 && !containsAny(name, only) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			r := corpusRun(t, filepath.Join(dir, filepath.FromSlash(f)), name, env)
			results = append(results, r)
			fmt.Print(corpusRow(r))
			if want, ok := corpusRefused[name]; ok {
				if r.refused == "" || !want.MatchString(r.refused) {
					t.Errorf("want a refusal matching %q, got %q", want, r.refused)
				}
				return
			}
			if r.refused != "" || r.build != "ok" || r.vet != "ok" || r.test != "ok" {
				t.Errorf("refused %q, build %s, vet %s, test %s", r.refused, r.build, r.vet, r.test)
			}
		})
	}
	slices.SortFunc(results, func(a, b corpusResult) int { return strings.Compare(a.name, b.name) })
	fmt.Print(corpusTable(results, len(files)))
}

// corpusFiles lists the corpus's specs, by MANIFEST.tsv beside the specs
// folder (which names the root file of a multi-file spec) or else by the
// folder's regular files.
func corpusFiles(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "..", "MANIFEST.tsv"))
	if err != nil {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, e := range entries {
			if e.Type().IsRegular() {
				out = append(out, e.Name())
			}
		}
		return out, nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for first := true; sc.Scan(); first = false {
		file, _, _ := strings.Cut(sc.Text(), "\t")
		if first || file == "" {
			continue
		}
		out = append(out, file)
	}
	return out, sc.Err()
}

// corpusName names a spec by its file, or by its folder for a multi-file
// spec.
func corpusName(file string) string {
	first, _, _ := strings.Cut(file, "/")
	return first
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

var warningRE = regexp.MustCompile(`(?m)^warning: .*\b(repaired|degraded): `)

func corpusRun(t *testing.T, spec, name string, env []string) corpusResult {
	r := corpusResult{name: name, build: "-", vet: "-", test: "-"}
	proj := filepath.Join(t.TempDir(), "project")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := cli.Main([]string{"new", proj, "--spec", spec}, strings.NewReader(""), &stdout, &stderr)
	r.gen = time.Since(start)
	for _, m := range warningRE.FindAllStringSubmatch(stderr.String(), -1) {
		if m[1] == "repaired" {
			r.repairs++
		} else {
			r.degrades++
		}
	}
	if code != 0 {
		r.refused = strings.ReplaceAll(firstErrorLine(stderr.String()), filepath.Dir(spec)+string(filepath.Separator), "")
		return r
	}
	goCmd := func(args ...string) (string, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), corpusStepTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = proj
		cmd.Env = env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		if err != nil {
			t.Logf("go %s: %v\n%s", strings.Join(args, " "), err, tail(out, 40))
			return "FAIL", d
		}
		return "ok", d
	}
	if r.build, r.buildTime = goCmd("build", "./..."); r.build != "ok" {
		return r
	}
	r.vet, _ = goCmd("vet", "./...")
	r.test, r.testTime = goCmd("test", "./...")
	return r
}

// firstErrorLine is the first line of gatehouse's error, past its warnings.
func firstErrorLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "gatehouse") {
			return line
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
	return first
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// corpusTable renders the results as a markdown table and a summary line.
func corpusTable(results []corpusResult, total int) string {
	var b strings.Builder
	b.WriteString("\n| file | new | repaired | degraded | gen | build | vet | test | build time | test time |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---|---|---:|---:|\n")
	passed, generated := 0, 0
	for _, r := range results {
		if r.refused == "" {
			generated++
		}
		if r.build == "ok" && r.vet == "ok" && r.test == "ok" {
			passed++
		}
		b.WriteString(corpusRow(r))
	}
	fmt.Fprintf(&b, "\ngenerated %d, built+vetted+tested %d of %d (%d run)\n", generated, passed, total, len(results))
	return b.String()
}

func seconds(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

// corpusRow renders one result as a row of corpusTable.
func corpusRow(r corpusResult) string {
	gen := "generated"
	if r.refused != "" {
		gen = "refused: " + strings.ReplaceAll(r.refused, "|", `\|`)
		if r := []rune(gen); len(r) > 200 {
			gen = string(r[:200]) + "…"
		}
	}
	return fmt.Sprintf("| %s | %s | %d | %d | %.1fs | %s | %s | %s | %s | %s |\n", r.name, gen, r.repairs, r.degrades,
		r.gen.Seconds(), r.build, r.vet, r.test, seconds(r.buildTime), seconds(r.testTime))
}
