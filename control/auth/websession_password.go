package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// PasswordStore is the part of the store a password login needs (the
// sqlite store implements it; store.Store does not declare it).
type PasswordStore interface {
	CheckUserPassword(ctx context.Context, name, password string) (api.User, error)
	GetUser(ctx context.Context, name string) (api.User, error)
}

// ErrBadPassword is the error of a refused password login (unknown user,
// no password set, wrong password: the answer does not say which).
var ErrBadPassword = api.Errorf(api.CodeUnauthenticated, "wrong user name or password")

// LoginPassword checks a user's console password and opens a web session
// that is not tied to any token: it ends on logout, after WebIdleTimeout
// unused, or when the user is removed (each request re-reads the user, so
// a role change applies at once).
func (t *Tokens) LoginPassword(ctx context.Context, user, password string) (WebSession, error) {
	ps, ok := t.store.(PasswordStore)
	if !ok {
		return WebSession{}, api.Errorf(api.CodeUnavailable, "password login is not supported by this store")
	}
	u, err := ps.CheckUserPassword(ctx, user, password)
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, ErrBadPassword
	}
	if err != nil {
		return WebSession{}, fmt.Errorf("check password: %w", err)
	}
	return t.openWebSession(ctx, Principal{User: u.Name, Role: u.Role}, "", nil, nil)
}

// passwordPrincipal re-reads the user of a password web session.
func (t *Tokens) passwordPrincipal(ctx context.Context, name string) (Principal, error) {
	ps, ok := t.store.(PasswordStore)
	if !ok {
		return Principal{}, api.Errorf(api.CodeUnauthenticated, "password login is not supported by this store")
	}
	u, err := ps.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, api.Errorf(api.CodeUnauthenticated, "user %q was removed: log in again", name)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up user: %w", err)
	}
	return Principal{User: u.Name, Role: u.Role}, nil
}
