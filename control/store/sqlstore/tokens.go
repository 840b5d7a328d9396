package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// touchInterval is how stale last_used_at must be before TouchToken writes
// it again: a token used many times a second costs one write a minute.
const touchInterval = time.Minute

const tokenCols = `t.id, t.user_name, t.name, t.created_at, t.expires_at, t.revoked_at, t.last_used_at`

// CreateToken stores a token by the hash of its secret. ErrNotFound if the
// user does not exist, ErrConflict if the id or hash is taken.
func (s *Core) CreateToken(ctx context.Context, t api.Token, hash []byte) error {
	if t.ID == "" || len(hash) == 0 {
		return fmt.Errorf("create token: %w: empty id or hash", store.ErrInvalid)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	err := s.InTx(ctx, func(tx Tx) error {
		var one int
		// With ForShare, a DeleteUser of another node waits for this
		// token, then revokes it with the user's others.
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE name = ?`+s.d.ForShare, t.User).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %q: %w", t.User, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (id, user_name, name, hash, created_at, expires_at, revoked_at, last_used_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.User, t.Name, hash, Nanos(t.CreatedAt), NullNanos(t.ExpiresAt), NullNanos(t.RevokedAt), NullNanos(t.LastUsedAt))
		if s.d.IsUnique(err) {
			return store.ErrConflict
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token with that secret hash and its user, even
// if expired or revoked. ErrNotFound if there is no such token or its user
// was deleted.
func (s *Core) TokenByHash(ctx context.Context, hash []byte) (api.Token, api.User, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+tokenCols+`, u.name, u.role, u.created_at
		FROM tokens t LEFT JOIN users u ON u.name = t.user_name WHERE t.hash = ?`, hash)
	var (
		tk       api.Token
		uname    sql.NullString
		urole    sql.NullString
		ucreated sql.NullInt64
	)
	err := scanTokenInto(row, &tk, &uname, &urole, &ucreated)
	if errors.Is(err, sql.ErrNoRows) {
		return api.Token{}, api.User{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return api.Token{}, api.User{}, fmt.Errorf("token by hash: %w", err)
	}
	if !uname.Valid {
		return api.Token{}, api.User{}, fmt.Errorf("token %s: user %q: %w", tk.ID, tk.User, store.ErrNotFound)
	}
	return tk, api.User{Name: uname.String, Role: api.Role(urole.String), CreatedAt: FromNanos(ucreated.Int64)}, nil
}

// ListTokens returns the tokens of one user ("" = all), oldest first.
func (s *Core) ListTokens(ctx context.Context, user string) ([]api.Token, error) {
	q := `SELECT ` + tokenCols + ` FROM tokens t`
	var args []any
	if user != "" {
		q += ` WHERE t.user_name = ?`
		args = append(args, user)
	}
	q += ` ORDER BY t.created_at, t.id`
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var ts []api.Token
	for rows.Next() {
		var tk api.Token
		if err := scanTokenInto(rows, &tk); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		ts = append(ts, tk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// GetToken returns one token by id.
func (s *Core) GetToken(ctx context.Context, id string) (api.Token, error) {
	var tk api.Token
	err := scanTokenInto(s.read.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens t WHERE t.id = ?`, id), &tk)
	if errors.Is(err, sql.ErrNoRows) {
		return api.Token{}, fmt.Errorf("token %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return api.Token{}, fmt.Errorf("get token %q: %w", id, err)
	}
	return tk, nil
}

// RevokeToken marks a token revoked at at (an earlier revocation time is
// kept).
func (s *Core) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, Nanos(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	n, err := Affected(res)
	if err != nil {
		return fmt.Errorf("revoke token %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("token %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// TouchToken records a use of the token at at. Uses less than a minute
// after the recorded one are not written (a read, no write lock).
func (s *Core) TouchToken(ctx context.Context, id string, at time.Time) error {
	var last sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT last_used_at FROM tokens WHERE id = ?`, id).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("token %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("touch token %q: %w", id, err)
	}
	cutoff := Nanos(at.Add(-touchInterval))
	if last.Valid && last.Int64 > cutoff {
		return nil
	}
	// The condition is repeated so that concurrent touches write once.
	if _, err := s.write.ExecContext(ctx, `UPDATE tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`, Nanos(at), id, cutoff); err != nil {
		return fmt.Errorf("touch token %q: %w", id, err)
	}
	return nil
}

// scanTokenInto scans tokenCols into tk, then any extra columns into extra.
func scanTokenInto(r rowScanner, tk *api.Token, extra ...any) error {
	var created int64
	var expires, revoked, used sql.NullInt64
	dest := append([]any{&tk.ID, &tk.User, &tk.Name, &created, &expires, &revoked, &used}, extra...)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	tk.CreatedAt = FromNanos(created)
	tk.ExpiresAt = FromNullNanos(expires)
	tk.RevokedAt = FromNullNanos(revoked)
	tk.LastUsedAt = FromNullNanos(used)
	return nil
}
