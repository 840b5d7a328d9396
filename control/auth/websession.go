package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Web console sessions: a person logs in once with an API token and gets a
// cookie naming a server-side session (kept in memory: a control restart
// logs every browser out). The session remembers the token's hash, so every
// request made with the cookie re-checks the token: revoking or expiring
// the token ends the web session too.
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
	// maxWebSessions bounds the in-memory table; the least recently used
	// session is dropped beyond it.
	maxWebSessions = 100_000
)

// WebSession is a logged-in browser.
type WebSession struct {
	ID        string    // the cookie value (32 random bytes, base64url)
	CSRF      string    // the CSRF token (32 random bytes, base64url)
	Principal Principal // who logged in
	// ExpiresAt is when the session ends at the latest: the token's expiry
	// (zero for a token that never expires).
	ExpiresAt time.Time
	lastSeen  time.Time
	tokenHash []byte
	password  bool // opened by LoginPassword: tied to the user, not a token
}

// webSessions is the in-memory table of web sessions of a Tokens.
type webSessions struct {
	mu sync.Mutex
	m  map[string]*WebSession
}

func randomString() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Login checks an API token and opens a web session for its principal.
func (t *Tokens) Login(ctx context.Context, secret string) (WebSession, error) {
	p, tok, err := t.authenticate(ctx, secret)
	if err != nil {
		return WebSession{}, err
	}
	id, err := randomString()
	if err != nil {
		return WebSession{}, err
	}
	csrf, err := randomString()
	if err != nil {
		return WebSession{}, err
	}
	ws := &WebSession{ID: id, CSRF: csrf, Principal: p, lastSeen: t.clock(), tokenHash: HashSecret(secret)}
	if tok.ExpiresAt != nil {
		ws.ExpiresAt = *tok.ExpiresAt
	}
	t.web.mu.Lock()
	defer t.web.mu.Unlock()
	if t.web.m == nil {
		t.web.m = map[string]*WebSession{}
	}
	if len(t.web.m) >= maxWebSessions {
		t.evictLocked()
	}
	t.web.m[id] = ws
	return *ws, nil
}

// evictLocked drops expired sessions, and the least recently used one when
// none has expired.
func (t *Tokens) evictLocked() {
	now := t.clock()
	var oldest *WebSession
	for id, ws := range t.web.m {
		if ws.expired(now) {
			delete(t.web.m, id)
			continue
		}
		if oldest == nil || ws.lastSeen.Before(oldest.lastSeen) {
			oldest = ws
		}
	}
	if len(t.web.m) >= maxWebSessions && oldest != nil {
		delete(t.web.m, oldest.ID)
	}
}

func (ws *WebSession) expired(now time.Time) bool {
	return now.Sub(ws.lastSeen) >= WebIdleTimeout || (!ws.ExpiresAt.IsZero() && !now.Before(ws.ExpiresAt))
}

// Logout ends a web session; an unknown id is not an error.
func (t *Tokens) Logout(id string) {
	t.web.mu.Lock()
	defer t.web.mu.Unlock()
	delete(t.web.m, id)
}

// WebSession resolves a session id to its session, re-checking the token it
// was opened with (expired, revoked, user removed). Failures are
// CodeUnauthenticated *api.Error.
func (t *Tokens) WebSession(ctx context.Context, id string) (WebSession, error) {
	now := t.clock()
	t.web.mu.Lock()
	ws, ok := t.web.m[id]
	if ok && ws.expired(now) {
		delete(t.web.m, id)
		ok = false
	}
	var cp WebSession
	if ok {
		ws.lastSeen = now
		cp = *ws
	}
	t.web.mu.Unlock()
	if !ok {
		return WebSession{}, api.Errorf(api.CodeUnauthenticated, "web session expired or unknown: log in again")
	}
	var p Principal
	var err error
	if cp.password {
		p, err = t.passwordPrincipal(ctx, cp.Principal.User)
	} else {
		p, _, err = t.authenticateHash(ctx, cp.tokenHash)
	}
	if err != nil {
		t.Logout(id)
		return WebSession{}, err
	}
	cp.Principal = p
	return cp, nil
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
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ws.CSRF)) != 1 {
		return api.Errorf(api.CodeForbidden, "missing or wrong %s header: requests made with the console's cookie must send the CSRF token", HeaderCSRF)
	}
	return nil
}
