//go:build unix

package gatehouse_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigSpec writes a spec with n operations, each with its own tag (so its
// own handler file): big enough that gatehouse is still writing when a
// signal arrives.
func bigSpec(t *testing.T, file string, n int) {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: big, version: \"1\"}\npaths:\n")
	for i := range n {
		fmt.Fprintf(&b, "  /r%d/{id}:\n    get:\n      operationId: get%d\n      tags: [tag%d]\n", i, i, i)
		b.WriteString("      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n")
		b.WriteString("      responses: {\"200\": {description: ok}}\n")
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A trigger says when to send the signal: it returns once the moment came.
type trigger struct {
	name string
	wait func(dir string)
}

func after(d time.Duration) trigger {
	return trigger{d.String(), func(string) { time.Sleep(d) }}
}

// appears waits (at most 30s) until a file whose name matches re exists
// below dir.
func appears(re string) trigger {
	rx := regexp.MustCompile(re)
	return trigger{"when " + re + " appears", func(dir string) {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
			found := false
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && rx.MatchString(d.Name()) {
					found = true
					return filepath.SkipAll
				}
				return nil
			})
			if found {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}}
}

// interrupt runs gatehouse with args in dir, sends sig when the trigger
// fires, and returns the exit code and stderr.
func interrupt(t *testing.T, dir string, sig syscall.Signal, when trigger, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("gatehouse", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	when.wait(dir)
	cmd.Process.Signal(sig)
	cmd.Wait()
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// noTemporaries fails when a gatehouse temporary is left below dir.
func noTemporaries(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".gatehouse-") {
			t.Errorf("temporary left behind: %s", p)
		}
		return nil
	})
}

// checkInterrupted checks what an interrupted run must do: exit 130 or 143
// with one line on stderr. It reports false when the run had finished
// before the signal.
func checkInterrupted(t *testing.T, sig syscall.Signal, code int, stderr string) bool {
	t.Helper()
	if code == 0 {
		t.Logf("finished before the signal")
		return false
	}
	want := map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143}[sig]
	if code != want {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, want, stderr)
	}
	if !regexp.MustCompile(`^gatehouse: interrupted by SIG(INT|TERM); [^\n]*\n$`).MatchString(stderr) {
		t.Errorf("stderr is not one line saying the run was interrupted:\n%s", stderr)
	}
	return true
}

// TestInterruptNew: SIGINT or SIGTERM during `gatehouse new` leaves no
// temporary and no project directory.
func TestInterruptNew(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "big.yaml")
	bigSpec(t, spec, 200)
	cases := []struct {
		sig  syscall.Signal
		when trigger
	}{
		{syscall.SIGINT, appears(`^\.out\.gatehouse-`)}, // while writing files
		{syscall.SIGTERM, appears(`^\.out\.gatehouse-`)},
	}
	if !testing.Short() {
		cases = append(cases,
			struct {
				sig  syscall.Signal
				when trigger
			}{syscall.SIGINT, after(300 * time.Millisecond)}, // while loading and generating
			struct {
				sig  syscall.Signal
				when trigger
			}{syscall.SIGINT, after(2 * time.Second)},
		)
	}
	for _, c := range cases {
		t.Run(c.sig.String()+" "+c.when.name, func(t *testing.T) {
			work := t.TempDir()
			code, stderr := interrupt(t, work, c.sig, c.when, "new", "out", "--spec", spec)
			if checkInterrupted(t, c.sig, code, stderr) {
				if _, err := os.Lstat(filepath.Join(work, "out")); err == nil {
					t.Errorf("the interrupted run left the project directory out")
				}
			}
			noTemporaries(t, work)
		})
	}
}

// TestInterruptGenerate: SIGINT during `gatehouse generate` leaves no
// temporary in the project, and the next run finishes the work.
func TestInterruptGenerate(t *testing.T) {
	specs := t.TempDir()
	small, big := filepath.Join(specs, "small.yaml"), filepath.Join(specs, "big.yaml")
	bigSpec(t, small, 1)
	bigSpec(t, big, 200)
	whens := []trigger{appears(`^tag1\.go$`)} // the first stubs are written
	if !testing.Short() {
		whens = append(whens, after(300*time.Millisecond), after(2*time.Second))
	}
	for _, when := range whens {
		t.Run(when.name, func(t *testing.T) {
			work := t.TempDir()
			if out, err := exec.Command("gatehouse", "new", filepath.Join(work, "p"), "--spec", small).CombinedOutput(); err != nil {
				t.Fatalf("gatehouse new: %v\n%s", err, out)
			}
			data, err := os.ReadFile(big)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(work, "p")
			if err := os.WriteFile(filepath.Join(p, "api", "openapi.yaml"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			code, stderr := interrupt(t, p, syscall.SIGINT, when, "generate")
			checkInterrupted(t, syscall.SIGINT, code, stderr)
			noTemporaries(t, work)
			cmd := exec.Command("gatehouse", "generate")
			cmd.Dir = p
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("the next generate failed: %v\n%s", err, out)
			}
			if _, err := os.Stat(filepath.Join(p, "internal", "handlers", "tag199.go")); err != nil {
				t.Errorf("the next generate did not finish the work: %v", err)
			}
		})
	}
}
