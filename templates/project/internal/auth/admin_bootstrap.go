package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/gatehouse-go/gatehouse/templates/project/internal/store"
)

// createFirstAdmin creates the user ADMIN_USERNAME names, with the password
// in ADMIN_PASSWORD_FILE and the scopes ADMIN_SCOPES, unless a user of that
// name exists: an existing user is left unchanged (its password, scopes and
// state may have been changed since, on purpose), and the file is not even
// read then, so it can be removed after the first start. Several instances
// starting at once on one database are safe: the store creates a user
// once (ErrExists for the others), and the losers log that it exists.
func (s *Service) createFirstAdmin(ctx context.Context) error {
	cfg := s.cfg
	if cfg.AdminUsername == "" {
		return nil
	}
	name, err := NormalizeUsername(cfg.AdminUsername)
	if err != nil {
		return fmt.Errorf("ADMIN_USERNAME: %w", err)
	}
	exists := func() {
		s.log.LogAttrs(ctx, slog.LevelInfo, "ADMIN_USERNAME: the user exists; left unchanged", slog.String("username", name))
	}
	switch _, err := s.store.User(ctx, name); {
	case err == nil:
		exists()
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("ADMIN_USERNAME: look up %q: %w", name, err)
	}
	password, err := readPasswordFile(cfg.AdminPasswordFile)
	if err != nil {
		return fmt.Errorf("ADMIN_PASSWORD_FILE: %w", err)
	}
	u, err := s.accounts.CreateUser(ctx, name, password, cfg.AdminScopes)
	switch {
	case errors.Is(err, store.ErrExists): // another instance was first
		exists()
		return nil
	case err != nil:
		return fmt.Errorf("ADMIN_USERNAME: create %q: %w", name, err)
	}
	for _, sc := range u.Scopes {
		if s.opts.SpecScopes != nil && !slices.Contains(s.opts.SpecScopes, sc) {
			s.log.LogAttrs(ctx, slog.LevelWarn, "ADMIN_SCOPES: no operation of the spec requires this scope", slog.String("scope", sc))
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "ADMIN_USERNAME: created the first administrator",
		slog.String("username", u.Username), slog.String("scopes", strings.Join(u.Scopes, " ")))
	return nil
}

// readPasswordFile returns the first line of a password file, as
// --password-stdin reads standard input. Errors never hold the password.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.LimitReader(f, maxPasswordInput+1), 512)
	line, err := r.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(line) > maxPasswordInput {
		return "", fmt.Errorf("%s: the password is too long", path)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("%s holds no password", path)
	}
	return pw, nil
}
