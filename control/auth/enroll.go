package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// DefaultEnrollTTL is the lifetime of an agent enrollment token when none
// is given.
const DefaultEnrollTTL = time.Hour

// EnrollStore is the part of the store that enrollment tokens need.
type EnrollStore interface {
	CreateEnrollToken(ctx context.Context, hash []byte, createdBy string, expiresAt time.Time) error
}

// CreateEnrollToken makes a one-time agent enrollment token of the form
// "<secret>.<CA pin hex>" (the pin without its "sha256:" prefix, so the
// agent can pin control on first contact). The secret is the base64url
// encoding of 32 random bytes; only its SHA-256 is stored. ttl <= 0 means
// DefaultEnrollTTL.
func CreateEnrollToken(ctx context.Context, s EnrollStore, caPin string, ttl time.Duration, actor string, now time.Time) (api.EnrollToken, error) {
	if ttl <= 0 {
		ttl = DefaultEnrollTTL
	}
	secret, hash, err := NewSecret("")
	if err != nil {
		return api.EnrollToken{}, err
	}
	exp := now.UTC().Add(ttl)
	if err := s.CreateEnrollToken(ctx, hash, actor, exp); err != nil {
		return api.EnrollToken{}, fmt.Errorf("store enrollment token: %w", err)
	}
	return api.EnrollToken{
		Token:     secret + "." + strings.TrimPrefix(caPin, "sha256:"),
		ExpiresAt: exp,
		CAPin:     caPin,
	}, nil
}
