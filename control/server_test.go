package control

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

func testLogger() *slog.Logger {
	if os.Getenv("ONEPAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// running is a Server serving on loopback.
type running struct {
	*Server
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, dir string, grace time.Duration) *running {
	t.Helper()
	s, err := New(context.Background(), Config{
		DataDir: dir, Listen: "127.0.0.1:0", AgentListen: "127.0.0.1:0", Logger: testLogger(), ShutdownGrace: grace,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the server down and waits for Serve to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if r.done != nil {
		if err := <-r.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		r.done = nil
	}
	r.Close()
}

func (r *running) client(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: "https://" + r.APIAddr().String(), Token: token, CAPEM: r.CACertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitFor[T any](t *testing.T, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if v, ok := cond(); ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFirstStartAndRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := start(t, dir, time.Second)
	token := r.FirstAdminToken()
	if !strings.HasPrefix(token, "opt_") {
		t.Fatalf("first admin token %q", token)
	}
	who, err := r.client(t, token).Whoami(ctx)
	if err != nil || who.User != "admin" || who.Role != api.RoleAdmin {
		t.Fatalf("whoami %+v %v", who, err)
	}
	rules, err := r.store.ListPolicyRules(ctx)
	if err != nil || len(rules) != 1 || rules[0].Subject != "role:admin" {
		t.Fatalf("seed policy %+v %v", rules, err)
	}

	// The API speaks HTTP/1.1 only, so session upgrades never meet HTTP/2.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.CACertPEM())
	tc, err := tls.Dial("tcp", r.APIAddr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("negotiated %q, want http/1.1", p)
	}
	tc.Close()

	// Leave a session active, as a crash would.
	left := api.Session{ID: store.NewID(), User: "admin", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", Agent: "a1", CreatedAt: time.Now().UTC()}
	if err := r.store.CreateSession(ctx, left); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Transition(ctx, left.ID, store.Transition{To: api.StatusActive, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	pin := r.CAPin()
	r.stop(t)

	r2 := start(t, dir, time.Second)
	if r2.FirstAdminToken() != "" {
		t.Fatalf("restart created another admin token")
	}
	if r2.CAPin() != pin {
		t.Fatalf("restart made a new CA")
	}
	c2 := r2.client(t, token)
	users, err := c2.ListUsers(ctx)
	if err != nil || len(users) != 1 {
		t.Fatalf("users after restart %+v %v", users, err)
	}
	got, err := c2.GetSession(ctx, left.ID)
	if err != nil || got.Status != api.StatusFailed || got.Error != "interrupted: control restarted" {
		t.Fatalf("session left active: %+v %v", got, err)
	}
}

// echoServer echoes each connection until the client half-closes.
func echoServer(t *testing.T) string {
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
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// startAgent runs a real agent enrolled through the server.
func startAgent(t *testing.T, r *running, resources ...agent.ResourceConfig) {
	t.Helper()
	et, err := r.CreateEnrollToken(context.Background(), time.Minute, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := agent.Run(ctx, agent.Config{ControlAddr: r.AgentAddr().String(), Token: et.Token, DataDir: filepath.Join(t.TempDir(), "agent"),
			Name: "a1", Logger: testLogger(), Resources: resources})
		if err != nil && ctx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// echoSession attaches the lead of session id (an echo resource), checks
// the session became active, echoes size bytes through one data
// connection and returns the open events channel and the bytes echoed.
func echoSession(ctx context.Context, t *testing.T, c *client.Client, id string, size int) (client.Conn, int64) {
	t.Helper()
	events, err := c.Connect(ctx, id, api.ChannelEvents)
	if err != nil {
		t.Fatalf("connect events: %v", err)
	}
	if ev := readEvent(t, bufio.NewReader(events)); ev.Status != api.StatusActive {
		t.Fatalf("first event %+v", ev)
	}
	data, err := c.Connect(ctx, id, api.ChannelData)
	if err != nil {
		t.Fatalf("connect data: %v", err)
	}
	payload := strings.Repeat("0123456789abcdef", size/16)
	go func() {
		io.WriteString(data, payload)
		data.CloseWrite()
	}()
	got, err := io.ReadAll(data)
	if err != nil || string(got) != payload {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	data.Close()
	return events, int64(len(payload))
}

func readEvent(t *testing.T, br *bufio.Reader) api.SessionEvent {
	t.Helper()
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev api.SessionEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatalf("event %q: %v", line, err)
	}
	return ev
}

func TestEndToEndTCPSession(t *testing.T) {
	ctx := context.Background()
	r := start(t, t.TempDir(), 200*time.Millisecond)
	admin := r.client(t, r.FirstAdminToken())
	startAgent(t, r, agent.ResourceConfig{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echoServer(t), Labels: map[string]string{"env": "test"}})
	waitFor(t, "resource online", func() (bool, bool) {
		rs, err := admin.ListResources(ctx, client.ResourceQuery{Type: api.TypeTCP, Labels: map[string]string{"env": "test"}})
		return true, err == nil && len(rs) == 1 && rs[0].Online
	})
	agents, err := admin.ListAgents(ctx)
	if err != nil || len(agents) != 1 || !agents[0].Online || len(agents[0].Resources) != 1 {
		t.Fatalf("agents %+v %v", agents, err)
	}

	// A user with a token created in process, allowed by policy.
	if _, err := admin.CreateUser(ctx, api.CreateUserRequest{Name: "bob", Role: api.RoleUser}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddPolicyRule(ctx, api.PolicyRule{Subject: "user:bob", Resources: []string{"echo"}}); err != nil {
		t.Fatal(err)
	}
	tok, err := r.CreateToken(ctx, "bob", time.Hour, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	bob := r.client(t, tok.Secret)

	s, err := bob.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	events, n := echoSession(ctx, t, bob, s.ID, 1<<20)
	live := waitFor(t, "live byte counts", func() (api.Session, bool) {
		got, err := bob.GetSession(ctx, s.ID)
		return got, err == nil && got.BytesUp == n && got.BytesDown == n
	})
	if live.Status != api.StatusActive || live.DurationSeconds <= 0 {
		t.Fatalf("live session %+v", live)
	}
	events.Close()
	done := waitFor(t, "completed", func() (api.Session, bool) {
		got, err := bob.GetSession(ctx, s.ID)
		return got, err == nil && got.Status == api.StatusCompleted
	})
	if done.BytesUp != n || done.BytesDown != n {
		t.Fatalf("final bytes %d/%d, want %d", done.BytesUp, done.BytesDown, n)
	}
	// The agent uploads the connlog; reading it is audited.
	rec := waitFor(t, "recording stored", func() ([]byte, bool) {
		rc, err := bob.Recording(ctx, s.ID)
		if err != nil {
			return nil, false
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return b, err == nil && len(b) > 0
	})
	if !strings.Contains(string(rec), "open") {
		t.Errorf("connlog %q", rec)
	}
	audit, err := admin.ListAudit(ctx, client.AuditQuery{Action: "recording.read", Actor: "bob"})
	if err != nil || len(audit) == 0 || audit[0].Target != s.ID || audit[0].ClientIP != "127.0.0.1" {
		t.Fatalf("recording audit %+v %v", audit, err)
	}

	// Kill through the API: both sides closed, row terminated.
	s2, err := bob.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := bob.Connect(ctx, s2.ID, api.ChannelEvents)
	if err != nil {
		t.Fatal(err)
	}
	ev2r := bufio.NewReader(ev2)
	readEvent(t, ev2r)
	d2, err := bob.Connect(ctx, s2.ID, api.ChannelData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.KillSession(ctx, s2.ID, "nope"); api.CodeOf(err) != api.CodeForbidden {
		t.Fatalf("user kill: %v", err)
	}
	killed, err := admin.KillSession(ctx, s2.ID, "e2e kill")
	if err != nil || killed.Status != api.StatusTerminated || killed.TerminatedBy != "admin" {
		t.Fatalf("kill %+v %v", killed, err)
	}
	if ev := readEvent(t, ev2r); ev.Status != api.StatusTerminated || !strings.Contains(ev.Message, "(admin): e2e kill") {
		t.Fatalf("kill event %+v", ev)
	}
	d2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, d2); isTimeout(err) {
		t.Fatalf("data connection still open after kill")
	}
	if _, err := bob.Connect(ctx, s2.ID, api.ChannelData); api.CodeOf(err) != api.CodeTerminated {
		t.Fatalf("connect after kill: %v", err)
	}
	if _, err := admin.KillSession(ctx, s.ID, "late"); api.CodeOf(err) != api.CodeConflict {
		t.Fatalf("kill of a completed session: %v", err)
	}

	// Graceful shutdown with a running session: notice, then failed.
	s3, err := bob.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	ev3, err := bob.Connect(ctx, s3.ID, api.ChannelEvents)
	if err != nil {
		t.Fatal(err)
	}
	ev3r := bufio.NewReader(ev3)
	readEvent(t, ev3r)
	r.cancel()
	if ev := readEvent(t, ev3r); !strings.Contains(ev.Message, "control server shutting down") {
		t.Fatalf("shutdown notice %+v", ev)
	}
	if ev := readEvent(t, ev3r); ev.Status != api.StatusFailed || ev.Error != "control shut down" {
		t.Fatalf("shutdown end %+v", ev)
	}
	if err := <-r.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	r.done = nil
	final, err := r.store.GetSession(ctx, s3.ID)
	if err != nil || final.Status != api.StatusFailed || final.Error != "control shut down" {
		t.Fatalf("session after shutdown %+v %v", final, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
