package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/agent/agenttest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/connlog"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newServer(t *testing.T) *agenttest.Server {
	t.Helper()
	srv, err := agenttest.NewServer(agenttest.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// echoServer is a real loopback TCP echo service that honours half-close:
// when the client ends its sending side, it finishes echoing and closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type runningAgent struct {
	a      *agent.Agent
	cancel context.CancelFunc
	dir    string
	done   chan struct{} // closed when Run returned
	err    error         // what Run returned
}

// wait waits for Run to return.
func (r *runningAgent) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func (r *runningAgent) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
}

func startAgent(t *testing.T, cfg agent.Config) *runningAgent {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{a: a, cancel: cancel, dir: cfg.DataDir, done: make(chan struct{})}
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		r.wait(t)
	})
	return r
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitAgent(t *testing.T, srv *agenttest.Server) *agenttest.AgentConn {
	t.Helper()
	c, err := srv.WaitAgent(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tcpResource(t *testing.T, name, addr string) agent.ResourceConfig {
	t.Helper()
	r, err := agent.ParseResourceURL(name, "tcp://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// setup enrolls and connects an agent serving an echo resource and a
// resource on a closed port.
func setup(t *testing.T) (*agenttest.Server, *runningAgent, *agenttest.AgentConn, string) {
	t.Helper()
	srv := newServer(t)
	echo := echoServer(t)
	ra := startAgent(t, agent.Config{
		ControlAddr: srv.Addr(), Token: srv.Token(), DataDir: t.TempDir(), Name: "a1",
		Resources: []agent.ResourceConfig{tcpResource(t, "echo", echo), tcpResource(t, "closed", closedPort(t))},
	})
	return srv, ra, waitAgent(t, srv), echo
}

func openSession(t *testing.T, c *agenttest.AgentConn, id, resource string) *agenttest.SessionStream {
	t.Helper()
	st, res, err := c.OpenSession(ctxT(t, 15*time.Second), api.SessionOpen{SessionID: id, Type: api.TypeTCP, Resource: resource, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("session open refused: %s", res.Error)
	}
	return st
}

func openConn(t *testing.T, c *agenttest.AgentConn, session string, n int64) net.Conn {
	t.Helper()
	conn, res, err := c.OpenConn(ctxT(t, 15*time.Second), api.ConnOpen{SessionID: session, ConnID: n, ClientAddr: "10.1.1.1:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("conn open refused: %s", res.Error)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func echoOnce(t *testing.T, conn net.Conn, msg string) {
	t.Helper()
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Time{})
	if string(buf) != msg {
		t.Fatalf("echo %q, want %q", buf, msg)
	}
}

func decodeEvents(t *testing.T, data []byte) []connlog.Event {
	t.Helper()
	evs, err := connlog.ReadAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("recording: %v\n%s", err, data)
	}
	return evs
}

func TestEnrollThenReconnectWithSavedCertificate(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	echo := echoServer(t)
	res, err := agent.ParseResourceURL("db", "tcp://"+echo)
	if err != nil {
		t.Fatal(err)
	}
	res.Labels = map[string]string{"env": "test"}
	cfg := agent.Config{ControlAddr: srv.Addr(), Token: srv.Token(), DataDir: dir, Name: "edge-1", Resources: []agent.ResourceConfig{res}, Version: "1.2.3"}
	ra := startAgent(t, cfg)
	c := waitAgent(t, srv)

	hello, _ := json.Marshal(c.Hello)
	if strings.Contains(string(hello), "s3cret") || strings.Contains(string(hello), "dbuser") {
		t.Fatalf("credentials left the agent: %s", hello)
	}
	want := []api.Resource{{Name: "db", Type: api.TypeTCP, Address: echo, Labels: map[string]string{"env": "test"}}}
	if got := c.Hello.Resources; len(got) != 1 || got[0].Name != want[0].Name || got[0].Address != want[0].Address || got[0].Labels["env"] != "test" {
		t.Fatalf("announced %+v, want %+v", got, want)
	}
	if c.Hello.Version != "1.2.3" {
		t.Errorf("hello version %q", c.Hello.Version)
	}
	if err := srv.WaitFor(ctxT(t, 10*time.Second), func() bool { return c.Heartbeats() >= 2 }); err != nil {
		t.Fatalf("no heartbeats: %v", err)
	}
	if ra.a.State() != agent.StateConnected {
		t.Fatalf("state %s, want connected", ra.a.State())
	}
	for _, f := range []string{"identity.json", "agent.key", "agent.crt", "ca.crt"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "agent.key" && st.Mode().Perm() != 0o600 {
			t.Errorf("agent.key mode %v, want 0600", st.Mode().Perm())
		}
	}
	ra.stop(t)
	if ra.a.State() != agent.StateStopped {
		t.Fatalf("state %s after stop, want stopped", ra.a.State())
	}

	// Second start: no token, no control address: everything comes from
	// the data directory.
	ra2 := startAgent(t, agent.Config{DataDir: dir, Resources: []agent.ResourceConfig{res}})
	c2 := waitAgent(t, srv)
	if c2.ID != c.ID {
		t.Fatalf("reconnected as %q, enrolled as %q", c2.ID, c.ID)
	}
	if n := srv.Enrollments(); n != 1 {
		t.Fatalf("%d enrollments, want 1", n)
	}
	ra2.stop(t)
}

func TestEnrollmentFailures(t *testing.T) {
	srv := newServer(t)
	other := newServer(t)
	good := srv.Token()
	secret := good[:strings.LastIndexByte(good, '.')]
	tests := []struct {
		name, addr, token string
		want              string
	}{
		{"unknown secret", srv.Addr(), "nope." + strings.TrimPrefix(srv.CAPin(), "sha256:"), "control refused the enrollment"},
		{"wrong pin", srv.Addr(), secret + "." + strings.TrimPrefix(other.CAPin(), "sha256:"), "pinned CA"},
		{"malformed token", srv.Addr(), "justsecret", "malformed enrollment token"},
		{"no token", srv.Addr(), "", "not enrolled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := agent.Run(ctxT(t, 20*time.Second), agent.Config{ControlAddr: tt.addr, Token: tt.token, DataDir: t.TempDir(), Logger: testLogger(t)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// The token still works once, and only once.
	dir1, dir2 := t.TempDir(), t.TempDir()
	ra := startAgent(t, agent.Config{ControlAddr: srv.Addr(), Token: good, DataDir: dir1})
	waitAgent(t, srv)
	ra.stop(t)
	err := agent.Run(ctxT(t, 20*time.Second), agent.Config{ControlAddr: srv.Addr(), Token: good, DataDir: dir2, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("second use of a token: %v", err)
	}
}

func TestSessionOpen(t *testing.T) {
	_, _, c, _ := setup(t)
	tests := []struct {
		name     string
		open     api.SessionOpen
		wantOK   bool
		errorHas string
	}{
		{"reachable target", api.SessionOpen{SessionID: "s-ok", Type: api.TypeTCP, Resource: "echo"}, true, ""},
		{"closed port", api.SessionOpen{SessionID: "s-closed", Type: api.TypeTCP, Resource: "closed"}, false, "connection refused"},
		{"unknown resource", api.SessionOpen{SessionID: "s-unknown", Type: api.TypeTCP, Resource: "nope"}, false, "not served"},
		{"type mismatch", api.SessionOpen{SessionID: "s-type", Type: api.TypeSSH, Resource: "echo"}, false, "is a tcp resource"},
		{"bad id", api.SessionOpen{SessionID: "../etc", Type: api.TypeTCP, Resource: "echo"}, false, "invalid session id"},
		{"duplicate id", api.SessionOpen{SessionID: "s-ok", Type: api.TypeTCP, Resource: "echo"}, false, "already open"},
	}
	tc := t
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, res, err := c.OpenSession(ctxT(t, 15*time.Second), tt.open)
			if err != nil {
				t.Fatal(err)
			}
			tc.Cleanup(func() { st.Close() })
			if res.OK != tt.wantOK || !strings.Contains(res.Error, tt.errorHas) {
				t.Fatalf("result %+v, want ok=%v error containing %q", res, tt.wantOK, tt.errorHas)
			}
		})
	}
}

func TestConnCarries8MiBAndTerminateFinalisesRecording(t *testing.T) {
	srv, _, c, echo := setup(t)
	sess := openSession(t, c, "s-bulk", "echo")

	const size = 8 << 20
	payload := make([]byte, size)
	rand.Read(payload)
	conn := openConn(t, c, "s-bulk", 1)
	var wg sync.WaitGroup
	wg.Add(1)
	var writeErr error
	go func() {
		defer wg.Done()
		_, writeErr = conn.Write(payload)
		conn.Close() // yamux Close ends our sending half only
	}()
	h := sha256.New()
	n, err := io.Copy(h, conn)
	wg.Wait()
	if err != nil || writeErr != nil {
		t.Fatalf("copy: %v, write: %v", err, writeErr)
	}
	if n != size {
		t.Fatalf("read back %d bytes, want %d", n, size)
	}
	want := sha256.Sum256(payload)
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatal("echoed bytes differ from what was sent")
	}

	// A second connection stays open until the session is terminated.
	conn2 := openConn(t, c, "s-bulk", 2)
	echoOnce(t, conn2, "ping")
	if err := sess.Terminate("admin", "test"); err != nil {
		t.Fatal(err)
	}
	reports, err := sess.Reports(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].Type != api.ReportEnded {
		t.Fatalf("reports %+v, want one ended", reports)
	}
	conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn2.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection 2 still open after terminate: %v", err)
	}

	rec, err := srv.WaitRecording(ctxT(t, 10*time.Second), "s-bulk")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Format != api.FormatConnlog || int64(len(rec.Data)) != reports[0].RecordingSize {
		t.Fatalf("recording format %s size %d, report says %d", rec.Format, len(rec.Data), reports[0].RecordingSize)
	}
	evs := decodeEvents(t, innerOf(t, rec))
	byConn := map[int64][]connlog.Event{}
	for _, e := range evs {
		byConn[e.Conn] = append(byConn[e.Conn], e)
		if e.Target != echo || e.Peer != "10.1.1.1:5000" {
			t.Errorf("event %+v: wrong peer or target", e)
		}
	}
	check := func(id, up, down int64) {
		t.Helper()
		es := byConn[id]
		if len(es) != 2 || es[0].Event != connlog.EventOpen || es[1].Event != connlog.EventClose {
			t.Fatalf("conn %d events %+v, want open then close", id, es)
		}
		if es[1].BytesUp != up || es[1].BytesDown != down {
			t.Fatalf("conn %d close counts up %d down %d, want %d/%d", id, es[1].BytesUp, es[1].BytesDown, up, down)
		}
	}
	check(1, size, size)
	check(2, 4, 4)
	if byConn[1][1].Error != "" || byConn[2][1].Error != "" {
		t.Errorf("unexpected close errors: %+v", evs)
	}
}

func TestConnErrors(t *testing.T) {
	srv, _, c, _ := setup(t)
	_, res, err := c.OpenConn(ctxT(t, 10*time.Second), api.ConnOpen{SessionID: "missing", ConnID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Error, "unknown session") {
		t.Fatalf("conn to unknown session: %+v", res)
	}

	// Control closing the session stream ends it normally.
	sess := openSession(t, c, "s-err", "echo")
	conn := openConn(t, c, "s-err", 1)
	echoOnce(t, conn, "x")
	conn.Close()
	sess.Close() // control ends the session: completed
	reports, err := sess.Reports(ctxT(t, 10*time.Second))
	if err != nil || len(reports) != 1 || reports[0].Type != api.ReportEnded {
		t.Fatalf("reports %+v, %v", reports, err)
	}
	rec, err := srv.WaitRecording(ctxT(t, 10*time.Second), "s-err")
	if err != nil {
		t.Fatal(err)
	}
	s, err := connlog.Summarize(bytes.NewReader(innerOf(t, rec)))
	if err != nil || s.Connections != 1 || s.Closed != 1 || s.BytesUp != 1 || s.BytesDown != 1 {
		t.Fatalf("summary %+v, %v", s, err)
	}
}

func TestDialErrorIsRecorded(t *testing.T) {
	srv := newServer(t)
	// A listener that accepts the probe, then stops accepting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	startAgent(t, agent.Config{ControlAddr: srv.Addr(), Token: srv.Token(), DataDir: t.TempDir(),
		Resources: []agent.ResourceConfig{tcpResource(t, "flaky", addr)}})
	c := waitAgent(t, srv)
	sess := openSession(t, c, "s-flaky", "flaky")
	ln.Close()
	_, res, err := c.OpenConn(ctxT(t, 15*time.Second), api.ConnOpen{SessionID: "s-flaky", ConnID: 1, ClientAddr: "10.0.0.9:1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Error, "connection refused") {
		t.Fatalf("conn result %+v, want connection refused", res)
	}
	sess.Close()
	rec, err := srv.WaitRecording(ctxT(t, 10*time.Second), "s-flaky")
	if err != nil {
		t.Fatal(err)
	}
	evs := decodeEvents(t, innerOf(t, rec))
	if len(evs) != 1 || evs[0].Event != connlog.EventError || !strings.Contains(evs[0].Error, "connection refused") {
		t.Fatalf("events %+v, want one error event", evs)
	}
}

func TestLinkLossTearsDownSessionsAndAgentReconnects(t *testing.T) {
	srv, ra, c, _ := setup(t)
	openSession(t, c, "s-cut", "echo")
	conn := openConn(t, c, "s-cut", 1)
	echoOnce(t, conn, "before")

	srv.Stop() // control goes away
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("conn survived the link: %v", err)
	}
	if err := srv.WaitFor(ctxT(t, 10*time.Second), func() bool { return ra.a.State() != agent.StateConnected }); err != nil {
		t.Fatalf("agent still connected: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c2 := waitAgent(t, srv)
	if !slices.Contains(c2.Hello.Recordings, "s-cut") {
		t.Fatalf("hello lists spooled recordings %v, want s-cut", c2.Hello.Recordings)
	}
	rec, err := srv.WaitRecording(ctxT(t, 10*time.Second), "s-cut")
	if err != nil {
		t.Fatal(err)
	}
	evs := decodeEvents(t, innerOf(t, rec))
	if len(evs) != 2 || evs[1].Event != connlog.EventClose || evs[1].BytesUp != 6 || evs[1].BytesDown != 6 {
		t.Fatalf("events %+v, want open and close with 6 bytes each way", evs)
	}
	// The session is gone from the agent: a new conn is refused.
	_, res, err := c2.OpenConn(ctxT(t, 10*time.Second), api.ConnOpen{SessionID: "s-cut", ConnID: 2})
	if err != nil || res.OK {
		t.Fatalf("conn to a torn-down session: %+v, %v", res, err)
	}
}

func TestRevokedStopsRun(t *testing.T) {
	srv, ra, c, _ := setup(t)
	srv.Revoke(c.ID, "agent revoked")
	err := ra.wait(t)
	if !errors.Is(err, agent.ErrRevoked) || !strings.Contains(err.Error(), "this agent was removed from control (revoked); enroll it again with a new token: onepam agents token create") {
		t.Fatalf("Run = %v", err)
	}
	if ra.a.State() != agent.StateRevoked {
		t.Fatalf("state %s, want revoked", ra.a.State())
	}
	// Starting it again: control refuses it at once, Run stops again.
	err = agent.Run(ctxT(t, 20*time.Second), agent.Config{DataDir: ra.dir, Logger: testLogger(t)})
	if !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("restarted revoked agent: Run = %v", err)
	}
}

func TestMalformedStreamDoesNotDisturbOthers(t *testing.T) {
	_, _, c, _ := setup(t)
	openSession(t, c, "s-live", "echo")
	conn := openConn(t, c, "s-live", 1)
	echoOnce(t, conn, "one")

	var hdr bytes.Buffer
	tunnel.WriteHeader(&hdr, api.StreamRecording, api.RecordingOpen{SessionID: "x"})
	var badJSON bytes.Buffer
	badJSON.Write([]byte("OPS1\x03\x00\x00\x00\x05{nope"))
	for name, b := range map[string][]byte{
		"bad magic":        []byte("GET / HTTP/1.1\r\n\r\n"),
		"unexpected kind":  hdr.Bytes(),
		"bad json":         badJSON.Bytes(),
		"truncated header": []byte("OPS1\x04\x00\x00\x10\x00{"),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := c.OpenRaw(b)
			if err != nil {
				t.Fatal(err)
			}
			if name == "truncated header" {
				st.Close() // the agent sees a truncated header
			}
			st.SetReadDeadline(time.Now().Add(15 * time.Second))
			io.Copy(io.Discard, st) // the agent closes the stream
			if err := st.SetReadDeadline(time.Time{}); err != nil {
				t.Fatal(err)
			}
			echoOnce(t, conn, "still here")
		})
	}
}

// innerOf decodes a received recording container to its inner format.
func innerOf(t *testing.T, rec agenttest.Recording) []byte {
	t.Helper()
	b, err := rec.Inner()
	if err != nil {
		t.Fatalf("recording container: %v", err)
	}
	return b
}
