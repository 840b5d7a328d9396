package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Web console sessions: a person logs in once with an API token (or a
// user name and password) and gets a cookie naming a server-side session.
// The session is a row of the store named by the SHA-256 of the cookie
// value (the cookie itself is never stored), so every control node
// sharing the database accepts it and a restart keeps it. The row
// remembers the token's hash (or, for a password login, the user), so
// every request made with the cookie re-checks the token or the user:
// revoking or expiring the token, or removing the user, ends the web
// session at once on every node.
//
// Each node keeps the rows it read in a small cache for at most
// WebSessionCacheTTL, so that a request does not read its session's row
// every time: a logout on one node ends the session on the other nodes
// within that bound (at once on the node that logs out). Uses are written
// at most once per webTouchEvery per session and node, not per request.
// Expired rows are deleted by SweepWebSessions (RunWebSessionSweeper).
const (
	// CookieSession holds the web session id (HttpOnly, Secure,
	// SameSite=Strict).
	CookieSession = "onepam_session"
	// CookieCSRF holds the session's CSRF token; it is readable by the
	// page's script (not HttpOnly), which sends it back in HeaderCSRF.
	CookieCSRF = "onepam_csrf"
	// HeaderCSRF must carry the CSRF token on every state-changing request
	// (any method but GET, HEAD and OPTIONS) authenticated by the cookie.
	HeaderCSRF = "X-CSRF-Token"
	// WebIdleTimeout ends a web session not used for this long.
	WebIdleTimeout = 12 * time.Hour
	// WebSessionCacheTTL is how long a node trusts the copy of a web
	// session's row it read: a logout on another node ends the session
	// here within this bound.
	WebSessionCacheTTL = 5 * time.Second
	// webTouchEvery coalesces the writes of a web session's last use.
	webTouchEvery = time.Minute
	// maxCachedWebSessions bounds the cache; beyond, stale entries are
	// dropped (all of them when none is stale).
	maxCachedWebSessions = 100_000
	// csrfLabel separates the CSRF token's derivation from other hashes
	// of the session id.
	csrfLabel = "onepam web csrf\x00"
)

// WebSession is a logged-in browser.
type WebSession struct {
	ID string // the cookie value (32 random bytes, base64url); "" when resolved by Key
	// CSRF is the CSRF token: base64url of SHA-256(csrfLabel + ID), so any
	// node derives it from the cookie and it is never stored; knowing it
	// does not reveal the cookie.
	CSRF string
	// Key is the SHA-256 of ID: what the store keeps and what names the
	// session without its secret.
	Key       []byte
	Principal Principal // who logged in
	// ExpiresAt is when the session ends at the latest: the token's expiry
	// (zero for a token that never expires and for a password login).
	ExpiresAt time.Time
}

// WebSessionStore is the part of the store that web sessions need.
type WebSessionStore interface {
	CreateWebSession(ctx context.Context, ws store.WebSession) error
	GetWebSession(ctx context.Context, key []byte) (store.WebSession, error)
	TouchWebSession(ctx context.Context, key []byte, at, idleExpiresAt time.Time) error
	DeleteWebSession(ctx context.Context, key []byte) error
	DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error)
}

// webSessions is a Tokens' cache of web session rows.
type webSessions struct {
	mu sync.Mutex
	m  map[string]*cachedWebSession // string(key) → row
}

type cachedWebSession struct {
	row     store.WebSession
	fetched time.Time // when the row was read from the store
}

