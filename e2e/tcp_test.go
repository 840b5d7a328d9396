package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/connlog"
)

// TestTCPSessions runs the foundation's TCP acceptance on one control and
// one agent, each subtest a separate scenario.
func TestTCPSessions(t *testing.T) {
	requirePeer(t, "psql")
	w := newWorld(t)

	t.Run("psql through a tcp session", func(t *testing.T) {
		tun := tcpConnect(t, w.admin, "pg")
		waitStatus(t, w.admin, tun.ID, api.StatusActive, 10*time.Second)
		active := sessions(t, w.admin, "--status", "active", "--type", "tcp")
		if !containsID(active, tun.ID) {
			t.Fatalf("sessions ls --status active --type tcp lacks %s: %+v", tun.ID, active)
		}
		_, port, _ := net.SplitHostPort(tun.Addr)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres",
			"-At", "-c", "select 1").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Fatalf("psql through the tunnel: %v: %q", err, out)
		}
		stopConnect(t, tun)
		s := waitStatus(t, w.admin, tun.ID, api.StatusCompleted, 10*time.Second)
		if s.BytesUp == 0 || s.BytesDown == 0 {
			t.Fatalf("completed session has no byte counts: up %d down %d", s.BytesUp, s.BytesDown)
		}
		evs := replay(t, w, tun.ID)
		var up, down int64
		for _, e := range evs {
			if e.Event == "close" {
				up += e.BytesUp
				down += e.BytesDown
			}
		}
		// Up: everything psql sent crossed both hops. Down: psql closes first,
		// so the server's last bytes may still be in flight from the agent
		// (in its connection log) when control, whose person side is gone,
		// drops them; control never counts more than the agent sent.
		if up != s.BytesUp || s.BytesDown > down || s.BytesDown < down-64 {
			t.Fatalf("connection log bytes up %d down %d, session bytes up %d down %d", up, down, s.BytesUp, s.BytesDown)
		}
	})

	t.Run("byte counts equal what crossed", func(t *testing.T) {
		tun := tcpConnect(t, w.admin, "echo")
		const n = 3<<20 + 12345
		for i := 0; i < 2; i++ { // two connections of one session
			echoRoundTrip(t, tun.Addr, n)
		}
		tun.Signal(syscall.SIGINT)
		if _, err := tun.Wait(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		s := waitStatus(t, w.admin, tun.ID, api.StatusCompleted, 10*time.Second)
		if s.BytesUp != 2*n || s.BytesDown != 2*n {
			t.Fatalf("bytes up %d down %d, want %d each", s.BytesUp, s.BytesDown, 2*n)
		}
		e2etest.WaitFor(t, 10*time.Second, "recording complete", func() bool {
			return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
		})
		evs := replay(t, w, tun.ID)
		opens, closes := 0, 0
		for _, e := range evs {
			switch e.Event {
			case "open":
				opens++
			case "close":
				closes++
				if e.BytesUp != n || e.BytesDown != n {
					t.Errorf("connection %d: up %d down %d, want %d", e.Conn, e.BytesUp, e.BytesDown, n)
				}
			}
		}
		if opens != 2 || closes != 2 {
			t.Fatalf("connection log has %d opens and %d closes, want 2 and 2: %+v", opens, closes, evs)
		}
	})

	t.Run("closed port fails with the error", func(t *testing.T) {
		r := w.admin.Run("tcp", "connect", "closed", "--listen", "127.0.0.1:0")
		if r.Code != 6 {
			t.Fatalf("tcp connect to a closed port: exit %d, want 6 (target failed)\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "refused") {
			t.Fatalf("error does not say connection refused: %s", r.Stderr)
		}
		failed := sessions(t, w.admin, "--status", "failed", "--resource", "closed")
		if len(failed) == 0 || !strings.Contains(failed[0].Error, "refused") {
			t.Fatalf("no failed session with the error: %+v", failed)
		}
	})

	t.Run("kill an active session", func(t *testing.T) {
		tun := tcpConnect(t, w.admin, "echo")
		conn, err := net.Dial("tcp", tun.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		if _, err := conn.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := e2etest.ReadLineTimeout(conn, br, 10*time.Second); err != nil || line != "ping\n" {
			t.Fatalf("echo before kill: %q %v", line, err)
		}
		w.admin.MustRun("sessions", "kill", tun.ID, "--reason", "incident 42")
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("client connection still open after kill")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("client connection not closed by kill")
		}
		code, err := tun.Wait(10 * time.Second)
		if err != nil || code != 7 {
			t.Fatalf("tcp connect after kill: exit %d (%v), want 7\n%s", code, err, tun.Output())
		}
		if !strings.Contains(tun.Output(), "terminated") {
			t.Fatalf("tcp connect did not say the session was terminated:\n%s", tun.Output())
		}
		s := waitStatus(t, w.admin, tun.ID, api.StatusTerminated, 5*time.Second)
		if s.TerminatedBy != "admin" || s.TerminateReason != "incident 42" {
			t.Fatalf("terminated_by %q reason %q", s.TerminatedBy, s.TerminateReason)
		}
		if !hasEvent(s.Timeline, api.EventTerminated) {
			t.Fatalf("timeline lacks terminated: %+v", s.Timeline)
		}
		e2etest.WaitFor(t, 10*time.Second, "recording finalised", func() bool {
			return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
		})
	})

	t.Run("kill a pending session", func(t *testing.T) {
		c := apiClient(t, w.ctl, w.ctl.AdminToken)
		ctx := context.Background()
		s, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != api.StatusPending {
			t.Fatalf("new session is %s, want pending", s.Status)
		}
		w.admin.MustRun("sessions", "kill", s.ID, "--reason", "not today")
		got := session(t, w.admin, s.ID)
		if got.Status != api.StatusTerminated || got.StartedAt != nil {
			t.Fatalf("killed pending session: %+v", got)
		}
		if _, err := c.Connect(ctx, s.ID, api.ChannelEvents); api.CodeOf(err) != api.CodeTerminated {
			t.Fatalf("attaching to a terminated session: %v, want code terminated", err)
		}
		if r := w.admin.Run("sessions", "kill", s.ID); r.Code == 0 {
			t.Fatal("killing a terminated session again succeeded")
		}
	})

	t.Run("policy denies a user", func(t *testing.T) {
		bob := w.ctl.AddUser(t, w.admin, "bob", "user")
		r := bob.Run("tcp", "connect", "echo", "--listen", "127.0.0.1:0")
		if r.Code != 4 {
			t.Fatalf("denied connect: exit %d, want 4\n%s", r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "policy") || strings.Count(strings.TrimSpace(r.Stderr), "\n") > 0 {
			t.Fatalf("denial is not a one-line policy reason: %q", r.Stderr)
		}
		var audit []api.AuditEvent
		if err := json.Unmarshal([]byte(w.admin.MustRun("audit", "ls", "--action", "session.denied", "-o", "json")), &audit); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range audit {
			found = found || (e.Actor == "bob" && e.Outcome == api.OutcomeDenied)
		}
		if !found {
			t.Fatalf("no session.denied audit event for bob: %+v", audit)
		}
		if ss := sessions(t, w.admin, "--user", "bob"); len(ss) != 0 {
			t.Fatalf("a denied connection created sessions: %+v", ss)
		}
		w.admin.MustRun("policy", "add", "--subject", "user:bob", "--resource", "echo", "--type", "tcp")
		tun := tcpConnect(t, bob, "echo")
		echoRoundTrip(t, tun.Addr, 1000)
		tun.Signal(syscall.SIGINT)
		_, _ = tun.Wait(10 * time.Second)
		own := sessions(t, bob)
		if len(own) == 0 {
			t.Fatal("bob sees none of his sessions")
		}
		for _, s := range own {
			if s.User != "bob" {
				t.Fatalf("user bob sees a session of %s", s.User)
			}
		}
		if r := bob.Run("tcp", "connect", "pg", "--listen", "127.0.0.1:0"); r.Code != 4 {
			t.Fatalf("bob reached pg outside his rule: exit %d", r.Code)
		}
	})

	t.Run("auditor cannot kill or connect", func(t *testing.T) {
		tun := tcpConnect(t, w.admin, "echo")
		defer tun.Signal(syscall.SIGINT)
		eve := w.ctl.AddUser(t, w.admin, "eve", "auditor")
		if got := sessions(t, eve, "--status", "active"); !containsID(got, tun.ID) {
			t.Fatal("auditor does not see the active session")
		}
		if r := eve.Run("sessions", "kill", tun.ID); r.Code != 4 {
			t.Fatalf("auditor kill: exit %d, want 4\n%s", r.Code, r.Stderr)
		}
		if s := session(t, w.admin, tun.ID); s.Status != api.StatusActive {
			t.Fatalf("session is %s after the auditor's kill", s.Status)
		}
		if r := eve.Run("tcp", "connect", "echo", "--listen", "127.0.0.1:0"); r.Code != 4 {
			t.Fatalf("auditor connect: exit %d, want 4", r.Code)
		}
	})

	t.Run("sessions ls filters and JSON shape", func(t *testing.T) {
		all := sessions(t, w.admin, "--limit", "1000")
		if len(all) < 5 {
			t.Fatalf("expected several sessions by now, got %d", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i-1].ID < all[i].ID {
				t.Fatalf("not newest first at %d", i)
			}
		}
		for _, tc := range []struct {
			args []string
			keep func(api.Session) bool
		}{
			{[]string{"--status", "failed"}, func(s api.Session) bool { return s.Status == api.StatusFailed }},
			{[]string{"--status", "completed,terminated"}, func(s api.Session) bool {
				return s.Status == api.StatusCompleted || s.Status == api.StatusTerminated
			}},
			{[]string{"--status", "completed", "--status", "failed"}, func(s api.Session) bool {
				return s.Status == api.StatusCompleted || s.Status == api.StatusFailed
			}},
			{[]string{"--type", "tcp"}, func(s api.Session) bool { return s.Type == api.TypeTCP }},
			{[]string{"--type", "ssh"}, func(s api.Session) bool { return s.Type == api.TypeSSH }},
			{[]string{"--user", "bob"}, func(s api.Session) bool { return s.User == "bob" }},
			{[]string{"--resource", "pg"}, func(s api.Session) bool { return s.Resource == "pg" }},
			{[]string{"--since", all[len(all)-1].CreatedAt.Add(time.Millisecond).Format(time.RFC3339Nano)}, func(s api.Session) bool {
				return s.ID != all[len(all)-1].ID
			}},
		} {
			t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
				got := sessions(t, w.admin, append(tc.args, "--limit", "1000")...)
				var want []string
				for _, s := range all {
					if tc.keep(s) {
						want = append(want, s.ID)
					}
				}
				if ids(got) != strings.Join(want, ",") {
					t.Fatalf("got %s\nwant %s", ids(got), strings.Join(want, ","))
				}
			})
		}
		if got := sessions(t, w.admin, "--limit", "2"); len(got) != 2 {
			t.Fatalf("--limit 2 gave %d", len(got))
		}
		raw := w.admin.MustRun("sessions", "ls", "-o", "json", "--limit", "1")
		var objs []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &objs); err != nil || len(objs) != 1 {
			t.Fatalf("raw JSON: %v %s", err, raw)
		}
		for _, k := range []string{"id", "user", "type", "status", "resource", "agent", "login", "client_ip", "created_at",
			"started_at", "ended_at", "duration_seconds", "bytes_up", "bytes_down", "error", "terminated_by", "recording", "timeline"} {
			if _, ok := objs[0][k]; !ok {
				t.Errorf("session JSON lacks %q: %s", k, raw)
			}
		}
		if r := w.admin.Run("sessions", "ls", "--status", "bogus"); r.Code != 2 && r.Code != 1 {
			t.Fatalf("bad status: exit %d", r.Code)
		}
	})
}

func containsID(ss []api.Session, id string) bool {
	for _, s := range ss {
		if s.ID == id {
			return true
		}
	}
	return false
}

func ids(ss []api.Session) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.ID)
	}
	return b.String()
}

func hasEvent(tl []api.TimelineEvent, ev string) bool {
	for _, e := range tl {
		if e.Event == ev {
			return true
		}
	}
	return false
}

// echoRoundTrip sends n random bytes through addr to the echo service and
// checks they come back unchanged.
func echoRoundTrip(t *testing.T, addr string, n int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, n)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(data)
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(got) != n || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("echo returned %d bytes (want %d), equal=%v", len(got), n, bytes.Equal(got, data))
	}
}

func replay(t *testing.T, w *world, id string) []connlog.Event {
	t.Helper()
	out := w.admin.MustRun("sessions", "replay", id, "-o", "json")
	var evs []connlog.Event
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("replay -o json: %v\n%s", err, out)
	}
	return evs
}
