//go:build unix

package generator

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user and system CPU time of the process so far, and of
// the child processes it waited for (goimports runs the go command).
func cpuTime(b *testing.B) time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}
