package sessions

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/agentgw"
	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/metrics"
	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// Principals of the test environment.
var (
	alice = auth.Principal{User: "alice", Role: api.RoleAdmin}
	bob   = auth.Principal{User: "bob", Role: api.RoleUser}
	carol = auth.Principal{User: "carol", Role: api.RoleAuditor}
)

// env is a real session path on loopback: sqlite store, agent gateway,
// a real agent serving an "echo" resource (a loopback echo server) and a
// "closed" resource (a port nobody listens on), and a session manager.
type env struct {
	t       *testing.T
	ctx     context.Context
	store   *sqlite.Store
	gw      *agentgw.Gateway
	m       *Manager
	agentID string
	echo    *echoServer
}

type envOptions struct {
	pendingTimeout time.Duration
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("ONEPAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "onepam.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	ca, cert, err := pki.LoadOrCreate(filepath.Join(dir, "pki"), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatalf("pki: %v", err)
	}
	recs, err := recordings.NewDir(filepath.Join(dir, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, store: st, echo: newEchoServer(t)}
	var mgr *Manager
	var mgrMu sync.Mutex
	gw, err := agentgw.New(agentgw.Config{
		Store: st, CA: ca, ServerCert: cert, Recordings: recs, Logger: testLogger(t),
		OnAgentChange: func(id string, online bool) {
			mgrMu.Lock()
			m := mgr
			mgrMu.Unlock()
			if !online && m != nil {
				go m.AgentOffline(id)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	m, err := New(Config{Store: st, Gateway: gw, Metrics: metrics.New(nil), Logger: testLogger(t), PendingTimeout: o.pendingTimeout})
	if err != nil {
		t.Fatal(err)
	}
	mgrMu.Lock()
	mgr = m
	mgrMu.Unlock()
	e.m = m

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); gw.Serve(ctx, ln) }()
	go func() { defer wg.Done(); m.Run(ctx) }()

	now := time.Now().UTC()
	for _, u := range []auth.Principal{alice, bob, carol} {
		if err := st.CreateUser(ctx, api.User{Name: u.User, Role: u.Role, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []api.PolicyRule{
		{ID: store.NewID(), Subject: "role:admin", Resources: []string{"*"}, Logins: []string{"*"}},
		{ID: store.NewID(), Subject: "user:bob", Resources: []string{"echo"}},
	} {
		if err := st.AddPolicyRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	et, err := auth.CreateEnrollToken(ctx, st, ca.Pin(), time.Hour, "test", now)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	go func() {
		defer wg.Done()
		err := agent.Run(ctx, agent.Config{
			ControlAddr: ln.Addr().String(), Token: et.Token, DataDir: filepath.Join(dir, "agent"), Name: "a1",
			Logger: testLogger(t),
			Resources: []agent.ResourceConfig{
				{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: e.echo.addr()},
				{Name: "closed", Type: api.TypeTCP, Protocol: "tcp", Address: closedAddr},
			},
		})
		if err != nil && ctx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		st.Close()
	})

	res := waitFor(t, "agent online with its resources", func() (store.ResourceRecord, bool) {
		r, err := st.GetResource(ctx, "echo")
		return r, err == nil && gw.Online(r.AgentID)
	})
	e.agentID = res.AgentID
	return e
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor[T any](t *testing.T, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, ok := cond()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitStatus polls the stored session until it reaches st.
func (e *env) waitStatus(id string, st api.SessionStatus) api.Session {
	e.t.Helper()
	return waitFor(e.t, "session "+string(st), func() (api.Session, bool) {
		s, err := e.store.GetSession(e.ctx, id)
		return s, err == nil && s.Status == st
	})
}

// person is the person's side of one attached connection.
type person struct {
	conn net.Conn
	r    *bufio.Reader
	done chan struct{} // closed when Serve returned
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// attach attaches a connection and serves it on a loopback TCP pair.
func (e *env) attach(p auth.Principal, id, channel string, pre []byte) (*person, error) {
	e.t.Helper()
	a, err := e.m.Attach(e.ctx, p, id, channel, "127.0.0.1:5555")
	if err != nil {
		return nil, err
	}
	client, server := tcpPair(e.t)
	pp := &person{conn: client, r: bufio.NewReader(client), done: make(chan struct{})}
	go func() {
		defer close(pp.done)
		a.Serve(server, pre)
	}()
	return pp, nil
}

// activeEcho creates a session of the echo resource for p and attaches its
// lead (events channel), which makes it active.
func (e *env) activeEcho(p auth.Principal) (api.Session, *person) {
	e.t.Helper()
	s, err := e.m.Create(e.ctx, p, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	lead, err := e.attach(p, s.ID, api.ChannelEvents, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	lead.event(e.t)
	return s, lead
}

// event reads the next events-channel line.
func (p *person) event(t *testing.T) api.SessionEvent {
	t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := p.r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev api.SessionEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatalf("event line %q: %v", line, err)
	}
	return ev
}

// waitClosed reads until the connection ends and fails when it does not
// within 10 s.
func (p *person) waitClosed(t *testing.T) {
	t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, p.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open")
	}
}

// echoServer echoes every connection until the client half-closes, and
// tracks its open connections.
type echoServer struct {
	ln   net.Listener
	mu   sync.Mutex
	open int
}

func newEchoServer(t *testing.T) *echoServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open++
			s.mu.Unlock()
			go func() {
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
				c.Close()
				s.mu.Lock()
				s.open--
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}
