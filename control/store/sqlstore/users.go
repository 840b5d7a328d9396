package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// CreateUser inserts a user; ErrConflict if the name exists.
func (s *Core) CreateUser(ctx context.Context, u api.User) error {
	if u.Name == "" {
		return fmt.Errorf("create user: %w: empty name", store.ErrInvalid)
	}
	if !u.Role.Valid() {
		return fmt.Errorf("create user %q: %w: unknown role %q", u.Name, store.ErrInvalid, u.Role)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)`,
		u.Name, string(u.Role), Nanos(u.CreatedAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create user %q: %w", u.Name, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, err)
	}
	return nil
}

// GetUser returns one user; ErrNotFound if there is none of that name.
func (s *Core) GetUser(ctx context.Context, name string) (api.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT name, role, created_at FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return api.User{}, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return api.User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns every user, by name.
func (s *Core) ListUsers(ctx context.Context) ([]api.User, error) {
	return queryAll(ctx, s.read, "list users", scanUser, `SELECT name, role, created_at FROM users ORDER BY name`)
}

// DeleteUser removes a user and revokes every token of it, in one
// transaction.
func (s *Core) DeleteUser(ctx context.Context, name string) error {
	err := s.InTx(ctx, func(tx Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
		if err != nil {
			return err
		}
		n, err := Affected(res)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %q: %w", name, store.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE user_name = ? AND revoked_at IS NULL`,
			Nanos(s.now()), name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	return nil
}

// CountUsers returns the number of users.
func (s *Core) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

func scanUser(r rowScanner) (api.User, error) {
	var (
		u       api.User
		role    string
		created int64
	)
	if err := r.Scan(&u.Name, &role, &created); err != nil {
		return api.User{}, err
	}
	u.Role = api.Role(role)
	u.CreatedAt = FromNanos(created)
	return u, nil
}
