// Command gatehouse generates a Go API server project from an OpenAPI spec.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gatehouse-go/gatehouse/internal/cli"
)

func main() {
	tuneGC()
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// tuneGC trades memory for time, as the Go compiler does for the same
// reason: a generation is one short burst of allocation over a heap that
// stays mostly live, so the collector's default pace (a cycle each time
// the heap doubles) spends a quarter of the CPU on a large spec. With a
// cycle when the heap grows fivefold, a spec of a few megabytes generates
// in about three quarters of the CPU time; the soft limit makes the
// collector run as often as before once the heap nears 1 GiB, so the
// largest specs peak lower than by default. GOGC or GOMEMLIMIT in the
// environment are left to decide instead.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(1 << 30)
}
