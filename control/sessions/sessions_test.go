package sessions

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func wantCode(t *testing.T, err error, code api.ErrorCode, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if api.CodeOf(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q (%s), want %s containing %q", err, api.CodeOf(err), code, contains)
	}
}

func TestSessionLifecycleEcho(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "10.0.0.7")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != api.StatusPending || s.User != "bob" || s.Type != api.TypeTCP || s.Agent != "a1" || s.ClientIP != "10.0.0.7" {
		t.Fatalf("created session %+v", s)
	}

	lead, err := e.attach(bob, s.ID, api.ChannelEvents, nil)
	if err != nil {
		t.Fatalf("attach lead: %v", err)
	}
	if ev := lead.event(t); ev.Status != api.StatusActive {
		t.Fatalf("first event %+v, want active", ev)
	}
	if got := e.waitStatus(s.ID, api.StatusActive); got.StartedAt == nil || got.Agent != "a1" {
		t.Fatalf("active session %+v", got)
	}

	// One data connection: "pre" was buffered by the HTTP server before the
	// splice, the rest is written after; the echo server answers all of it.
	data, err := e.attach(bob, s.ID, api.ChannelData, []byte("pre:"))
	if err != nil {
		t.Fatalf("attach data: %v", err)
	}
	msg := strings.Repeat("hello through onepam ", 1000)
	go func() {
		io.WriteString(data.conn, msg)
		data.conn.(*net.TCPConn).CloseWrite()
	}()
	data.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(data.r)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != "pre:"+msg {
		t.Fatalf("echo returned %d bytes, want %d", len(got), len("pre:"+msg))
	}
	<-data.done
	n := int64(len("pre:" + msg))

	// A second data connection gets the next conn id and works too.
	data2, err := e.attach(bob, s.ID, api.ChannelData, nil)
	if err != nil {
		t.Fatalf("attach second data: %v", err)
	}
	io.WriteString(data2.conn, "x")
	data2.conn.(*net.TCPConn).CloseWrite()
	if b, _ := io.ReadAll(data2.r); string(b) != "x" {
		t.Fatalf("second connection echoed %q", b)
	}
	<-data2.done
	n++

	lead.conn.Close()
	done := waitFor(t, "completed with final byte counts", func() (api.Session, bool) {
		s, err := e.store.GetSession(e.ctx, s.ID)
		return s, err == nil && s.Status == api.StatusCompleted && s.BytesUp == n && s.BytesDown == n
	})
	if done.EndedAt == nil || done.Error != "" {
		t.Fatalf("completed session %+v", done)
	}
	var events []string
	for _, ev := range done.Timeline {
		events = append(events, ev.Event)
	}
	if strings.Join(events, ",") != "created,started,completed" {
		t.Fatalf("timeline %v", events)
	}
	// The session left the registry; attaching again is a conflict.
	waitFor(t, "registry empty", func() (int, bool) { return 0, e.m.Running() == 0 })
	_, err = e.m.Attach(e.ctx, bob, s.ID, api.ChannelData, "")
	wantCode(t, err, api.CodeConflict, "already ended (completed)")
	_, err = e.m.Kill(e.ctx, alice, s.ID, "too late", "")
	wantCode(t, err, api.CodeConflict, "already ended (completed)")
}

