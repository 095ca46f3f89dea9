//go:build unix

package spec

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesNamedPipeWithoutWaiting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(p); done <- err }()
	select {
	case err := <-done:
		var nr *notRegularError
		if !errors.As(err, &nr) || fileKind(nr.mode) != "a named pipe" {
			t.Errorf("ReadFile(fifo) = %v, want refused as a named pipe", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFile blocked on a named pipe")
	}
}
