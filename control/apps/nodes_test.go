package apps

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// testClock is a clock the test moves (read by the apps' sweepers too).
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// noSessions fails the test if a session is asked for: the app of these
// tests has no policy rule, so a logged-in request ends at the policy.
type noSessions struct{ t *testing.T }

func (n noSessions) Create(context.Context, auth.Principal, api.CreateSessionRequest, string) (api.Session, error) {
	n.t.Error("a session was created")
	return api.Session{}, api.Errorf(api.CodeUnavailable, "no sessions in this test")
}

func (n noSessions) Attach(context.Context, auth.Principal, string, string, string) (*sessions.Attachment, error) {
	n.t.Error("a session was attached")
	return nil, api.Errorf(api.CodeUnavailable, "no sessions in this test")
}

// node is one control node's apps and console logins on the shared store.
type node struct {
	t      *testing.T
	tokens *auth.Tokens
	apps   *Apps
	h      http.Handler
}

func newNode(t *testing.T, st *sqlite.Store, clock *testClock) *node {
	t.Helper()
	tokens := auth.NewTokens(st, clock.now, nil)
	a, err := New(Config{Sessions: noSessions{t}, Store: st, Auth: tokens, Clock: clock.now, IdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &node{t: t, tokens: tokens, apps: a, h: a.Wrap(http.NotFoundHandler())}
}

func (n *node) do(method, host, path string, body []byte, cookies map[string]string, hdr map[string]string) *httptest.ResponseRecorder {
	n.t.Helper()
	req := httptest.NewRequest(method, "https://"+host+path, bytes.NewReader(body))
	for k, v := range cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	n.h.ServeHTTP(rec, req)
	return rec
}

// launch asks n for a launch code of app web with the console session ws
// and state, and returns the code.
func (n *node) launch(ws auth.WebSession, state string) string {
	n.t.Helper()
	body, _ := json.Marshal(LaunchRequest{State: state})
	rec := n.do("POST", "localhost", "/v1/apps/web/launch", body, map[string]string{auth.CookieSession: ws.ID}, map[string]string{auth.HeaderCSRF: ws.CSRF})
	if rec.Code != http.StatusOK {
		n.t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	var lr LaunchResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &lr); err != nil {
		n.t.Fatal(err)
	}
	u, err := url.Parse(lr.URL)
	if err != nil {
		n.t.Fatal(err)
	}
	return u.Query().Get("code")
}

// callback exchanges code on n for a browser whose state cookie holds
// state, and returns the status and the app cookie set ("" for none).
func (n *node) callback(code, state string) (int, string) {
	n.t.Helper()
	sc := state + "." + base64.RawURLEncoding.EncodeToString([]byte("/"))
	rec := n.do("GET", "web.localhost", callbackPath+"?code="+url.QueryEscape(code), nil, map[string]string{DefaultCookieName + "_state": sc}, nil)
	for _, c := range rec.Result().Cookies() {
		if c.Name == DefaultCookieName && c.MaxAge >= 0 {
			return rec.Code, c.Value
		}
	}
	return rec.Code, ""
}

// open is a browser's navigation to the app with its app cookie: 403
// (the policy has no rule for it) when the login is accepted, 302 to the
// console's login page when not.
func (n *node) open(appCookie string) int {
	n.t.Helper()
	return n.do("GET", "web.localhost", "/", nil, map[string]string{DefaultCookieName: appCookie}, map[string]string{"Sec-Fetch-Mode": "navigate"}).Code
}

// TestLoginsAcrossNodes runs the apps of several control nodes on one
// store: a launch code issued by one node is exchanged on another, once;
// the app login is accepted by every node and after a restart; a logout
// on one node, or of the console, ends it on the others within the cache
// bounds.
func TestLoginsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := newTestClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	if err := st.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: clock.now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAgent(ctx, store.AgentRecord{ID: "agent-1", Name: "agent", EnrolledAt: clock.now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAgentResources(ctx, "agent-1", []api.Resource{{Name: "web", Type: api.TypeHTTP, Address: "127.0.0.1:9"}}); err != nil {
		t.Fatal(err)
	}
	a, b := newNode(t, st, clock), newNode(t, st, clock)
	tok, err := a.tokens.Create(ctx, "alice", -1, "")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := a.tokens.Login(ctx, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	state, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	// Log in to the app: the code issued by A, exchanged on B.
	login := func(t *testing.T) string {
		t.Helper()
		code := a.launch(ws, state)
		status, cookie := b.callback(code, state)
		if status != http.StatusSeeOther || cookie == "" {
			t.Fatalf("callback on B of A's code: %d, cookie %q", status, cookie)
		}
		return cookie
	}

	t.Run("a code is used once, whatever the node", func(t *testing.T) {
		code := a.launch(ws, state)
		if status, cookie := b.callback(code, state); status != http.StatusSeeOther || cookie == "" {
			t.Fatalf("first exchange on B: %d, cookie %q", status, cookie)
		}
		for name, n := range map[string]*node{"A": a, "B": b} {
			if status, cookie := n.callback(code, state); status != http.StatusBadRequest || cookie != "" {
				t.Fatalf("second exchange on %s: %d, cookie %q; want 400 and no cookie", name, status, cookie)
			}
		}
	})

	t.Run("an expired code is refused", func(t *testing.T) {
		code := a.launch(ws, state)
		clock.add(codeTTL)
		if status, _ := b.callback(code, state); status != http.StatusBadRequest {
			t.Fatalf("exchange after %v: %d, want 400", codeTTL, status)
		}
	})

	t.Run("the login is accepted by every node and after a restart", func(t *testing.T) {
		cookie := login(t)
		for name, n := range map[string]*node{"A": a, "B": b, "restarted": newNode(t, st, clock)} {
			if got := n.open(cookie); got != http.StatusForbidden {
				t.Fatalf("node %s: %d, want 403 (logged in, no policy rule)", name, got)
			}
		}
		if got := a.open("not-a-login"); got != http.StatusFound {
			t.Fatalf("unknown cookie: %d, want 302 to the login page", got)
		}
		row, err := st.GetAppLogin(ctx, auth.HashSecret(cookie))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(row.Key, []byte(cookie)) || !bytes.Equal(row.WebSessionKey, ws.Key) || row.User != "alice" || row.App != "web" {
			t.Fatalf("stored login %+v", row)
		}
	})

	t.Run("a logout on one node ends the login on the other within the cache bound", func(t *testing.T) {
		cookie := login(t)
		if got := b.open(cookie); got != http.StatusForbidden { // B caches the login
			t.Fatalf("node B before the logout: %d", got)
		}
		if rec := a.do("POST", "web.localhost", logoutPath, nil, map[string]string{DefaultCookieName: cookie}, nil); rec.Code != http.StatusOK {
			t.Fatalf("logout on A: %d %s", rec.Code, rec.Body)
		}
		if got := a.open(cookie); got != http.StatusFound {
			t.Fatalf("node A after its logout: %d, want 302", got)
		}
		clock.add(loginCacheTTL)
		if got := b.open(cookie); got != http.StatusFound {
			t.Fatalf("node B %v after the logout: %d, want 302", loginCacheTTL, got)
		}
	})

	t.Run("logging out of the console ends the app login on every node", func(t *testing.T) {
		ws2, err := b.tokens.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		code := b.launch(ws2, state)
		status, cookie := a.callback(code, state)
		if status != http.StatusSeeOther {
			t.Fatalf("callback: %d", status)
		}
		if got := b.open(cookie); got != http.StatusForbidden {
			t.Fatalf("node B before the console logout: %d", got)
		}
		a.tokens.Logout(ws2.ID)
		clock.add(max(loginCacheTTL, auth.WebSessionCacheTTL))
		for name, n := range map[string]*node{"A": a, "B": b} {
			if got := n.open(cookie); got != http.StatusFound {
				t.Fatalf("node %s after the console logout: %d, want 302", name, got)
			}
		}
	})

	t.Run("the sweep deletes expired logins and codes", func(t *testing.T) {
		cookie := login(t)
		code := a.launch(ws, state)
		clock.add(DefaultLoginTTL)
		b.apps.sweep()
		if _, err := st.GetAppLogin(ctx, auth.HashSecret(cookie)); err == nil {
			t.Fatal("an expired login is still stored after the sweep")
		}
		if _, err := st.TakeAppCode(ctx, auth.HashSecret(code), time.Time{}); err == nil {
			t.Fatal("an expired code is still stored after the sweep")
		}
		if got := a.open(cookie); got != http.StatusFound {
			t.Fatalf("an expired login: %d, want 302", got)
		}
	})
}
