package auth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// linkAdminCommands are the admin commands of identity links (login
// through external providers):
//
//	links add --issuer URL --subject ID --username NAME [--provider NAME]
//	links remove --issuer URL --subject ID
//	links list
func linkAdminCommands() []adminCommand {
	// linkStore opens the store (see adminRun.ready): called once the
	// command line has been checked.
	linkStore := func(ctx context.Context, a *adminRun) (store.IdentityLinkStore, error) {
		if err := a.ready(ctx); err != nil {
			return nil, err
		}
		ls, ok := a.deps.Store.(store.IdentityLinkStore)
		if !ok {
			return nil, fmt.Errorf("this store (%T) keeps no identity links", a.deps.Store)
		}
		return ls, nil
	}
	return []adminCommand{
		{
			group: "links", name: "add",
			args:    "--issuer URL --subject ID --username NAME [--provider NAME]",
			summary: "let an identity at a provider log in as a user",
			help: "The issuer is the provider's OIDC issuer (LOGIN_NAME_ISSUER), or for a plain OAuth2 provider the origin of its\n" +
				"authorization URL (https://github.com); the subject is the provider's account id (sub, or GitHub's numeric id).",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				issuer := fs.String("issuer", "", "the provider's issuer `URL`")
				subject := fs.String("subject", "", "the account `ID` at the provider")
				username := fs.String("username", "", "the local user `NAME`")
				provider := fs.String("provider", "", "the provider's configured `NAME`, shown in lists")
				return func(ctx context.Context, a *adminRun) error {
					for _, f := range []struct{ name, v string }{{"issuer", *issuer}, {"subject", *subject}, {"username", *username}} {
						if err := required(f.name, f.v); err != nil {
							return err
						}
					}
					ls, err := linkStore(ctx, a)
					if err != nil {
						return err
					}
					name, err := NormalizeUsername(*username)
					if err != nil {
						return usagef("--username: %v", err)
					}
					err = ls.CreateIdentityLink(ctx, store.IdentityLink{Issuer: *issuer, Subject: *subject, Username: name,
						Provider: *provider, CreatedAt: time.Now()})
					switch {
					case errors.Is(err, store.ErrNotFound):
						return fmt.Errorf("no user %q", name)
					case errors.Is(err, store.ErrExists):
						return fmt.Errorf("%s %s is already linked; remove that link first", *issuer, *subject)
					case err != nil:
						return failed(err, "linking %s %s", *issuer, *subject)
					}
					fmt.Fprintf(a.stdout, "linked %s %s to user %s\n", *issuer, *subject, name)
					return nil
				}
			},
		},
		{
			group: "links", name: "remove",
			args:    "--issuer URL --subject ID",
			summary: "remove an identity link; the identity can no longer log in (sessions already started go on until revoked)",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				issuer := fs.String("issuer", "", "the provider's issuer `URL`")
				subject := fs.String("subject", "", "the account `ID` at the provider")
				return func(ctx context.Context, a *adminRun) error {
					if err := required("issuer", *issuer); err != nil {
						return err
					}
					if err := required("subject", *subject); err != nil {
						return err
					}
					ls, err := linkStore(ctx, a)
					if err != nil {
						return err
					}
					err = ls.DeleteIdentityLink(ctx, *issuer, *subject)
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no link of %s %s", *issuer, *subject)
					}
					if err != nil {
						return failed(err, "removing the link of %s %s", *issuer, *subject)
					}
					fmt.Fprintf(a.stdout, "removed the link of %s %s\n", *issuer, *subject)
					return nil
				}
			},
		},
		{
			group: "links", name: "list",
			summary: "list identity links: USER, PROVIDER, ISSUER, SUBJECT, EMAIL, CREATED (tab-separated)",
			setup: func(fs *flag.FlagSet) func(context.Context, *adminRun) error {
				return func(ctx context.Context, a *adminRun) error {
					ls, err := linkStore(ctx, a)
					if err != nil {
						return err
					}
					links, err := ls.ListIdentityLinks(ctx)
					if err != nil {
						return failed(err, "listing identity links")
					}
					for _, l := range links {
						fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Username, l.Provider, l.Issuer, l.Subject, l.Email, fmtTime(l.CreatedAt))
					}
					return nil
				}
			},
		},
	}
}
