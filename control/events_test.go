package control

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/clocktest"
)

// sessionStream is an open GET /v1/sessions/stream of one node: its
// events in order; events is closed when the stream ends.
type sessionStream struct {
	events <-chan sessions.Event
}

// openSessionStream opens the session stream of r with token and waits
// for its first line (the subscription is made before it).
func openSessionStream(t *testing.T, r *running, token string) *sessionStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+r.APIAddr().String()+"/v1/sessions/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.CACertPEM())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		res.Body.Close()
		t.Fatalf("session stream: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		t.Fatalf("session stream ended at once: %v", sc.Err())
	}
	events := make(chan sessions.Event, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev sessions.Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Errorf("stream event %q: %v", data, err)
				return
			}
			events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		res.Body.Close()
		<-done
		hc.CloseIdleConnections()
	})
	return &sessionStream{events: events}
}

// next returns the stream's next event; ok is false when it ended.
func (s *sessionStream) next(t *testing.T) (sessions.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(15 * time.Second):
		t.Fatal("no session event within 15 s")
	}
	return sessions.Event{}, false
}

// want fails unless the next event is kind of session id with status.
func (s *sessionStream) want(t *testing.T, who, kind, id string, status api.SessionStatus) sessions.Event {
	t.Helper()
	ev, ok := s.next(t)
	if !ok {
		t.Fatalf("%s: stream ended, want %s of %s", who, kind, id)
	}
	if ev.Kind != kind || ev.Session.ID != id || ev.Session.Status != status {
		t.Fatalf("%s: event %s of %s (%s), want %s of %s (%s)", who, ev.Kind, ev.Session.ID, ev.Session.Status, kind, id, status)
	}
	return ev
}

// listening waits until r's event relay listens for the n-th time.
func (r *running) listening(t *testing.T, n int) sessions.RelayStatus {
	t.Helper()
	if r.relay == nil {
		t.Fatal("no event relay on a PostgreSQL node")
	}
	return waitFor(t, "the event relay to listen", func() (sessions.RelayStatus, bool) {
		st := r.relay.Status()
		return st, st.Listening && st.Listens >= n
	})
}

// TestClusterSessionStream runs two control nodes on one PostgreSQL
// database, the agent attached to A: a subscriber of B's session stream
// sees the created, changed and ended events of a session A carries; A's
// own subscriber sees each once (none comes back to A through the
// database); after B's listening connection is killed B listens again,
// its subscribers are told to reload (their stream ends), and a new
// subscriber sees later events.
func TestClusterSessionStream(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	clk := clocktest.New(time.Now().UTC())
	a := startClusterNode(t, db, "", "control-a", clk)
	token := a.FirstAdminToken()
	viaA := a.client(t, token)
	startAgent(t, a, agent.ResourceConfig{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echoServer(t)})
	waitFor(t, "resource online", func() (bool, bool) {
		rs, err := viaA.ListResources(ctx, client.ResourceQuery{Type: api.TypeTCP})
		return true, err == nil && len(rs) == 1 && rs[0].Online
	})
	b := startClusterNode(t, db, "", "control-b", clk)
	a.listening(t, 1)
	b.listening(t, 1)
	onA, onB := openSessionStream(t, a, token), openSessionStream(t, b, token)

	var s api.Session
	t.Run("B's subscriber sees A's session; A's sees each event once", func(t *testing.T) {
		var closeEvents func()
		s, _, closeEvents = activeEcho(ctx, t, viaA)
		if s.NodeID != a.NodeID() {
			t.Fatalf("session on node %q, want A's %q", s.NodeID, a.NodeID())
		}
		closeEvents() // the lead goes: the session completes
		for _, want := range []struct {
			kind   string
			status api.SessionStatus
		}{
			{sessions.EventKindCreated, api.StatusPending},
			{sessions.EventKindChanged, api.StatusActive},
			{sessions.EventKindEnded, api.StatusCompleted},
		} {
			ev := onB.want(t, "B", want.kind, s.ID, want.status)
			if ev.Session.NodeID != a.NodeID() || ev.Session.Resource != "echo" {
				t.Fatalf("B: session %+v", ev.Session)
			}
			onA.want(t, "A", want.kind, s.ID, want.status)
		}
		// B saw A's last notice, so it is in the database's queue before
		// this one (from no node, of the session read back from the
		// database): A's next event is this one, nothing of its own.
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		payload := `{"v":1,"node":"test-node","kind":"changed","id":"` + s.ID + `"}`
		if _, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, sessions.DefaultRelayChannel, payload); err != nil {
			t.Fatal(err)
		}
		onA.want(t, "A", sessions.EventKindChanged, s.ID, api.StatusCompleted)
		onB.want(t, "B", sessions.EventKindChanged, s.ID, api.StatusCompleted)
	})

	t.Run("B listens again after its connection is killed", func(t *testing.T) {
		before := b.relay.Status()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var killed bool
		if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int64(before.PID)).Scan(&killed); err != nil || !killed {
			t.Fatalf("pg_terminate_backend(%d): %v, %v", before.PID, killed, err)
		}
		// The stream ends once B listens again: subscribers reload.
		for {
			ev, ok := onB.next(t)
			if !ok {
				break
			}
			t.Fatalf("B: event %s of %s after its connection was killed", ev.Kind, ev.Session.ID)
		}
		after := b.listening(t, before.Listens+1)
		if after.PID == before.PID {
			t.Fatalf("B listens on the killed connection %d", after.PID)
		}
		again := openSessionStream(t, b, token)
		later, err := viaA.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		again.want(t, "B", sessions.EventKindCreated, later.ID, api.StatusPending)
		onA.want(t, "A", sessions.EventKindCreated, later.ID, api.StatusPending)
		if _, err := viaA.KillSession(ctx, later.ID, "test"); err != nil {
			t.Fatal(err)
		}
		again.want(t, "B", sessions.EventKindEnded, later.ID, api.StatusTerminated)
	})
}
