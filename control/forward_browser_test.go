package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/agent"
	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/control/apps"
	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/consoles"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/devapp"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/clocktest"
)

// browserCluster is three control nodes sharing a CA on one PostgreSQL
// database: A holds the agent (an SSH resource "shell" on the agent's
// built-in target and a published app "web"), B forwards to A (from
// 127.0.0.2), C cannot reach A.
type browserCluster struct {
	a, b, c *running
	token   string
}

func startBrowserCluster(t *testing.T) browserCluster {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	clk := clocktest.New(time.Now().UTC())
	a := runClusterNode(t, Config{Store: db, NodeName: "control-a", PublicNames: []string{"control-a"}, NodeSweep: time.Hour}, clk)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	shell, err := agent.ParseResourceURL("shell", "ssh://"+u.Username+"@builtin")
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(browserUpstream())
	t.Cleanup(up.Close)
	web, err := agent.ParseResourceURL("web", up.URL)
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a, shell, web)
	b := runClusterNode(t, Config{DataDir: shareCA(t, a.cfg.DataDir), Store: db, NodeName: "control-b", ForwardDial: loopbackDialer("127.0.0.2")}, clk)
	unreachable := func(context.Context, string, string) (net.Conn, error) {
		return nil, fmt.Errorf("test: no route to control-a")
	}
	c := runClusterNode(t, Config{DataDir: shareCA(t, a.cfg.DataDir), Store: db, NodeName: "control-c", ForwardDial: unreachable}, clk)
	token := a.FirstAdminToken()
	viaB, viaC := b.client(t, token), c.client(t, token)
	waitFor(t, "A's agent listed online on B and C", func() (bool, bool) {
		lb, errB := findListing(ctx, viaB, "a1", "web")
		lc, errC := findListing(ctx, viaC, "a1", "shell")
		return true, errB == nil && errC == nil && lb.agent.Online && lb.agent.NodeID == a.NodeID() && lc.agent.NodeID == a.NodeID()
	})
	return browserCluster{a: a, b: b, c: c, token: token}
}

// browserUpstream is the app behind resource "web": a page naming the
// path asked, and a WebSocket echo.
func browserUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", devapp.WebSocketEcho(32768))
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>upstream</title><h1>Hello from the upstream at %s</h1>", r.URL.Path)
	})
	return mux
}

// pool is the CA pool of r (the nodes share it).
func pool(r *running) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(r.CACertPEM())
	return p
}

// dialConsole opens a console WebSocket on r as the web console does:
// the session cookie, ?csrf= and the Origin of the page (r's own),
// plus extra headers.
func dialConsole(t *testing.T, r *running, path, cookie, csrf string, extra map[string]string) (*websocket.Conn, error) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool(r)}}}
	t.Cleanup(hc.CloseIdleConnections)
	h := http.Header{
		"Cookie": {(&http.Cookie{Name: auth.CookieSession, Value: cookie}).String()},
		"Origin": {"https://" + r.APIAddr().String()},
	}
	for k, v := range extra {
		h.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+r.APIAddr().String()+path+"&csrf="+url.QueryEscape(csrf),
		&websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
	return ws, err
}

// readTerminal reads the terminal's output until it holds want.
func readTerminal(t *testing.T, ws *websocket.Conn, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	for !strings.Contains(out.String(), want) {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read the terminal waiting for %q: %v; output %q", want, err, out.String())
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("terminal message %s while waiting for %q; output %q", b, want, out.String())
		}
		out.Write(b)
	}
	return out.String()
}

