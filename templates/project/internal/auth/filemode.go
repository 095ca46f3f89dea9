package auth

import (
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// Checks of the permissions of files holding secrets. Windows has no such
// permission bits (Go reports 0666 or 0444 there), so they apply elsewhere
// only.

// checkKeyFileMode judges the permissions of a private key file (a signing
// key, the TLS key). Anyone who can read a signing key can mint tokens for
// any user, so access by other users is refused, as OpenSSH refuses such a
// key. Read access by the file's group is allowed with a warning: it is what
// Kubernetes gives a secret volume of a pod with an fsGroup, and the group
// is then the server's own.
func checkKeyFileMode(path string, info fs.FileInfo) (warning string, err error) {
	if runtime.GOOS == "windows" {
		return "", nil
	}
	perm := info.Mode().Perm()
	switch {
	case perm&0o027 != 0:
		return "", fmt.Errorf("%s is accessible to other users (mode %04o): whoever reads a private key can use it; "+
			"make it private with `chmod 600 %s` (for a Kubernetes secret volume, defaultMode: 0400, or 0440 with an fsGroup)",
			path, perm, path)
	case perm&0o040 != 0:
		return fmt.Sprintf("%s is readable by its group (mode %04o): every member can use the private key; "+
			"`chmod 600 %s` unless that group is the server's own", path, perm, path), nil
	}
	return "", nil
}

// databaseFileWarning warns about an existing database file that other
// users may read or write: it holds password hashes and the digests of
// sessions and API keys. A warning, not a refusal: none of it is usable as
// a credential as it is, and a new file is created private (0600).
func databaseFileWarning(path string) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	info, err := os.Stat(path)
	if err != nil {
		return "" // none yet: it is created private; other problems are reported when it is opened
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Sprintf("DATABASE_URL: %s is accessible to other users (mode %04o); it holds password hashes and the digests "+
			"of sessions and API keys: make it private with `chmod 600 %s` (and its -wal and -shm files)", path, perm, path)
	}
	return ""
}
