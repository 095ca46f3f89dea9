package open

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// Each kind opens its backend; an unknown kind, and a failure to open,
// are errors with no store.
func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	for kind, want := range map[string]string{
		store.KindMemory: "*memory.Store",
		store.KindSQLite: "*sqlite.Store",
	} {
		s, err := Backends{}.OpenStore(ctx, kind, filepath.Join(t.TempDir(), "auth.db"), "")
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if got := fmt.Sprintf("%T", s); got != want {
			t.Errorf("%s opened a %s, want a %s", kind, got, want)
		}
		s.Close()
	}
	if s, err := (Backends{}).OpenStore(ctx, "mysql", "", ""); err == nil || s != nil {
		t.Errorf("an unknown kind: %v, %v", s, err)
	}
	if s, err := (Backends{}).OpenStore(ctx, store.KindSQLite, "", ""); err == nil || s != nil {
		t.Errorf("SQLite without a path: %v, %v; want an error and no store", s, err)
	}
	if s, err := (Backends{}).OpenStore(ctx, store.KindPostgres, "", "postgres://db/app?pool_max_conns=0"); err == nil || s != nil {
		t.Errorf("a bad postgres URL: %v, %v; want an error and no store", s, err)
	}
}

func TestCheckAndOpenCounts(t *testing.T) {
	b := Backends{}
	if w, err := b.CheckDatabaseURL(store.KindPostgres, "postgres://app@db.example.com/app"); err != nil || len(w) != 1 {
		t.Errorf("postgres without sslmode: warnings %q, %v; want one", w, err)
	}
	if w, err := b.CheckDatabaseURL(store.KindSQLite, "sqlite:data/x.db"); err != nil || w != nil {
		t.Errorf("sqlite: %q, %v", w, err)
	}
	if _, err := b.CheckRedisURL("http://cache"); err == nil {
		t.Error("REDIS_URL http://cache accepted")
	}
	if c, err := b.OpenCounts(context.Background(), "http://cache", "p", slog.New(slog.DiscardHandler)); err == nil || c != nil ||
		!strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("OpenCounts of a bad URL: %v, %v", c, err)
	}
}