// wantConsoleClosed reads a console WebSocket that must be closed with
// the error message and close code 4000 + the HTTP status of code, the
// message holding each of contains.
func wantConsoleClosed(t *testing.T, ws *websocket.Conn, code api.ErrorCode, contains ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	var m consoles.TerminalMessage
	if err != nil || typ != websocket.MessageText || json.Unmarshal(b, &m) != nil || m.Type != "error" {
		t.Fatalf("first message %s %q, %v: want an error message", typ, b, err)
	}
	for _, c := range contains {
		if !strings.Contains(m.Message, c) {
			t.Fatalf("error message %q does not say %q", m.Message, c)
		}
	}
	_, _, err = ws.Read(ctx)
	if got, want := websocket.CloseStatus(err), websocket.StatusCode(4000+code.HTTPStatus()); got != want {
		t.Fatalf("closed with %d (%v), want %d", got, err, want)
	}
}

// TestForwardingConsoles: a web terminal opened on B, with the console's
// cookie and CSRF token, for a session of a resource whose agent is
// attached to A runs on A (B forwards the WebSocket upgrade, and the
// file download of the same terminal); a forwarded request is not
// forwarded again, and C, which cannot reach A, closes the WebSocket
// with other_node and the reason.
func TestForwardingConsoles(t *testing.T) {
	ctx := context.Background()
	cl := startBrowserCluster(t)
	a, b, c := cl.a, cl.b, cl.c
	viaB := b.client(t, cl.token)
	cookie, csrf := consoleLogin(t, b, cl.token)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	newShell := func(t *testing.T) api.Session {
		t.Helper()
		status, body := consoleRequest(t, b, http.MethodPost, "/v1/sessions", cookie, csrf, api.CreateSessionRequest{Resource: "shell", Login: u.Username})
		var s api.Session
		if status != http.StatusCreated || json.Unmarshal(body, &s) != nil {
			t.Fatalf("create a shell session through B: %d %s", status, body)
		}
		if s.NodeID != a.NodeID() {
			t.Fatalf("session created through B on node %q, want A's %q", s.NodeID, a.NodeID())
		}
		return s
	}

	t.Run("a terminal opened on B runs on A", func(t *testing.T) {
		s := newShell(t)
		ws, err := dialConsole(t, b, "/v1/sessions/"+s.ID+"/terminal?cols=100&rows=30", cookie, csrf, nil)
		if err != nil {
			t.Fatalf("terminal WebSocket on B: %v", err)
		}
		defer ws.CloseNow()
		if err := ws.Write(ctx, websocket.MessageBinary, []byte("echo forwarded-$((6*7))\r")); err != nil {
			t.Fatal(err)
		}
		readTerminal(t, ws, "forwarded-42")
		active, err := viaB.GetSession(ctx, s.ID)
		if err != nil || active.Status != api.StatusActive || active.NodeID != a.NodeID() || active.ClientIP != "127.0.0.1" {
			t.Fatalf("session while the terminal runs: %+v, %v: want active on A (%s) from the person's 127.0.0.1", active, err, a.NodeID())
		}
		// The terminal's SSH connection is on A: so is its file route.
		f := filepath.Join(t.TempDir(), "through-b.txt")
		if err := os.WriteFile(f, []byte("read over the terminal's SFTP on A\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		status, body := consoleRequest(t, b, http.MethodGet, "/v1/sessions/"+s.ID+"/terminal/files?path="+url.QueryEscape(f), cookie, "", nil)
		if status != http.StatusOK || string(body) != "read over the terminal's SFTP on A\n" {
			t.Fatalf("download through B: %d %q", status, body)
		}
		if err := ws.Write(ctx, websocket.MessageBinary, []byte("exit\r")); err != nil {
			t.Fatal(err)
		}
		done := waitFor(t, "the terminal's session completed", func() (api.Session, bool) {
			got, err := viaB.GetSession(ctx, s.ID)
			return got, err == nil && got.Status == api.StatusCompleted
		})
		if done.NodeID != a.NodeID() || done.BytesDown == 0 {
			t.Fatalf("ended session %+v: want it carried by A, with output", done)
		}
	})

	t.Run("a forwarded request is not forwarded again", func(t *testing.T) {
		s := newShell(t)
		defer viaB.KillSession(ctx, s.ID, "test over") //nolint:errcheck
		ws, err := dialConsole(t, b, "/v1/sessions/"+s.ID+"/terminal?cols=80&rows=24", cookie, csrf,
			map[string]string{controlapi.HeaderForwardedBy: "node-x"})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		wantConsoleClosed(t, ws, api.CodeOtherNode, "control node control-a ("+a.NodeID()+")", "forwarded here by control node node-x")
	})

	t.Run("a node that cannot reach A", func(t *testing.T) {
		s := newShell(t)
		defer viaB.KillSession(ctx, s.ID, "test over") //nolint:errcheck
		ws, err := dialConsole(t, c, "/v1/sessions/"+s.ID+"/terminal?cols=80&rows=24", cookie, csrf, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		wantConsoleClosed(t, ws, api.CodeOtherNode, "session "+s.ID+" is carried by control node control-a", "could not be reached", "test: no route to control-a")
	})
}

// appBrowser is a browser with a cookie jar that reaches every
// *.localhost and localhost name at one node's API port, and does not
// follow redirects.
type appBrowser struct {
	t    *testing.T
	node *running
	jar  http.CookieJar
	hc   *http.Client
}

func newAppBrowser(t *testing.T, node *running, jar http.CookieJar) *appBrowser {
	addr := node.APIAddr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool(node)},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &appBrowser{t: t, node: node, jar: jar, hc: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *appBrowser) origin(host string) string {
	return "https://" + net.JoinHostPort(host, portOf(b.t, b.node.APIAddr()))
}

// do sends a request and returns the status, the body and the Location.
func (b *appBrowser) do(method, u, body string, hdr map[string]string) (int, string, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, string(data), resp.Header.Get("Location")
}

// login logs the browser in to the console and to app web (the launch
// round trip), all on its node.
func (b *appBrowser) login(token string) {
	b.t.Helper()
	console, app := b.origin("localhost"), b.origin("web.localhost")
	if st, body, _ := b.do(http.MethodPost, console+"/web/login", fmt.Sprintf(`{"token":%q}`, token), map[string]string{"Content-Type": "application/json"}); st != http.StatusOK {
		b.t.Fatalf("console login: %d %s", st, body)
	}
	st, body, loc := b.do(http.MethodGet, app+"/", "", nil)
	l, err := url.Parse(loc)
	if st != http.StatusFound || err != nil || l.Path != "/login" {
		b.t.Fatalf("app without login: %d to %q: %s", st, loc, body)
	}
	csrf := ""
	for _, c := range b.jar.Cookies(&url.URL{Scheme: "https", Host: "localhost"}) {
		if c.Name == auth.CookieCSRF {
			csrf = c.Value
		}
	}
	st, body, _ = b.do(http.MethodPost, console+"/v1/apps/web/launch", fmt.Sprintf(`{"state":%q}`, l.Query().Get("state")),
		map[string]string{"Content-Type": "application/json", auth.HeaderCSRF: csrf})
	var lr apps.LaunchResponse
	if st != http.StatusOK || json.Unmarshal([]byte(body), &lr) != nil {
		b.t.Fatalf("launch: %d %s", st, body)
	}
	if st, body, _ := b.do(http.MethodGet, lr.URL, "", nil); st != http.StatusSeeOther {
		b.t.Fatalf("callback: %d %s", st, body)
	}
}

// TestForwardingApps: a published app used through B, whose agent is
// attached to A, is served by A (B forwards its requests, Host and app
// cookie kept, WebSocket upgrades included): the upstream's page comes
// back, the session is A's and its HAR records the request. A forwarded
// request is not forwarded again, and C, which cannot reach A, answers
// the error page with the reason.
func TestForwardingApps(t *testing.T) {
	ctx := context.Background()
	cl := startBrowserCluster(t)
	a, b, c := cl.a, cl.b, cl.c
	viaB := b.client(t, cl.token)
	jar, _ := cookiejar.New(nil)
	br := newAppBrowser(t, b, jar)
	br.login(cl.token)
	app := br.origin("web.localhost")

	st, body, _ := br.do(http.MethodGet, app+"/forwarded-page", "", nil)
	if st != http.StatusOK || !strings.Contains(body, "Hello from the upstream at /forwarded-page") {
		t.Fatalf("app page through B: %d %s", st, body)
	}
	sessions, err := viaB.ListSessions(ctx, client.SessionQuery{Resource: "web"})
	if err != nil || len(sessions.Sessions) != 1 {
		t.Fatalf("app sessions %+v, %v: want one", sessions, err)
	}
	s := sessions.Sessions[0]
	if s.NodeID != a.NodeID() || s.ClientIP != "127.0.0.1" || s.Status != api.StatusActive {
		t.Fatalf("app session %+v: want active on A (%s), from the person's 127.0.0.1", s, a.NodeID())
	}

	t.Run("a WebSocket through B", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(dctx, strings.Replace(app, "https://", "wss://", 1)+"/ws",
			&websocket.DialOptions{HTTPClient: br.hc, HTTPHeader: http.Header{"Origin": {app}}})
		if err != nil {
			t.Fatalf("app WebSocket through B: %v", err)
		}
		defer ws.CloseNow()
		if err := ws.Write(dctx, websocket.MessageText, []byte("echo through B")); err != nil {
			t.Fatal(err)
		}
		if typ, got, err := ws.Read(dctx); err != nil || typ != websocket.MessageText || string(got) != "echo through B" {
			t.Fatalf("echo %s %q, %v", typ, got, err)
		}
		ws.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("a forwarded request is not forwarded again", func(t *testing.T) {
		st, body, _ := br.do(http.MethodGet, app+"/again", "", map[string]string{controlapi.HeaderForwardedBy: "node-x"})
		if st != http.StatusBadGateway || !strings.Contains(body, "control node control-a") || !strings.Contains(body, "forwarded here by control node node-x") {
			t.Fatalf("%d %s", st, body)
		}
	})

	t.Run("a node that cannot reach A", func(t *testing.T) {
		// The same browser (its app cookie: logins are in the database)
		// reaching C.
		st, body, _ := newAppBrowser(t, c, jar).do(http.MethodGet, app+"/via-c", "", nil)
		if st != http.StatusBadGateway || !strings.Contains(body, "control node control-a") || !strings.Contains(body, "could not be reached") ||
			!strings.Contains(body, "test: no route to control-a") {
			t.Fatalf("%d %s", st, body)
		}
	})

	t.Run("the HAR on A records the request made through B", func(t *testing.T) {
		if _, err := viaB.KillSession(ctx, s.ID, "test over"); err != nil {
			t.Fatal(err)
		}
		ended := waitFor(t, "the app session's recording stored", func() (api.Session, bool) {
			got, err := viaB.GetSession(ctx, s.ID)
			return got, err == nil && got.Status.Terminal() && got.Recording.State == api.RecordingComplete
		})
		if ended.Recording.Format != api.FormatHAR {
			t.Fatalf("recording %+v, want a HAR", ended.Recording)
		}
		// Read on A: each node keeps its sessions' recordings in its own
		// storage here (a file store in its data dir).
		rc, err := a.client(t, cl.token).Recording(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		har, err := io.ReadAll(rc)
		if err != nil || !strings.Contains(string(har), "/forwarded-page") || !strings.Contains(string(har), "Hello from the upstream at /forwarded-page") {
			t.Fatalf("HAR %.2000s, %v: want the request made through B", har, err)
		}
		if strings.Contains(string(har), "/again") || strings.Contains(string(har), "/via-c") {
			t.Fatalf("HAR %.2000s records a request that was not forwarded", har)
		}
	})
}
