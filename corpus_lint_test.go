package gatehouse_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/gatehouse-go/gatehouse/generator"
)

// corpusLintEnv opts in to TestCorpusLint.
const corpusLintEnv = "GATEHOUSE_CORPUS_LINT"

// TestCorpusLint runs the security review over every spec of the corpus
// and prints, per rule, how many findings and how many specs have one, and
// per spec its counts; it fails on a spec the review cannot read, beside
// the expected refusals. It does not generate code, so it takes a minute.
//
//	GATEHOUSE_CORPUS_LINT=1 go test -v -run TestCorpusLint .
func TestCorpusLint(t *testing.T) {
	if os.Getenv(corpusLintEnv) != "1" {
		t.Skipf("set %s=1 to lint every spec of the corpus and print per-rule counts", corpusLintEnv)
	}
	dir := os.Getenv(corpusDirEnv)
	if dir == "" {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "..", "shared", "corpus", "specs")
	}
	files, err := corpusFiles(dir)
	if err != nil {
		t.Skipf("no corpus at %s: %v", dir, err)
	}
	perRule := map[string]int{}
	specsPerRule := map[string]int{}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "spec\toperations\terrors\twarnings\tinfo\trules")
	for _, file := range files {
		name := corpusName(file)
		rv, err := generator.ReviewSpec(t.Context(), filepath.Join(dir, file), generator.LintConfig{})
		if err != nil {
			if re, ok := corpusRefused[name]; ok && re.MatchString(err.Error()) {
				fmt.Fprintf(tw, "%s\trefused (expected)\t\t\t\t\n", name)
				continue
			}
			t.Errorf("%s: %v", name, err)
			continue
		}
		seen := map[string]int{}
		for _, f := range rv.Findings {
			perRule[f.Rule]++
			seen[f.Rule]++
		}
		var fired []string
		for _, r := range generator.Rules {
			if n := seen[r.ID]; n > 0 {
				specsPerRule[r.ID]++
				fired = append(fired, fmt.Sprintf("%s:%d", r.ID, n))
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", name, len(rv.API.Operations), rv.Count(generator.SevError), rv.Count(generator.SevWarning), rv.Count(generator.SevInfo), strings.Join(fired, " "))
	}
	fmt.Fprintln(tw, "\nrule\tseverity\tfindings\tspecs\t\t")
	for _, r := range generator.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t\t\n", r.ID, r.Severity, perRule[r.ID], specsPerRule[r.ID])
	}
	tw.Flush()
	fmt.Print(b.String())
}
