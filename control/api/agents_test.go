package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// TestListingNodes checks where the agent and resource listings place
// agents that are not connected to the answering node: online with their
// node while its row's heartbeat is within the timeout on a shared
// database, offline otherwise (a stale or missing node, a row naming the
// answering node that no longer holds the agent, a revoked agent, and
// every agent on a database that is not shared).
func TestListingNodes(t *testing.T) {
	const timeout = time.Hour
	type place struct {
		online     bool
		node, name string
	}
	offline := place{}
	onLive := place{true, "node-live", "control-2"}
	onUnnamed := place{true, "node-unnamed", "node-unnamed"}
	// agents: name → the node its row names.
	agents := map[string]string{
		"on-live": "node-live", "on-unnamed": "node-unnamed", "on-stale": "node-stale", "on-gone": "node-gone",
		"on-self": "node-self", "nowhere": "", "revoked": "node-live",
	}
	cases := []struct {
		name   string
		shared bool
		want   map[string]place // agent name → place; its resource NAME-res is placed alike
	}{
		{"shared", true, map[string]place{
			"on-live": onLive, "on-unnamed": onUnnamed, "on-stale": offline, "on-gone": offline,
			"on-self": offline, "nowhere": offline, "revoked": offline,
		}},
		{"not shared", false, map[string]place{
			"on-live": offline, "on-unnamed": offline, "on-stale": offline, "on-gone": offline,
			"on-self": offline, "nowhere": offline, "revoked": offline,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ta := newTestAPIWith(t, false, func(c *controlapi.Config) {
				c.Node = controlapi.Node{ID: "node-self", Name: "control-1", Shared: tc.shared, Timeout: timeout}
			})
			st, now := ta.store, time.Now()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range []store.ControlNode{
				{ID: "node-self", Name: "control-1", StartedAt: now},
				{ID: "node-live", Name: "control-2", StartedAt: now},
				{ID: "node-unnamed", StartedAt: now},
				{ID: "node-stale", Name: "control-3", StartedAt: now.Add(-2 * timeout)},
			} {
				must(st.RegisterNode(ctx, n))
			}
			for name, node := range agents {
				id := store.NewID()
				must(st.CreateAgent(ctx, store.AgentRecord{ID: id, Name: name, EnrolledAt: now}))
				refused, err := st.SetAgentResources(ctx, id, []api.Resource{{Name: name + "-res", Type: api.TypeTCP}})
				if err != nil || len(refused) != 0 {
					t.Fatalf("resources of %s: %v %v", name, refused, err)
				}
				if node != "" {
					must(st.AttachAgent(ctx, id, node))
				}
				if name == "revoked" {
					must(st.RevokeAgent(ctx, id, now))
				}
			}

			status, body := ta.call("alice", "GET", "/v1/agents", nil)
			var as []api.Agent
			if status != 200 || json.Unmarshal(body, &as) != nil || len(as) != len(agents) {
				t.Fatalf("list agents %d %s", status, body)
			}
			for _, a := range as {
				if got, want := (place{a.Online, a.NodeID, a.NodeName}), tc.want[a.Name]; got != want {
					t.Errorf("agent %s: %+v, want %+v", a.Name, got, want)
				}
			}
			status, body = ta.call("alice", "GET", "/v1/resources", nil)
			var rs []api.Resource
			// The revoked agent's resources were removed with it.
			if status != 200 || json.Unmarshal(body, &rs) != nil || len(rs) != len(agents)-1 {
				t.Fatalf("list resources %d %s", status, body)
			}
			for _, r := range rs {
				if got, want := (place{r.Online, r.NodeID, r.NodeName}), tc.want[r.Agent]; got != want {
					t.Errorf("resource %s: %+v, want %+v", r.Name, got, want)
				}
			}
		})
	}
}
