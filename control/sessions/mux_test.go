package sessions

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// muxServer serves channel=mux upgrades of the env's manager for principal
// p over plain HTTP (the API server's TLS is not what is tested here).
func (e *env) muxServer(p auth.Principal) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x, err := e.m.AttachMux(r.Context(), p, r.URL.Query().Get("id"), r.RemoteAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		if err := x.Upgrade(w); err != nil {
			e.t.Errorf("upgrade: %v", err)
		}
	}))
	e.t.Cleanup(srv.Close)
	return srv
}

// dialMux upgrades a connection to srv for session id and starts yamux
// on it; the body of a refusal is returned as the error text.
func dialMux(t *testing.T, srv *httptest.Server, id string) (*yamux.Session, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/?id="+id, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", api.UpgradeProtocol)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		return nil, strings.TrimSpace(string(body))
	}
	s, err := tunnel.Client(&bufferedConn{Conn: conn, r: br})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ""
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// openMuxConn opens a stream and reads control's answer.
func openMuxConn(t *testing.T, s *yamux.Session) (net.Conn, api.MuxConnResult) {
	t.Helper()
	st, err := s.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
	var res api.MuxConnResult
	if err := tunnel.ReadFrame(st, &res); err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	_ = st.SetReadDeadline(time.Time{})
	return st, res
}

func TestMuxCarriesDataConnections(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := e.muxServer(bob)

	// Before the lead attached there is no active session to carry.
	if mux, refusal := dialMux(t, srv, s.ID); mux != nil || !strings.Contains(refusal, "no lead connection yet") {
		t.Fatalf("mux before the lead: %v %q", mux, refusal)
	}
	lead, err := e.attach(bob, s.ID, api.ChannelEvents, nil)
	if err != nil {
		t.Fatal(err)
	}
	lead.event(t)
	// Only the owner may attach.
	if mux, refusal := dialMux(t, e.muxServer(alice), s.ID); mux != nil || !strings.Contains(refusal, "only its owner can connect") {
		t.Fatalf("mux of another user: %v %q", mux, refusal)
	}

	mux, refusal := dialMux(t, srv, s.ID)
	if mux == nil {
		t.Fatalf("mux refused: %s", refusal)
	}
	var sent int64
	for i, msg := range []string{"one", strings.Repeat("two", 100000), "three"} {
		st, res := openMuxConn(t, mux)
		if !res.OK {
			t.Fatalf("connection %d refused: %+v", i, res.Error)
		}
		go func() {
			_, _ = io.WriteString(st, msg)
			_ = st.Close() // a yamux stream's Close ends its sending half
		}()
		_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(st)
		if err != nil || string(got) != msg {
			t.Fatalf("connection %d echoed %d bytes (%v), want %d", i, len(got), err, len(msg))
		}
		sent += int64(len(msg))
	}
	waitFor(t, "every echo connection closed", func() (int, bool) { n := e.echo.openConns(); return n, n == 0 })

	// Kill: an open connection and the mux end; the counts are the session's.
	open, res := openMuxConn(t, mux)
	if !res.OK {
		t.Fatalf("refused: %+v", res.Error)
	}
	if _, err := io.WriteString(open, "x"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	_ = open.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(open, buf); err != nil {
		t.Fatal(err)
	}
	sent++
	if _, err := e.m.Kill(e.ctx, alice, s.ID, "done", ""); err != nil {
		t.Fatal(err)
	}
	_ = open.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(open)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("connection still open after the kill")
	}
	waitFor(t, "the mux closed by control", func() (bool, bool) { return true, mux.IsClosed() })
	ended := waitFor(t, "terminated with the mux's byte counts", func() (api.Session, bool) {
		got, err := e.store.GetSession(e.ctx, s.ID)
		return got, err == nil && got.Status == api.StatusTerminated && got.BytesUp == sent && got.BytesDown == sent
	})
	if ended.Error != "" && !strings.Contains(ended.Error, "done") {
		t.Fatalf("ended %+v", ended)
	}
	// A mux for an ended session is refused with why.
	if m2, refusal := dialMux(t, srv, s.ID); m2 != nil || !strings.Contains(refusal, "terminated") {
		t.Fatalf("mux after the kill: %v %q", m2, refusal)
	}
}

// TestMuxRefusedConnection: a connection the agent cannot open is refused
// on its stream with the reason; the mux and the session go on.
func TestMuxRefusedConnection(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, _ := e.activeEcho(bob)
	mux, refusal := dialMux(t, e.muxServer(bob), s.ID)
	if mux == nil {
		t.Fatalf("mux refused: %s", refusal)
	}
	e.echo.ln.Close() // the target stops listening
	st, res := openMuxConn(t, mux)
	if res.OK || res.Error == nil || res.Error.Code != api.CodeTargetFailed {
		t.Fatalf("answer %+v, want target_failed", res)
	}
	if _, err := io.ReadAll(st); err != nil {
		t.Fatalf("refused stream: %v, want a clean end", err)
	}
	if mux.IsClosed() {
		t.Fatal("the mux ended with one refused connection")
	}
	got, err := e.store.GetSession(e.ctx, s.ID)
	if err != nil || got.Status != api.StatusActive {
		t.Fatalf("session %v %v, want still active", got.Status, err)
	}
}
