package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/consoles"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/devapp"
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
