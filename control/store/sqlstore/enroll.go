package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
)

// CreateEnrollToken stores a one-time agent enrollment token by its hash.
func (s *Core) CreateEnrollToken(ctx context.Context, hash []byte, createdBy string, expiresAt time.Time) error {
	if len(hash) == 0 {
		return fmt.Errorf("create enrollment token: %w: empty hash", store.ErrInvalid)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO enroll_tokens (hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash, createdBy, Nanos(s.now()), Nanos(expiresAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create enrollment token: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create enrollment token: %w", err)
	}
	return nil
}

// ConsumeEnrollToken marks the token used if it is unused and unexpired at
// now, in one conditional UPDATE: of concurrent consumers exactly one wins.
// ErrTokenUsed otherwise (unknown, expired or already used).
func (s *Core) ConsumeEnrollToken(ctx context.Context, hash []byte, now time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE enroll_tokens SET used_at = ?
		WHERE hash = ? AND used_at IS NULL AND expires_at > ?`, Nanos(now), hash, Nanos(now))
	if err != nil {
		return fmt.Errorf("consume enrollment token: %w", err)
	}
	n, err := Affected(res)
	if err != nil {
		return fmt.Errorf("consume enrollment token: %w", err)
	}
	if n != 1 {
		return store.ErrTokenUsed
	}
	return nil
}
