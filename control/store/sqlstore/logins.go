package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
)

// Web console sessions, app logins and app launch codes (migration
// logins): rows named by the SHA-256 of their secret.

const webSessionCols = `hash, user_name, token_id, token_hash, created_at, last_used_at, idle_expires_at, expires_at`

// CreateWebSession inserts a web session; ErrConflict on a taken key.
func (s *Core) CreateWebSession(ctx context.Context, ws store.WebSession) error {
	if len(ws.Key) == 0 || ws.User == "" {
		return fmt.Errorf("create web session: %w: empty key or user", store.ErrInvalid)
	}
	if ws.TokenHash == nil {
		ws.TokenHash = []byte{}
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO web_sessions (`+webSessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ws.Key, ws.User, ws.TokenID, ws.TokenHash, Nanos(ws.CreatedAt), Nanos(ws.LastUsedAt), Nanos(ws.IdleExpiresAt), NullNanos(ws.ExpiresAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create web session: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// GetWebSession returns a web session by its key (even if expired: the
// caller checks); ErrNotFound when there is none.
func (s *Core) GetWebSession(ctx context.Context, key []byte) (store.WebSession, error) {
	var (
		ws                             store.WebSession
		created, lastUsed, idleExpires int64
		expires                        sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, `SELECT `+webSessionCols+` FROM web_sessions WHERE hash = ?`, key).
		Scan(&ws.Key, &ws.User, &ws.TokenID, &ws.TokenHash, &created, &lastUsed, &idleExpires, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.WebSession{}, fmt.Errorf("web session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.WebSession{}, fmt.Errorf("get web session: %w", err)
	}
	if len(ws.TokenHash) == 0 {
		ws.TokenHash = nil
	}
	ws.CreatedAt, ws.LastUsedAt, ws.IdleExpiresAt = FromNanos(created), FromNanos(lastUsed), FromNanos(idleExpires)
	ws.ExpiresAt = FromNullNanos(expires)
	return ws, nil
}

// TouchWebSession moves a web session's last use and idle expiry forward
// (never back: another node may have written a later use).
func (s *Core) TouchWebSession(ctx context.Context, key []byte, at, idleExpiresAt time.Time) error {
	_, err := s.write.ExecContext(ctx, `UPDATE web_sessions SET last_used_at = `+s.d.Greatest+`(last_used_at, ?),
		idle_expires_at = `+s.d.Greatest+`(idle_expires_at, ?) WHERE hash = ?`, Nanos(at), Nanos(idleExpiresAt), key)
	if err != nil {
		return fmt.Errorf("touch web session: %w", err)
	}
	return nil
}

// DeleteWebSession deletes a web session and the app logins made from it,
// in one transaction.
func (s *Core) DeleteWebSession(ctx context.Context, key []byte) error {
	err := s.InTx(ctx, func(tx Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM app_logins WHERE web_session_key = ?`, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredWebSessions deletes the web sessions ended at now.
func (s *Core) DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error) {
	n := Nanos(now)
	res, err := s.write.ExecContext(ctx, `DELETE FROM web_sessions WHERE idle_expires_at <= ? OR expires_at <= ?`, n, n)
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return Affected(res)
}

const appLoginCols = `hash, app, web_session_key, user_name, created_at, expires_at`

// CreateAppLogin inserts an app login; ErrConflict on a taken key.
func (s *Core) CreateAppLogin(ctx context.Context, l store.AppLogin) error {
	if len(l.Key) == 0 || l.App == "" {
		return fmt.Errorf("create app login: %w: empty key or app", store.ErrInvalid)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO app_logins (`+appLoginCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		l.Key, l.App, nonNil(l.WebSessionKey), l.User, Nanos(l.CreatedAt), Nanos(l.ExpiresAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create app login: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create app login: %w", err)
	}
	return nil
}

// GetAppLogin returns an app login by its key (even if expired: the
// caller checks); ErrNotFound when there is none.
func (s *Core) GetAppLogin(ctx context.Context, key []byte) (store.AppLogin, error) {
	var (
		l                store.AppLogin
		created, expires int64
	)
	err := s.read.QueryRowContext(ctx, `SELECT `+appLoginCols+` FROM app_logins WHERE hash = ?`, key).
		Scan(&l.Key, &l.App, &l.WebSessionKey, &l.User, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AppLogin{}, fmt.Errorf("app login: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AppLogin{}, fmt.Errorf("get app login: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = FromNanos(created), FromNanos(expires)
	return l, nil
}

// DeleteAppLogin deletes an app login.
func (s *Core) DeleteAppLogin(ctx context.Context, key []byte) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM app_logins WHERE hash = ?`, key); err != nil {
		return fmt.Errorf("delete app login: %w", err)
	}
	return nil
}

const appCodeCols = `hash, app, state, web_session_key, user_name, expires_at`

// CreateAppCode inserts a launch code; ErrConflict on a taken hash.
func (s *Core) CreateAppCode(ctx context.Context, c store.AppCode) error {
	if len(c.Hash) == 0 || c.App == "" {
		return fmt.Errorf("create app code: %w: empty hash or app", store.ErrInvalid)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO app_codes (`+appCodeCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		c.Hash, c.App, c.State, nonNil(c.WebSessionKey), c.User, Nanos(c.ExpiresAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create app code: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create app code: %w", err)
	}
	return nil
}

// TakeAppCode deletes a launch code and returns it, in one DELETE ...
// RETURNING: of concurrent takers exactly one gets the row. An expired
// code is deleted and reported as ErrNotFound.
func (s *Core) TakeAppCode(ctx context.Context, hash []byte, now time.Time) (store.AppCode, error) {
	var (
		c       store.AppCode
		expires int64
	)
	err := s.write.QueryRowContext(ctx, `DELETE FROM app_codes WHERE hash = ? RETURNING `+appCodeCols, hash).
		Scan(&c.Hash, &c.App, &c.State, &c.WebSessionKey, &c.User, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AppCode{}, fmt.Errorf("app code: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AppCode{}, fmt.Errorf("take app code: %w", err)
	}
	c.ExpiresAt = FromNanos(expires)
	if !now.Before(c.ExpiresAt) {
		return store.AppCode{}, fmt.Errorf("app code expired: %w", store.ErrNotFound)
	}
	return c, nil
}

// DeleteExpiredAppLogins deletes the app logins and codes expired at now.
func (s *Core) DeleteExpiredAppLogins(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, table := range []string{"app_logins", "app_codes"} {
		res, err := s.write.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, Nanos(now))
		if err != nil {
			return total, fmt.Errorf("delete expired %s: %w", table, err)
		}
		n, err := Affected(res)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// nonNil returns b, or an empty slice for nil (the key columns are NOT
// NULL).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
