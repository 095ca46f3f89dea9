//go:build unix

package spec

import "syscall"

// openNonBlock makes opening a named pipe return at once instead of
// waiting for a writer; it changes nothing for a regular file.
const openNonBlock = syscall.O_NONBLOCK
