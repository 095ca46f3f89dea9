package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

func TestAdminLinks(t *testing.T) {
	f := epSetup(t)
	adRun(f, "a long enough password\n", nil, "users", "add", "--username", "Jane", "--password-stdin").want(t, ExitOK)
	adRun(f, "", nil, "links", "add", "--issuer", "https://accounts.google.com", "--subject", "1001",
		"--username", "JANE", "--provider", "google").want(t, ExitOK)
	l, err := f.svc.Store().(store.IdentityLinkStore).IdentityLink(context.Background(), "https://accounts.google.com", "1001")
	if err != nil || l.Username != "jane" {
		t.Fatalf("link %+v %v, want one to jane", l, err)
	}
	r := adRun(f, "", nil, "links", "list").want(t, ExitOK)
	if !strings.HasPrefix(r.stdout, "jane\tgoogle\thttps://accounts.google.com\t1001\t\t") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("links list:\n%s", r.stdout)
	}
	if r := adRun(f, "", nil, "links", "add", "--issuer", "https://accounts.google.com", "--subject", "1001", "--username", "jane").want(t, ExitError); !strings.Contains(r.stderr, "already linked") {
		t.Errorf("second link: %s", r.stderr)
	}
	if r := adRun(f, "", nil, "links", "add", "--issuer", "https://github.com", "--subject", "1", "--username", "nobody").want(t, ExitError); !strings.Contains(r.stderr, `no user "nobody"`) {
		t.Errorf("link to an unknown user: %s", r.stderr)
	}
	adRun(f, "", nil, "links", "add", "--issuer", "https://github.com").want(t, ExitUsage)
	adRun(f, "", nil, "links", "remove", "--issuer", "https://accounts.google.com", "--subject", "1001").want(t, ExitOK)
	adRun(f, "", nil, "links", "remove", "--issuer", "https://accounts.google.com", "--subject", "1001").want(t, ExitError)
	if r := adRun(f, "", nil, "links", "list").want(t, ExitOK); r.stdout != "" {
		t.Errorf("links list after remove:\n%s", r.stdout)
	}
}
