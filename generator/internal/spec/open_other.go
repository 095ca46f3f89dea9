//go:build !unix

package spec

// openNonBlock is zero where there are no named pipes to wait on.
const openNonBlock = 0
