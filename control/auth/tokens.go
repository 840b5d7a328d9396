package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// TokenPrefix starts every API token.
const TokenPrefix = "opt_"

// DefaultTokenTTL is the lifetime of a created token when none is given.
const DefaultTokenTTL = 30 * 24 * time.Hour

// touchEvery coalesces last-used writes: a token's use is written at most
// once per interval.
const touchEvery = time.Minute

// TokenStore is the part of the store that tokens need.
type TokenStore interface {
	CreateToken(ctx context.Context, t api.Token, hash []byte) error
	TokenByHash(ctx context.Context, hash []byte) (api.Token, api.User, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
	WebSessionStore
}

// Tokens creates and checks API tokens.
type Tokens struct {
	store  TokenStore
	clock  func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	touched map[string]time.Time // token id → last written use

	web webSessions // cached web session rows (websession.go)
}

// NewTokens returns a token service. clock and logger may be nil.
func NewTokens(s TokenStore, clock func() time.Time, logger *slog.Logger) *Tokens {
	if clock == nil {
		clock = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tokens{store: s, clock: clock, logger: logger, touched: map[string]time.Time{}}
}

// NewSecret returns a fresh token secret and the SHA-256 hash to store.
func NewSecret(prefix string) (secret string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("random token: %w", err)
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashSecret(secret), nil
}

// HashSecret returns the stored form of a secret: its SHA-256.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Create makes a token for user. ttl 0 means DefaultTokenTTL, a negative
// ttl a token that never expires.
func (t *Tokens) Create(ctx context.Context, user string, ttl time.Duration, name string) (api.CreatedToken, error) {
	secret, hash, err := NewSecret(TokenPrefix)
	if err != nil {
		return api.CreatedToken{}, err
	}
	now := t.clock().UTC()
	tok := api.Token{ID: store.NewID(), User: user, Name: name, CreatedAt: now}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl > 0 {
		exp := now.Add(ttl)
		tok.ExpiresAt = &exp
	}
	if err := t.store.CreateToken(ctx, tok, hash); err != nil {
		return api.CreatedToken{}, fmt.Errorf("create token for %q: %w", user, err)
	}
	return api.CreatedToken{Token: tok, Secret: secret}, nil
}

// Authenticate resolves a bearer token to its principal. Failures are
// *api.Error with CodeUnauthenticated and a message saying what to do.
func (t *Tokens) Authenticate(ctx context.Context, secret string) (Principal, error) {
	p, _, err := t.authenticate(ctx, secret)
	return p, err
}

func (t *Tokens) authenticate(ctx context.Context, secret string) (Principal, api.Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, api.Token{}, api.Errorf(api.CodeUnauthenticated, "malformed token (API tokens start with %q): run onepam login --control URL --token TOKEN", TokenPrefix)
	}
	return t.authenticateHash(ctx, HashSecret(secret))
}

// authenticateHash resolves a token by the hash of its secret.
func (t *Tokens) authenticateHash(ctx context.Context, hash []byte) (Principal, api.Token, error) {
	tok, user, err := t.store.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, api.Token{}, api.Errorf(api.CodeUnauthenticated, "unknown token: ask an admin for a token (onepam tokens create), then run onepam login")
	}
	if err != nil {
		return Principal{}, api.Token{}, fmt.Errorf("look up token: %w", err)
	}
	now := t.clock()
	if tok.RevokedAt != nil {
		return Principal{}, api.Token{}, api.Errorf(api.CodeUnauthenticated, "token revoked: create a new one with onepam tokens create, then onepam login")
	}
	if tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt) {
		return Principal{}, api.Token{}, api.Errorf(api.CodeUnauthenticated, "token expired: create a new one with onepam tokens create, then onepam login")
	}
	t.touch(ctx, tok.ID, now)
	return Principal{User: user.Name, Role: user.Role, TokenID: tok.ID}, tok, nil
}

func (t *Tokens) touch(ctx context.Context, id string, now time.Time) {
	t.mu.Lock()
	last, ok := t.touched[id]
	if ok && now.Sub(last) < touchEvery {
		t.mu.Unlock()
		return
	}
	t.touched[id] = now
	t.mu.Unlock()
	if err := t.store.TouchToken(ctx, id, now.UTC()); err != nil {
		t.logger.Warn("record token use", "token_id", id, "err", err)
	}
}
