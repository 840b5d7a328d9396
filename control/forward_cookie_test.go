package control

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/web"
	"github.com/onepam/onepam/pkg/api"
)

// consoleRequest sends a request to r's API as the web console does: the
// session cookie, and csrf in X-CSRF-Token when not empty.
func consoleRequest(t *testing.T, r *running, method, path, cookie, csrf string, body any) (int, []byte) {
	t.Helper()
	res, out := apiRequest(t, r, method, path, body, func(req *http.Request) {
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: auth.CookieSession, Value: cookie})
		}
		if csrf != "" {
			req.Header.Set(auth.HeaderCSRF, csrf)
		}
	})
	if res.Request.URL.Path == "/web/login" {
		for _, c := range res.Cookies() {
			if c.Name == auth.CookieSession {
				return res.StatusCode, []byte(c.Value + " " + string(out))
			}
		}
	}
	return res.StatusCode, out
}

// consoleLogin logs in to r's console with token and returns the session
// cookie and the CSRF token.
func consoleLogin(t *testing.T, r *running, token string) (cookie, csrf string) {
	t.Helper()
	status, out := consoleRequest(t, r, http.MethodPost, "/web/login", "", "", map[string]string{"token": token})
	cookie, body, _ := strings.Cut(string(out), " ")
	var lr web.LoginResponse
	if status != http.StatusOK || json.Unmarshal([]byte(body), &lr) != nil || lr.CSRFToken == "" {
		t.Fatalf("console login: %d %s", status, out)
	}
	return cookie, lr.CSRFToken
}

// TestForwardingConsoleLogin: the web console's login is kept in the
// database, so a request made with its cookie is forwarded like one made
// with a token, and the node that serves it checks the cookie and the
// CSRF token itself. The cookie is made on B, used through B for a
// session A carries, and also used directly on A.
func TestForwardingConsoleLogin(t *testing.T) {
	ctx := context.Background()
	fc := startForwardCluster(t)
	a, b, token := fc.a, fc.b, fc.token
	viaB := b.client(t, token)
	cookie, csrf := consoleLogin(t, b, token)

	t.Run("the cookie made on B is accepted by A", func(t *testing.T) {
		status, body := consoleRequest(t, a, http.MethodGet, "/v1/sessions", cookie, "", nil)
		if status != http.StatusOK {
			t.Fatalf("list sessions on A with B's cookie: %d %s", status, body)
		}
	})

	t.Run("a kill with the cookie through B is forwarded to A", func(t *testing.T) {
		s, events, closeEvents := activeEcho(ctx, t, viaB)
		defer closeEvents()
		status, body := consoleRequest(t, b, http.MethodPost, "/v1/sessions/"+s.ID+"/kill", cookie, "", map[string]string{"reason": "no csrf"})
		if status != http.StatusForbidden || !strings.Contains(string(body), auth.HeaderCSRF) {
			t.Fatalf("kill without the CSRF token: %d %s, want 403", status, body)
		}
		status, body = consoleRequest(t, b, http.MethodPost, "/v1/sessions/"+s.ID+"/kill", cookie, csrf, map[string]string{"reason": "from the console on B"})
		var killed api.Session
		if status != http.StatusOK || json.Unmarshal(body, &killed) != nil || killed.Status != api.StatusTerminated {
			t.Fatalf("kill with the cookie through B: %d %s", status, body)
		}
		// A ended the session itself (its sweep waits an hour): the
		// request was forwarded and passed A's cookie and CSRF checks.
		if ev := readEvent(t, events); ev.Status != api.StatusTerminated || !strings.Contains(ev.Message, "from the console on B") {
			t.Fatalf("event on A after the kill through B: %+v", ev)
		}
	})
}
