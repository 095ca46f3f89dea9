//go:build !unix

package generator

import (
	"testing"
	"time"
)

// cpuTime is not measured here: the CPU ratios read 0/0.
func cpuTime(*testing.B) time.Duration { return 0 }