func randomString() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// csrfOf derives the CSRF token of web session id.
func csrfOf(id string) string {
	sum := sha256.Sum256([]byte(csrfLabel + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Login checks an API token and opens a web session for its principal.
func (t *Tokens) Login(ctx context.Context, secret string) (WebSession, error) {
	p, tok, err := t.authenticate(ctx, secret)
	if err != nil {
		return WebSession{}, err
	}
	return t.openWebSession(ctx, p, tok.ID, HashSecret(secret), tok.ExpiresAt)
}

// openWebSession stores a new web session of p and returns it with its
// secrets; tokenHash is nil for a password login.
func (t *Tokens) openWebSession(ctx context.Context, p Principal, tokenID string, tokenHash []byte, expires *time.Time) (WebSession, error) {
	id, err := randomString()
	if err != nil {
		return WebSession{}, err
	}
	now := t.clock().UTC()
	row := store.WebSession{Key: HashSecret(id), User: p.User, TokenID: tokenID, TokenHash: tokenHash,
		CreatedAt: now, LastUsedAt: now, IdleExpiresAt: now.Add(WebIdleTimeout), ExpiresAt: expires}
	if err := t.store.CreateWebSession(ctx, row); err != nil {
		return WebSession{}, fmt.Errorf("open web session: %w", err)
	}
	t.cacheWeb(row, now)
	ws := WebSession{ID: id, CSRF: csrfOf(id), Key: row.Key, Principal: p}
	if expires != nil {
		ws.ExpiresAt = *expires
	}
	return ws, nil
}

// Logout ends a web session on every node (here at once, elsewhere within
// WebSessionCacheTTL); an unknown id is not an error.
func (t *Tokens) Logout(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.endWebSession(ctx, HashSecret(id))
}

// endWebSession deletes a web session's row and cached copy.
func (t *Tokens) endWebSession(ctx context.Context, key []byte) {
	t.web.mu.Lock()
	delete(t.web.m, string(key))
	t.web.mu.Unlock()
	if err := t.store.DeleteWebSession(context.WithoutCancel(ctx), key); err != nil {
		t.logger.Error("end web session", "err", err)
	}
}

// WebSession resolves a session id (the cookie's value) to its session,
// re-checking the token it was opened with (expired, revoked, user
// removed) or, for a password login, the user. Failures are
// CodeUnauthenticated *api.Error.
func (t *Tokens) WebSession(ctx context.Context, id string) (WebSession, error) {
	ws, err := t.WebSessionByKey(ctx, HashSecret(id))
	if err != nil {
		return WebSession{}, err
	}
	ws.ID, ws.CSRF = id, csrfOf(id)
	return ws, nil
}

// WebSessionByKey resolves a web session by its Key, as WebSession does by
// its id; the result has no ID nor CSRF.
func (t *Tokens) WebSessionByKey(ctx context.Context, key []byte) (WebSession, error) {
	now := t.clock()
	row, err := t.webRow(ctx, key, now)
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, api.Errorf(api.CodeUnauthenticated, "web session expired or unknown: log in again")
	}
	if err != nil {
		return WebSession{}, fmt.Errorf("look up web session: %w", err)
	}
	if row.Expired(now) {
		t.endWebSession(ctx, key)
		return WebSession{}, api.Errorf(api.CodeUnauthenticated, "web session expired or unknown: log in again")
	}
	var p Principal
	if len(row.TokenHash) == 0 {
		p, err = t.passwordPrincipal(ctx, row.User)
	} else {
		p, _, err = t.authenticateHash(ctx, row.TokenHash)
	}
	if err != nil {
		if api.CodeOf(err) == api.CodeUnauthenticated {
			t.endWebSession(ctx, key)
		}
		return WebSession{}, err
	}
	t.touchWeb(ctx, key, row, now)
	ws := WebSession{Key: key, Principal: p}
	if row.ExpiresAt != nil {
		ws.ExpiresAt = *row.ExpiresAt
	}
	return ws, nil
}

// webRow returns a web session's row: the cached copy while it is younger
// than WebSessionCacheTTL, else the store's.
func (t *Tokens) webRow(ctx context.Context, key []byte, now time.Time) (store.WebSession, error) {
	t.web.mu.Lock()
	c := t.web.m[string(key)]
	if c != nil && now.Sub(c.fetched) < WebSessionCacheTTL && !now.Before(c.fetched) {
		row := c.row
		t.web.mu.Unlock()
		return row, nil
	}
	t.web.mu.Unlock()
	row, err := t.store.GetWebSession(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		t.web.mu.Lock()
		delete(t.web.m, string(key))
		t.web.mu.Unlock()
	}
	if err != nil {
		return store.WebSession{}, err
	}
	t.cacheWeb(row, now)
	return row, nil
}

// cacheWeb keeps row as read (or written) at now.
func (t *Tokens) cacheWeb(row store.WebSession, now time.Time) {
	t.web.mu.Lock()
	defer t.web.mu.Unlock()
	if t.web.m == nil {
		t.web.m = map[string]*cachedWebSession{}
	}
	if len(t.web.m) >= maxCachedWebSessions {
		t.pruneWebLocked(now)
		if len(t.web.m) >= maxCachedWebSessions {
			clear(t.web.m)
		}
	}
	t.web.m[string(row.Key)] = &cachedWebSession{row: row, fetched: now}
}

// pruneWebLocked drops the cached rows too old to be used.
func (t *Tokens) pruneWebLocked(now time.Time) {
	for k, c := range t.web.m {
		if now.Sub(c.fetched) >= WebSessionCacheTTL || now.Before(c.fetched) {
			delete(t.web.m, k)
		}
	}
}

// touchWeb records a use of the session at now when the last one written
// is webTouchEvery old or more.
func (t *Tokens) touchWeb(ctx context.Context, key []byte, row store.WebSession, now time.Time) {
	if now.Sub(row.LastUsedAt) < webTouchEvery {
		return
	}
	now = now.UTC()
	idle := now.Add(WebIdleTimeout)
	t.web.mu.Lock()
	if c := t.web.m[string(key)]; c != nil {
		c.row.LastUsedAt, c.row.IdleExpiresAt = now, idle
	}
	t.web.mu.Unlock()
	if err := t.store.TouchWebSession(ctx, key, now, idle); err != nil {
		t.logger.Warn("record web session use", "err", err)
	}
}

// SweepWebSessions deletes the web sessions expired at the clock's now
// (from the store, for every node) and drops this node's stale cached
// rows; it returns how many rows it deleted.
func (t *Tokens) SweepWebSessions(ctx context.Context) (int64, error) {
	now := t.clock()
	t.web.mu.Lock()
	t.pruneWebLocked(now)
	t.web.mu.Unlock()
	return t.store.DeleteExpiredWebSessions(ctx, now.UTC())
}

// RunWebSessionSweeper runs SweepWebSessions every interval until ctx
// ends.
func (t *Tokens) RunWebSessionSweeper(ctx context.Context, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			if n, err := t.SweepWebSessions(ctx); err != nil {
				if ctx.Err() == nil {
					t.logger.Warn("delete expired web sessions", "err", err)
				}
			} else if n > 0 {
				t.logger.Debug("deleted expired web sessions", "count", n)
			}
		}
	}
}

// CheckCSRF reports whether r, authenticated by the cookie of ws, may
// proceed: safe methods always, others only with HeaderCSRF equal to the
// session's CSRF token.
func CheckCSRF(r *http.Request, ws WebSession) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(HeaderCSRF)
	if got == "" || ws.CSRF == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ws.CSRF)) != 1 {
		return api.Errorf(api.CodeForbidden, "missing or wrong %s header: requests made with the console's cookie must send the CSRF token", HeaderCSRF)
	}
	return nil
}
