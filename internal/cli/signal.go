package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interruptible runs a command that writes, so that SIGINT or SIGTERM stops
// it cleanly: the run's temporaries are removed, nothing is written after
// that, and the exit code is the shell's for the signal (130, 143).
func (c *command) interruptible(ctx context.Context, run func(context.Context) int) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Once interrupted, the run may still fail on its way out (with
	// ErrInterrupted); only the interruption is reported.
	stdout, stderr := &gated{w: c.stdout}, &gated{w: c.stderr}
	c.stdout, c.stderr = stdout, stderr
	done := make(chan int, 1)
	go func() { done <- run(ctx) }()
	select {
	case code := <-done:
		return code
	case sig := <-sigs:
		select {
		case code := <-done: // the run had finished after all
			return code
		default:
		}
		stdout.close()
		stderr.close()
		cancel()
		c.w.Abort() // waits for the write in progress; none follows
		name, code := "SIGINT", 130
		if sig == syscall.SIGTERM {
			name, code = "SIGTERM", 143
		}
		fmt.Fprintf(stderr.w, "gatehouse: interrupted by %s; its temporary files were removed, run the command again to finish\n", name)
		return code
	}
}

// gated passes writes through until it is closed, then drops them.
type gated struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gated) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gated) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}
