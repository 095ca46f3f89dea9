//go:build unix

package gatehouse_test

import (
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

// mkfifo creates a named pipe: mkfifo PATH.
func mkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: mkfifo path")
	}
	ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o644))
}
