package apps_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// TestPublishedApp drives resource "web" through https://web.localhost:PORT
// with a real control server and agent: the login round trip through the
// console, the proxied requests (user header, form post, cookies,
// redirect, download, WebSocket) on one session, refused sign-in links,
// kill, logout and a user the policy does not allow.
func TestPublishedApp(t *testing.T) {
	e := startEnv(t, 0)
	b := e.browser(t)
	ctx := context.Background()

	t.Run("a navigation without login goes to the console's login page", func(t *testing.T) {
		r := b.get(e.app("web") + "/whoami?x=1")
		if r.status != http.StatusFound || !strings.HasPrefix(r.location, e.console()+"/login?") {
			t.Fatalf("got %d to %q", r.status, r.location)
		}
		sc := r.header.Get("Set-Cookie")
		for _, want := range []string{"onepam_app_state=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
			if !strings.Contains(sc, want) {
				t.Errorf("state cookie %q lacks %q", sc, want)
			}
		}
		if strings.Contains(strings.ToLower(sc), "domain=") {
			t.Errorf("state cookie %q is not host-only", sc)
		}
	})
	t.Run("a script's request without login gets 401", func(t *testing.T) {
		r := b.do(http.MethodGet, e.app("web")+"/whoami", nil, map[string]string{"Sec-Fetch-Mode": "cors"})
		if r.status != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" {
			t.Fatalf("got %d, Set-Cookie %q", r.status, r.header.Get("Set-Cookie"))
		}
	})
	t.Run("launch needs the console's login and its CSRF token", func(t *testing.T) {
		state := strings.Repeat("A", 43)
		if r := b.launch("web", state); r.status != http.StatusUnauthorized {
			t.Fatalf("launch without login: %d %s", r.status, r.body)
		}
		b.loginConsole(e.srv.FirstAdminToken())
		r := b.do(http.MethodPost, e.console()+"/v1/apps/web/launch", strings.NewReader(`{"state":"`+state+`"}`), map[string]string{"Content-Type": "application/json"})
		if r.status != http.StatusForbidden {
			t.Fatalf("launch without CSRF token: %d %s", r.status, r.body)
		}
		if r := b.launch("echo", state); r.status != http.StatusNotFound || !strings.Contains(r.body, "only http resources") {
			t.Fatalf("launch of a tcp resource: %d %s", r.status, r.body)
		}
		if r := b.launch("web", "short"); r.status != http.StatusBadRequest {
			t.Fatalf("launch with a bad state: %d %s", r.status, r.body)
		}
	})

	t.Run("an app host gets a certificate naming it (clients refuse *.localhost)", func(t *testing.T) {
		for host, want := range map[string]string{"web.localhost": "web.localhost", "localhost": "localhost"} {
			c, err := tls.Dial("tcp", e.srv.APIAddr().String(), &tls.Config{ServerName: host, RootCAs: e.pool})
			if err != nil {
				t.Fatalf("TLS to %s: %v", host, err)
			}
			names := c.ConnectionState().PeerCertificates[0].DNSNames
			c.Close()
			if !slices.Contains(names, want) || (host != "localhost" && len(names) != 1) {
				t.Fatalf("certificate for %s names %v", host, names)
			}
			if host == "localhost" && !slices.Contains(names, "*.localhost") {
				t.Fatalf("control's certificate lacks *.localhost: %v", names)
			}
		}
	})

	var first api.Session
	t.Run("login and the app's page", func(t *testing.T) {
		r := b.open("web", "/")
		if r.status != http.StatusOK || !strings.Contains(r.body, "Hello from the upstream") {
			t.Fatalf("GET /: %d %s", r.status, r.body)
		}
		ss := e.appSessions(t, api.StatusActive)
		if len(ss) != 1 || ss[0].User != "admin" || ss[0].Type != api.TypeHTTP {
			t.Fatalf("active sessions of web: %+v", ss)
		}
		first = ss[0]
	})
	t.Run("requests", func(t *testing.T) {
		if r := b.get(e.app("web") + "/whoami"); r.body != "admin" {
			t.Errorf("X-OnePAM-User seen upstream: %q", r.body)
		}
		if r := b.get(e.app("web") + "/cookies"); strings.Contains(r.body, "onepam_app") {
			t.Errorf("control's cookie went upstream: %q", r.body)
		}
		r := b.do(http.MethodPost, e.app("web")+"/form", strings.NewReader("message=hi+there"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != http.StatusOK || r.body != "got hi there" {
			t.Errorf("form post: %d %q", r.status, r.body)
		}
		if sc := r.header.Values("Set-Cookie"); len(sc) != 1 || !strings.HasPrefix(sc[0], "sid=from-upstream") {
			t.Errorf("Set-Cookie passed on: %q (the upstream's onepam_app must be dropped)", sc)
		}
		if r := b.get(e.app("web") + "/cookies"); !strings.Contains(r.body, "sid=from-upstream") {
			t.Errorf("the upstream's cookie did not come back: %q", r.body)
		}
		if r := b.get(e.app("web") + "/go"); r.status != http.StatusFound || r.location != "/whoami" {
			t.Errorf("redirect: %d %q", r.status, r.location)
		}
		if r := b.get(e.app("web") + "/download"); r.status != http.StatusOK || len(r.body) != 8<<20 {
			t.Errorf("download: %d, %d bytes", r.status, len(r.body))
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		// A browser's WebSocket carries its Origin; the upstream (coder/websocket)
		// checks it against the Host it sees.
		wsURL := strings.Replace(e.app("web"), "https", "wss", 1) + "/ws"
		_, resp, err := websocket.Dial(wctx, wsURL, &websocket.DialOptions{HTTPClient: b.hc, HTTPHeader: http.Header{"Origin": {"https://evil.localhost:" + e.port}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-origin WebSocket: %v %+v", err, resp)
		}
		ws, _, err := websocket.Dial(wctx, wsURL, &websocket.DialOptions{HTTPClient: b.hc, HTTPHeader: http.Header{"Origin": {e.app("web")}}})
		if err != nil {
			t.Fatalf("WebSocket: %v", err)
		}
		defer ws.CloseNow()
		if err := ws.Write(wctx, websocket.MessageText, []byte("ping through the app")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := ws.Read(wctx); err != nil || string(msg) != "ping through the app" {
			t.Fatalf("WebSocket echo: %q %v", msg, err)
		}
		ws.Close(websocket.StatusNormalClosure, "")
		if ss := e.appSessions(t, api.StatusActive); len(ss) != 1 || ss[0].ID != first.ID {
			t.Fatalf("every request must ride the first session %s: %+v", first.ID, ss)
		}
	})
	t.Run("sign-in links that are not this browser's are refused", func(t *testing.T) {
		other := e.browser(t)
		other.loginConsole(e.srv.FirstAdminToken())
		r := other.get(e.app("web") + "/")
		loc, _ := url.Parse(r.location)
		// b launches with its own state; other follows b's link.
		bState := strings.Repeat("B", 43)
		l := b.launch("web", bState)
		var code string
		if i := strings.Index(l.body, "code="); i >= 0 {
			code = l.body[i+5 : i+5+43]
		}
		if cb := other.get(e.app("web") + "/_onepam/callback?code=" + code); cb.status != http.StatusBadRequest || !strings.Contains(cb.body, "does not match") {
			t.Fatalf("another browser's code: %d %s", cb.status, cb.body)
		}
		// The code was spent by that attempt.
		l2 := other.launch("web", loc.Query().Get("state"))
		code2 := l2.body[strings.Index(l2.body, "code=")+5:][:43]
		if cb := other.get(e.app("web") + "/_onepam/callback?code=" + code2); cb.status != http.StatusSeeOther {
			t.Fatalf("own code: %d %s", cb.status, cb.body)
		}
		if cb := other.get(e.app("web") + "/_onepam/callback?code=" + code2); cb.status != http.StatusBadRequest {
			t.Fatalf("code used twice: %d %s", cb.status, cb.body)
		}
	})
	t.Run("kill ends the session and the app login", func(t *testing.T) {
		if _, err := e.admin.KillSession(ctx, first.ID, "test kill"); err != nil {
			t.Fatal(err)
		}
		r := b.get(e.app("web") + "/whoami")
		if r.status != http.StatusGone || !strings.Contains(r.body, "Session terminated") || !strings.Contains(r.body, "test kill") {
			t.Fatalf("after kill: %d %s", r.status, r.body)
		}
		if r := b.get(e.app("web") + "/whoami"); r.status != http.StatusFound {
			t.Fatalf("after the terminated page: %d, want a new login", r.status)
		}
		r = b.open("web", "/whoami")
		if r.status != http.StatusOK || r.body != "admin" {
			t.Fatalf("after a new login: %d %s", r.status, r.body)
		}
		ss := e.appSessions(t, api.StatusActive)
		if len(ss) != 1 || ss[0].ID == first.ID {
			t.Fatalf("a new login must start a new session: %+v", ss)
		}
		if s, _ := e.admin.GetSession(ctx, first.ID); s.Status != api.StatusTerminated {
			t.Fatalf("killed session: %s", s.Status)
		}
	})
	t.Run("logout completes the session", func(t *testing.T) {
		ss := e.appSessions(t, api.StatusActive)
		if r := b.get(e.app("web") + "/_onepam/logout"); r.status != http.StatusOK || !strings.Contains(r.body, `method="post"`) {
			t.Fatalf("GET logout: %d %s", r.status, r.body)
		}
		if r := b.do(http.MethodPost, e.app("web")+"/_onepam/logout", nil, nil); r.status != http.StatusOK || !strings.Contains(r.body, "logged out") {
			t.Fatalf("POST logout: %d %s", r.status, r.body)
		}
		waitFor(t, 10*time.Second, "the session completed", func() bool {
			s, err := e.admin.GetSession(ctx, ss[0].ID)
			return err == nil && s.Status == api.StatusCompleted
		})
		if r := b.get(e.app("web") + "/"); r.status != http.StatusFound {
			t.Fatalf("after logout: %d", r.status)
		}
	})
	t.Run("a user without policy gets a 403 page and an audit event", func(t *testing.T) {
		u, err := e.admin.CreateUser(ctx, api.CreateUserRequest{Name: "bob", Role: api.RoleUser, TokenTTLSeconds: 3600})
		if err != nil {
			t.Fatal(err)
		}
		bob := e.browser(t)
		bob.loginConsole(u.Token.Secret)
		r := bob.open("web", "/")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "Access denied") || !strings.Contains(r.body, `policy denies user &#34;bob&#34;`) {
			t.Fatalf("bob: %d %s", r.status, r.body)
		}
		ev, err := e.admin.ListAudit(ctx, client.AuditQuery{Actor: "bob", Action: "session.denied"})
		if err != nil || len(ev) == 0 || ev[0].Target != "web" || ev[0].Outcome != api.OutcomeDenied {
			t.Fatalf("audit of bob's denial: %+v %v", ev, err)
		}
		if ss, _ := e.admin.ListSessions(ctx, client.SessionQuery{User: "bob"}); len(ss.Sessions) != 0 {
			t.Fatalf("a denied request made sessions: %+v", ss.Sessions)
		}
	})
	t.Run("logging out of the console ends the app login", func(t *testing.T) {
		if r := b.open("web", "/whoami"); r.body != "admin" {
			t.Fatalf("login again: %d %s", r.status, r.body)
		}
		r := b.do(http.MethodPost, e.console()+"/web/logout", nil, map[string]string{"X-CSRF-Token": b.cookie("localhost", "onepam_csrf")})
		if r.status != http.StatusNoContent {
			t.Fatalf("console logout: %d %s", r.status, r.body)
		}
		if r := b.get(e.app("web") + "/whoami"); r.status != http.StatusFound {
			t.Fatalf("app after the console's logout: %d %s", r.status, r.body)
		}
	})
}

// TestIdleTimeout: an app session without requests completes after the
// idle timeout; the next request starts a new session on the same login.
func TestIdleTimeout(t *testing.T) {
	e := startEnv(t, 300*time.Millisecond)
	b := e.browser(t)
	b.loginConsole(e.srv.FirstAdminToken())
	if r := b.open("web", "/whoami"); r.body != "admin" {
		t.Fatalf("open: %d %s", r.status, r.body)
	}
	ss := e.appSessions(t, api.StatusActive)
	if len(ss) != 1 {
		t.Fatalf("sessions: %+v", ss)
	}
	waitFor(t, 15*time.Second, "the idle session completed", func() bool {
		s, err := e.admin.GetSession(context.Background(), ss[0].ID)
		return err == nil && s.Status == api.StatusCompleted
	})
	if r := b.get(e.app("web") + "/whoami"); r.status != http.StatusOK || r.body != "admin" {
		t.Fatalf("after idle: %d %s", r.status, r.body)
	}
	if now := e.appSessions(t, api.StatusActive); len(now) != 1 || now[0].ID == ss[0].ID {
		t.Fatalf("after idle a new session must start: %+v", now)
	}
}
