package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"golang.org/x/crypto/bcrypt"
)

// passwordCost is the bcrypt cost of stored password hashes.
const passwordCost = bcrypt.DefaultCost

// SetUserPassword stores the bcrypt hash of a user's console password; an
// empty password removes it (token login only). ErrNotFound if there is
// no such user; ErrInvalid for a password bcrypt cannot hash (over 72
// bytes).
func (s *Core) SetUserPassword(ctx context.Context, name, password string) error {
	var hash []byte
	if password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(password), passwordCost)
		if err != nil {
			return fmt.Errorf("set password of %q: %w: %w", name, store.ErrInvalid, err)
		}
		hash = h
	}
	res, err := s.write.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name)
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// CheckUserPassword returns the user whose console password this is.
// An unknown user, a user without a password and a wrong password are all
// ErrNotFound (the caller cannot tell them apart, nor can an attacker).
func (s *Core) CheckUserPassword(ctx context.Context, name, password string) (api.User, error) {
	var hash []byte
	u, err := scanUser(rowFunc(func(dest ...any) error {
		return s.read.QueryRowContext(ctx, `SELECT name, role, created_at, password_hash FROM users WHERE name = ?`, name).
			Scan(append(dest, &hash)...)
	}))
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the time of a comparison anyway: a missing user answers
		// as slowly as a wrong password.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return api.User{}, fmt.Errorf("user %q with that password: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return api.User{}, fmt.Errorf("check password of %q: %w", name, err)
	}
	if len(hash) == 0 {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return api.User{}, fmt.Errorf("user %q with that password: %w", name, store.ErrNotFound)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return api.User{}, fmt.Errorf("user %q with that password: %w", name, store.ErrNotFound)
	}
	return u, nil
}

// rowFunc adapts a Scan function to scanUser's argument.
type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }

// dummyHash is compared against when there is no hash to compare (made
// on first use, not at start-up).
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("onepam-no-password"), passwordCost)
	return h
})
