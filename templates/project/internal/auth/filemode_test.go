package auth

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store/open"
)

func skipWithoutPermissionBits(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group and other permission bits")
	}
}

func TestLoadKeyDirRefusesKeyFilesOtherUsersCanRead(t *testing.T) {
	skipWithoutPermissionBits(t)
	dir := t.TempDir()
	if _, err := GenerateKey(dir, AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	names, err := keyFileNames(dir)
	if err != nil || len(names) != 1 {
		t.Fatalf("key files %v, %v", names, err)
	}
	path := filepath.Join(dir, names[0])
	for _, tc := range []struct {
		mode    os.FileMode
		refused bool
		warned  bool
	}{
		{0o600, false, false},
		{0o400, false, false},
		{0o640, false, true}, // a Kubernetes secret volume with an fsGroup
		{0o644, true, false},
		{0o604, true, false},
		{0o620, true, false},
	} {
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		ks, err := LoadKeyDir(dir, AlgEdDSA)
		if tc.refused {
			if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("mode %04o: %v, want a refusal saying how to fix it", tc.mode, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("mode %04o: %v", tc.mode, err)
			continue
		}
		if warned := len(ks.warnings) > 0; warned != tc.warned {
			t.Errorf("mode %04o: warnings %q", tc.mode, ks.warnings)
		}
	}
}

func TestServiceWarnsAboutDatabaseFileOtherUsersCanRead(t *testing.T) {
	skipWithoutPermissionBits(t)
	for _, mode := range []os.FileMode{0o644, 0o600} {
		path := filepath.Join(t.TempDir(), "auth.db")
		if err := os.WriteFile(path, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // whatever the umask
			t.Fatal(err)
		}
		cfg, err := LoadConfig(cfLookup(map[string]string{"JWT_SECRET": cfSecret, "DATABASE_URL": "sqlite:" + path}))
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(context.Background(), cfg, open.Backends{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Close()
		warned := slices.ContainsFunc(svc.Config().Warnings, func(w string) bool {
			return strings.HasPrefix(w, "DATABASE_URL: "+path+" is accessible to other users")
		})
		if warned != (mode == 0o644) {
			t.Errorf("database file of mode %04o: warnings %q", mode, svc.Config().Warnings)
		}
	}
}

func TestServeRefusesTLSKeyOtherUsersCanRead(t *testing.T) {
	skipWithoutPermissionBits(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, p := range []string{cert, key} {
		if err := os.WriteFile(p, []byte("not PEM"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{ListenAddr: "127.0.0.1:0", TLSCertFile: cert, TLSKeyFile: key}
	err := Serve(context.Background(), NewHTTPServer(cfg, http.NewServeMux()), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "TLS_KEY_FILE: "+key+" is accessible to other users") {
		t.Fatalf("TLS key of mode 0644: %v", err)
	}
}
