package sessions

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/clocktest"
)

// offlineGateway has no agent online.
type offlineGateway struct{}

func (offlineGateway) Online(string) bool { return false }
func (offlineGateway) OpenStream(context.Context, string, api.StreamKind, any) (net.Conn, error) {
	return nil, errors.New("offline")
}

// nodeManager returns a manager of node "self" on a new SQLite store,
// with a fake clock, that nobody runs (the test calls Sweep).
func nodeManager(t *testing.T, shared bool) (*Manager, *sqlite.Store, *clocktest.Clock) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clocktest.New(time.Now().UTC())
	m, err := New(Config{Store: st, Gateway: offlineGateway{}, Logger: testLogger(t), Clock: clk.Now,
		Node: Node{ID: "self", Name: "control-self", Shared: shared, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Join(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m, st, clk
}

// leftSession inserts an active session carried by node.
func leftSession(t *testing.T, st *sqlite.Store, node string, at time.Time) string {
	t.Helper()
	s := api.Session{ID: store.NewID(), User: "bob", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", Agent: "a1", NodeID: node, CreatedAt: at}
	if err := st.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Transition(t.Context(), s.ID, store.Transition{To: api.StatusActive, At: at}); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// TestSweep checks which sessions the sweep fails: those no live node
// carries, with a detail saying why, and never those of a live node.
func TestSweep(t *testing.T) {
	const stopped = "interrupted: control node other (dead-node) stopped"
	cases := []struct {
		name   string
		shared bool
		node   string // the node of the session left active
		// stale: the node's heartbeat is older than the timeout.
		stale     bool
		noRow     bool // the node has no row
		wantError string
	}{
		{"no node (a row from before nodes)", true, "", false, false, "interrupted: control restarted"},
		{"this node's previous run", true, "self", false, false, "interrupted: control restarted"},
		{"a live node", true, "live-node", false, false, ""},
		{"a node whose heartbeat stopped", true, "dead-node", true, false, stopped},
		{"a node whose row is gone", true, "gone-node", false, true, "interrupted: control node gone-node stopped"},
		{"one process at a time: a live row is an earlier run", false, "live-node", false, false, "interrupted: control restarted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			m, st, clk := nodeManager(t, tc.shared)
			start := clk.Now()
			for _, n := range []store.ControlNode{
				{ID: "live-node", Name: "other", StartedAt: start},
				{ID: "dead-node", Name: "other", StartedAt: start},
			} {
				if err := st.RegisterNode(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
			id := leftSession(t, st, tc.node, start)
			clk.Add(20 * time.Second)
			// Every node but dead-node heartbeats; then 20 s more: the dead
			// node's heartbeat is 40 s old, the others' 20 s.
			for _, n := range []string{"self", "live-node"} {
				if err := st.NodeHeartbeat(ctx, n, clk.Now()); err != nil {
					t.Fatal(err)
				}
			}
			clk.Add(20 * time.Second)
			n, err := m.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.GetSession(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantError == "" {
				if n != 0 || got.Status != api.StatusActive {
					t.Fatalf("swept %d; session of a live node %s %q", n, got.Status, got.Error)
				}
			} else if n != 1 || got.Status != api.StatusFailed || got.Error != tc.wantError {
				t.Fatalf("swept %d; session %s %q, want failed %q", n, got.Status, got.Error, tc.wantError)
			}
			// The stopped node's row is removed; the live ones stay.
			nodes, err := st.ListNodes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, n := range nodes {
				ids = append(ids, n.ID)
			}
			if len(ids) != 2 || ids[0] != "live-node" || ids[1] != "self" {
				t.Fatalf("nodes after the sweep %v, want [live-node self]", ids)
			}
		})
	}
}

// TestAgentOnOtherNode checks the answer to a session whose agent is not
// attached here: other_node naming the node while it lives, the agent
// offline once it stopped.
func TestAgentOnOtherNode(t *testing.T) {
	ctx := t.Context()
	m, st, clk := nodeManager(t, true)
	if err := st.CreateAgent(ctx, store.AgentRecord{ID: "agent-1", Name: "db-agent", EnrolledAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAgentResources(ctx, "agent-1", []api.Resource{{Name: "echo", Type: api.TypeTCP, Address: "127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []api.PolicyRule{{ID: store.NewID(), Subject: "role:admin", Resources: []string{"*"}, Logins: []string{"*"}}} {
		if err := st.AddPolicyRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RegisterNode(ctx, store.ControlNode{ID: "node-b", Name: "control-b", URL: "https://control-b:7443", StartedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		attach   string // the agent's node
		advance  time.Duration
		code     api.ErrorCode
		contains string
	}{
		{"attached nowhere", "", 0, api.CodeTargetFailed, `agent "db-agent" serving resource "echo" is offline`},
		{"attached to a live node", "node-b", 0, api.CodeOtherNode,
			`agent "db-agent" serving resource "echo" is attached to control node control-b (node-b), not to this one (control-self (self)): connect through that node`},
		{"attached to a node that stopped", "node-b", time.Minute, api.CodeTargetFailed, "is offline"},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.attach != "" {
				if err := st.AttachAgent(ctx, "agent-1", step.attach); err != nil {
					t.Fatal(err)
				}
			}
			clk.Add(step.advance)
			_, err := m.Create(ctx, alice, api.CreateSessionRequest{Resource: "echo"}, "")
			wantCode(t, err, step.code, step.contains)
			if step.code == api.CodeOtherNode {
				if api.CodeOtherNode.HTTPStatus() != 421 {
					t.Fatalf("other_node is HTTP %d, want 421", api.CodeOtherNode.HTTPStatus())
				}
				// The API forwards to the node's URL: the error carries it.
				var oe *OtherNodeError
				if !errors.As(err, &oe) || oe.Node.ID != "node-b" || oe.Node.URL != "https://control-b:7443" {
					t.Fatalf("error %#v does not carry node-b and its URL", err)
				}
			}
		})
	}
}

// TestCarrier checks which node a kill of a session this node does not
// run is sent to: the session's node while it is live and the session
// unfinished, none otherwise.
func TestCarrier(t *testing.T) {
	ctx := t.Context()
	m, st, clk := nodeManager(t, true)
	if err := st.RegisterNode(ctx, store.ControlNode{ID: "node-b", Name: "control-b", URL: "https://control-b:7443", StartedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	onB := leftSession(t, st, "node-b", clk.Now())
	ended := leftSession(t, st, "node-b", clk.Now())
	if _, err := st.Transition(ctx, ended, store.Transition{To: api.StatusCompleted, At: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	own := leftSession(t, st, "self", clk.Now())
	cases := []struct {
		name    string
		id      string
		advance time.Duration
		want    string // the node, "" for none
	}{
		{"unfinished on a live node", onB, 0, "node-b"},
		{"ended", ended, 0, ""},
		{"this node's", own, 0, ""},
		{"unknown", store.NewID(), 0, ""},
		{"on a node that stopped", onB, time.Minute, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(tc.advance)
			n, ok := m.Carrier(ctx, tc.id)
			if ok != (tc.want != "") || n.ID != tc.want {
				t.Fatalf("carrier %q (%v), want %q", n.ID, ok, tc.want)
			}
			if ok && n.URL != "https://control-b:7443" {
				t.Fatalf("carrier's URL %q", n.URL)
			}
		})
	}
}