func TestKillActiveClosesBothSides(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, lead := e.activeEcho(bob)
	data, err := e.attach(bob, s.ID, api.ChannelData, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(data.conn, "ping")
	buf := make([]byte, 4)
	data.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(data.r, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo before kill: %q %v", buf, err)
	}
	waitFor(t, "target connection open", func() (int, bool) { return 0, e.echo.openConns() == 1 })

	_, err = e.m.Kill(e.ctx, carol, s.ID, "curious", "")
	wantCode(t, err, api.CodeForbidden, "does not allow sessions.kill")
	_, err = e.m.Kill(e.ctx, bob, s.ID, "mine", "")
	wantCode(t, err, api.CodeForbidden, "does not allow sessions.kill")

	killed, err := e.m.Kill(e.ctx, alice, s.ID, "maintenance window", "192.0.2.1")
	if err != nil {
		t.Fatalf("kill: %v", err)
	}
	if killed.Status != api.StatusTerminated || killed.TerminatedBy != "alice" || killed.TerminateReason != "maintenance window" {
		t.Fatalf("killed session %+v", killed)
	}
	ev := lead.event(t)
	if ev.Status != api.StatusTerminated || ev.Message != "session terminated by an administrator (alice): maintenance window" {
		t.Fatalf("kill event %+v", ev)
	}
	lead.waitClosed(t)
	data.waitClosed(t)
	waitFor(t, "target side closed", func() (int, bool) { return 0, e.echo.openConns() == 0 })

	_, err = e.m.Kill(e.ctx, alice, s.ID, "again", "")
	wantCode(t, err, api.CodeTerminated, "was terminated")
	_, err = e.m.Attach(e.ctx, bob, s.ID, api.ChannelData, "")
	wantCode(t, err, api.CodeTerminated, "was terminated")

	got := e.waitStatus(s.ID, api.StatusTerminated)
	if got.BytesUp != 4 || got.BytesDown != 4 {
		t.Errorf("bytes %d/%d, want 4/4", got.BytesUp, got.BytesDown)
	}
	audit, err := e.store.ListAudit(e.ctx, store.AuditFilter{Action: "session.kill"})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, a := range audit {
		outcomes[a.Actor+"/"+a.Outcome]++
	}
	if outcomes["alice/success"] != 1 || outcomes["carol/denied"] != 1 || outcomes["bob/denied"] != 1 {
		t.Errorf("kill audit events %v", outcomes)
	}
}

func TestKillPending(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	killed, err := e.m.Kill(e.ctx, alice, s.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if killed.Status != api.StatusTerminated || killed.StartedAt != nil || killed.TerminatedBy != "alice" {
		t.Fatalf("killed %+v", killed)
	}
	_, err = e.m.Attach(e.ctx, bob, s.ID, api.ChannelEvents, "")
	wantCode(t, err, api.CodeTerminated, "was terminated")
}

func TestPendingReaper(t *testing.T) {
	e := newEnv(t, envOptions{pendingTimeout: 100 * time.Millisecond})
	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus(s.ID, api.StatusFailed)
	if got.Error != "never connected" {
		t.Fatalf("error %q, want never connected", got.Error)
	}
}

func TestAgentLossFailsSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, lead := e.activeEcho(bob)
	e.gw.Disconnect(e.agentID, "test drops the link", false)
	ev := lead.event(t)
	if ev.Status != api.StatusFailed || ev.Error != errAgentLost {
		t.Fatalf("event %+v", ev)
	}
	got := e.waitStatus(s.ID, api.StatusFailed)
	if got.Error != errAgentLost {
		t.Fatalf("error %q", got.Error)
	}
	lead.waitClosed(t)
}

func TestTargetUnreachable(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, err := e.m.Create(e.ctx, alice, api.CreateSessionRequest{Resource: "closed"}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Attach(e.ctx, alice, s.ID, api.ChannelEvents, "")
	wantCode(t, err, api.CodeTargetFailed, "refused")
	got := e.waitStatus(s.ID, api.StatusFailed)
	if !strings.Contains(got.Error, "refused") {
		t.Fatalf("stored error %q", got.Error)
	}
}

func TestDataConnectionAsLead(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.attach(bob, s.ID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Attach(e.ctx, bob, s.ID, api.ChannelEvents, "")
	wantCode(t, err, api.CodeConflict, "already has its lead")
	io.WriteString(data.conn, "abc")
	data.conn.(*net.TCPConn).CloseWrite()
	data.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, _ := io.ReadAll(data.r); string(b) != "abc" {
		t.Fatalf("echo %q", b)
	}
	got := e.waitStatus(s.ID, api.StatusCompleted)
	waitFor(t, "final byte counts", func() (api.Session, bool) {
		got, err = e.store.GetSession(e.ctx, s.ID)
		return got, err == nil && got.BytesUp == 3 && got.BytesDown == 3
	})
}

func TestCreateDenials(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name     string
		req      api.CreateSessionRequest
		code     api.ErrorCode
		contains string
		audited  bool
	}{
		{"auditor never connects", api.CreateSessionRequest{Resource: "echo"}, api.CodeForbidden, "may not connect", true},
		{"policy", api.CreateSessionRequest{Resource: "closed"}, api.CodeForbidden, `policy denies user "bob" access to resource "closed" (type tcp) with login "": no rule matches`, true},
		{"login not allowed", api.CreateSessionRequest{Resource: "echo", Login: "root"}, api.CodeForbidden, `with login "root"`, true},
		{"unknown resource", api.CreateSessionRequest{Resource: "nope"}, api.CodeNotFound, "onepam resources ls", false},
		{"no resource", api.CreateSessionRequest{}, api.CodeInvalid, "resource is required", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := bob
			if strings.HasPrefix(tc.name, "auditor") {
				p = carol
			}
			_, err := e.m.Create(e.ctx, p, tc.req, "203.0.113.9")
			wantCode(t, err, tc.code, tc.contains)
			if !tc.audited {
				return
			}
			evs, err := e.store.ListAudit(e.ctx, store.AuditFilter{Action: "session.denied", Actor: p.User})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ev := range evs {
				if ev.Target == tc.req.Resource && ev.Outcome == api.OutcomeDenied && ev.ClientIP == "203.0.113.9" {
					found = true
				}
			}
			if !found {
				t.Fatalf("no session.denied audit event in %+v", evs)
			}
		})
	}
	// No session row was created by any denial.
	page, _, err := e.store.ListSessions(e.ctx, store.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 0 {
		t.Fatalf("denials created %d sessions", len(page))
	}
}

func TestAttachChecks(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Attach(e.ctx, alice, s.ID, api.ChannelEvents, "")
	wantCode(t, err, api.CodeForbidden, `belongs to user "bob"`)
	_, err = e.m.Attach(e.ctx, bob, s.ID, "video", "")
	wantCode(t, err, api.CodeInvalid, `unknown channel "video"`)
	_, err = e.m.Attach(e.ctx, bob, store.NewID(), api.ChannelData, "")
	wantCode(t, err, api.CodeNotFound, "not found")
	_, err = e.m.Attach(e.ctx, bob, "not-an-id", api.ChannelData, "")
	wantCode(t, err, api.CodeNotFound, "not found")
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, lead := e.activeEcho(bob)
	pending, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	shutdown := make(chan struct{})
	go func() {
		e.m.Shutdown(50 * time.Millisecond)
		close(shutdown)
	}()
	if ev := lead.event(t); !strings.Contains(ev.Message, "control server shutting down") || ev.Status != api.StatusActive {
		t.Fatalf("notice %+v", ev)
	}
	if ev := lead.event(t); ev.Status != api.StatusFailed || ev.Error != "control shut down" {
		t.Fatalf("final event %+v", ev)
	}
	<-shutdown
	if got, _ := e.store.GetSession(e.ctx, s.ID); got.Status != api.StatusFailed || got.Error != "control shut down" {
		t.Fatalf("running session after shutdown %+v", got)
	}
	if got, _ := e.store.GetSession(e.ctx, pending.ID); got.Status != api.StatusFailed {
		t.Fatalf("pending session after shutdown %+v", got)
	}
	_, err = e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	wantCode(t, err, api.CodeUnavailable, "shutting down")
}

func TestRecoverInterrupted(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	// A row left active by a previous run, unknown to this manager.
	old := api.Session{ID: store.NewID(), User: "bob", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", Agent: "a1", CreatedAt: time.Now().UTC()}
	if err := e.store.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Transition(ctx, old.ID, store.Transition{To: api.StatusActive, At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	running, err := e.m.Create(ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.m.RecoverInterrupted(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RecoverInterrupted = %d, %v", n, err)
	}
	if got, _ := e.store.GetSession(ctx, old.ID); got.Status != api.StatusFailed || got.Error != "interrupted: control restarted" {
		t.Fatalf("old session %+v", got)
	}
	if got, _ := e.store.GetSession(ctx, running.ID); got.Status != api.StatusPending {
		t.Fatalf("this run's session was touched: %+v", got)
	}
}
