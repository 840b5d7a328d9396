package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// PasswordStore is the console-password part of a store (users'
// password_hash column). It is declared here, not in store.Store, which
// this work may not change: a store that implements it is checked by
// RunPasswords.
type PasswordStore interface {
	// SetUserPassword stores the hash of a user's password; "" removes it.
	// ErrNotFound for an unknown user, ErrInvalid for an unhashable one.
	SetUserPassword(ctx context.Context, name, password string) error
	// CheckUserPassword returns the user whose password this is;
	// ErrNotFound for an unknown user, no password or a wrong one.
	CheckUserPassword(ctx context.Context, name, password string) (api.User, error)
}

// RunPasswords runs the conformance cases of PasswordStore; open returns
// a new, empty store that implements it.
func RunPasswords(t *testing.T, open func(t *testing.T) store.Store) {
	get := func(t *testing.T) (store.Store, PasswordStore) {
		s := open(t)
		ps, ok := s.(PasswordStore)
		if !ok {
			t.Fatalf("%T does not implement storetest.PasswordStore", s)
		}
		return s, ps
	}
	notFound := func(t *testing.T, err error, what string) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: got %v, want ErrNotFound", what, err)
		}
	}
	t.Run("set-check", func(t *testing.T) {
		s, ps := get(t)
		ctx := ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: base}), "create")
		_, err := ps.CheckUserPassword(ctx, "alice", "")
		notFound(t, err, "check before any password")
		must(t, ps.SetUserPassword(ctx, "alice", "correct horse"), "set")
		u, err := ps.CheckUserPassword(ctx, "alice", "correct horse")
		must(t, err, "check the right password")
		if u.Name != "alice" || u.Role != api.RoleAdmin {
			t.Fatalf("checked user %+v", u)
		}
		for _, wrong := range []string{"", "correct horsE", "correct horse ", "wrong"} {
			_, err := ps.CheckUserPassword(ctx, "alice", wrong)
			notFound(t, err, "check "+wrong)
		}
		must(t, ps.SetUserPassword(ctx, "alice", "battery staple"), "change")
		_, err = ps.CheckUserPassword(ctx, "alice", "correct horse")
		notFound(t, err, "old password after the change")
		_, err = ps.CheckUserPassword(ctx, "alice", "battery staple")
		must(t, err, "new password")
		must(t, ps.SetUserPassword(ctx, "alice", ""), "remove")
		_, err = ps.CheckUserPassword(ctx, "alice", "battery staple")
		notFound(t, err, "password after removal")
	})
	t.Run("unknown-user", func(t *testing.T) {
		_, ps := get(t)
		ctx := ctxT(t)
		notFound(t, ps.SetUserPassword(ctx, "nobody", "pw"), "set for an unknown user")
		_, err := ps.CheckUserPassword(ctx, "nobody", "pw")
		notFound(t, err, "check an unknown user")
	})
	t.Run("too-long", func(t *testing.T) {
		s, ps := get(t)
		ctx := ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "bob", Role: api.RoleUser, CreatedAt: base}), "create")
		if err := ps.SetUserPassword(ctx, "bob", strings.Repeat("x", 100)); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("100-byte password: got %v, want ErrInvalid", err)
		}
	})
	t.Run("deleted-user", func(t *testing.T) {
		s, ps := get(t)
		ctx := ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "carol", Role: api.RoleUser, CreatedAt: base}), "create")
		must(t, ps.SetUserPassword(ctx, "carol", "pw"), "set")
		must(t, s.DeleteUser(ctx, "carol"), "delete")
		_, err := ps.CheckUserPassword(ctx, "carol", "pw")
		notFound(t, err, "check a deleted user")
	})
}
