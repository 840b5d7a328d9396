package storetest

import (
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testNodes(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("register-heartbeat-remove", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		a := store.ControlNode{ID: "node-a", Name: "control-1", StartedAt: base, URL: "https://control-1:7443"}
		b := store.ControlNode{ID: "node-b", Name: "control-2", StartedAt: base.Add(time.Second), HeartbeatAt: base.Add(2 * time.Second)}
		must(t, s.RegisterNode(ctx, a), "register a")
		must(t, s.RegisterNode(ctx, b), "register b")
		got, err := s.GetNode(ctx, "node-a")
		must(t, err, "get a")
		if got.ID != a.ID || got.Name != a.Name || got.URL != a.URL {
			t.Fatalf("get a: %+v", got)
		}
		sameTime(t, got.StartedAt, base, "started_at")
		sameTime(t, got.HeartbeatAt, base, "heartbeat_at defaults to started_at")

		beat := base.Add(time.Minute)
		must(t, s.NodeHeartbeat(ctx, "node-a", beat), "heartbeat")
		list, err := s.ListNodes(ctx)
		must(t, err, "list")
		if len(list) != 2 || list[0].ID != "node-a" || list[1].ID != "node-b" || list[0].URL != a.URL || list[1].URL != "" {
			t.Fatalf("list: %+v", list)
		}
		sameTime(t, list[0].HeartbeatAt, beat, "heartbeat_at")
		sameTime(t, list[1].HeartbeatAt, b.HeartbeatAt, "b's heartbeat_at")

		// The same id registered again (a restart with --node-id)
		// replaces the row.
		again := store.ControlNode{ID: "node-a", Name: "control-1b", StartedAt: base.Add(time.Hour), URL: "https://control-1b:7443"}
		must(t, s.RegisterNode(ctx, again), "register a again")
		got, err = s.GetNode(ctx, "node-a")
		must(t, err, "get a again")
		if got.Name != "control-1b" || got.URL != again.URL {
			t.Fatalf("re-registered: %+v", got)
		}
		sameTime(t, got.HeartbeatAt, again.StartedAt, "heartbeat_at after re-registering")

		must(t, s.RemoveNode(ctx, "node-a"), "remove")
		must(t, s.RemoveNode(ctx, "node-a"), "remove again")
		_, err = s.GetNode(ctx, "node-a")
		wantErr(t, err, store.ErrNotFound, "get removed")
		wantErr(t, s.NodeHeartbeat(ctx, "node-a", beat), store.ErrNotFound, "heartbeat of a removed node")
		wantErr(t, s.RegisterNode(ctx, store.ControlNode{}), store.ErrInvalid, "register without id")
		list, err = s.ListNodes(ctx)
		must(t, err, "list after remove")
		if len(list) != 1 || list[0].ID != "node-b" {
			t.Fatalf("list after remove: %+v", list)
		}
	})
	t.Run("remove-stale", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "ag-old", Name: "web", EnrolledAt: base}), "create agent")
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "ag-new", Name: "db", EnrolledAt: base}), "create agent 2")
		must(t, s.RegisterNode(ctx, store.ControlNode{ID: "old", StartedAt: base}), "register old")
		must(t, s.RegisterNode(ctx, store.ControlNode{ID: "new", StartedAt: base, HeartbeatAt: base.Add(time.Minute)}), "register new")
		must(t, s.AttachAgent(ctx, "ag-old", "old"), "attach to old")
		must(t, s.AttachAgent(ctx, "ag-new", "new"), "attach to new")
		ids, err := s.RemoveStaleNodes(ctx, base.Add(time.Second))
		must(t, err, "remove stale")
		if len(ids) != 1 || ids[0] != "old" {
			t.Fatalf("removed %v, want [old]", ids)
		}
		for id, want := range map[string]string{"ag-old": "", "ag-new": "new"} {
			a, err := s.GetAgent(ctx, id)
			must(t, err, "get agent")
			if a.NodeID != want {
				t.Fatalf("agent %s on node %q, want %q", id, a.NodeID, want)
			}
		}
		ids, err = s.RemoveStaleNodes(ctx, base.Add(time.Second))
		must(t, err, "remove stale again")
		if len(ids) != 0 {
			t.Fatalf("removed %v again", ids)
		}
	})
	t.Run("agent-node", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "ag-1", Name: "web", EnrolledAt: base}), "create agent")
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "ag-2", Name: "db", EnrolledAt: base}), "create agent 2")
		must(t, s.RegisterNode(ctx, store.ControlNode{ID: "node-a", StartedAt: base}), "register a")
		must(t, s.RegisterNode(ctx, store.ControlNode{ID: "node-b", StartedAt: base}), "register b")
		// nodeOf reads the agent's node through GetAgent and ListAgents
		// (the listings place agents by the nodes ListAgents gives).
		nodeOf := func(id string) string {
			t.Helper()
			a, err := s.GetAgent(ctx, id)
			must(t, err, "get agent")
			list, err := s.ListAgents(ctx)
			must(t, err, "list agents")
			for _, l := range list {
				if l.ID == id && l.NodeID != a.NodeID {
					t.Fatalf("agent %s: ListAgents gives node %q, GetAgent %q", id, l.NodeID, a.NodeID)
				}
			}
			return a.NodeID
		}
		steps := []struct {
			name string
			do   func() error
			want map[string]string
		}{
			{"new agents are attached nowhere", func() error { return nil }, map[string]string{"ag-1": "", "ag-2": ""}},
			{"attach to a", func() error { return s.AttachAgent(ctx, "ag-1", "node-a") }, map[string]string{"ag-1": "node-a"}},
			{"attach the other to a", func() error { return s.AttachAgent(ctx, "ag-2", "node-a") }, map[string]string{"ag-2": "node-a"}},
			{"moved to b", func() error { return s.AttachAgent(ctx, "ag-1", "node-b") }, map[string]string{"ag-1": "node-b"}},
			{"a's late detach leaves it on b", func() error { return s.DetachAgent(ctx, "ag-1", "node-a") }, map[string]string{"ag-1": "node-b"}},
			{"b's detach clears it", func() error { return s.DetachAgent(ctx, "ag-1", "node-b") }, map[string]string{"ag-1": ""}},
			{"removing a node detaches its agents", func() error { return s.RemoveNode(ctx, "node-a") }, map[string]string{"ag-1": "", "ag-2": ""}},
		}
		for _, st := range steps {
			must(t, st.do(), st.name)
			for id, want := range st.want {
				if got := nodeOf(id); got != want {
					t.Fatalf("%s: agent %s on node %q, want %q", st.name, id, got, want)
				}
			}
		}
		wantErr(t, s.AttachAgent(ctx, "nope", "node-b"), store.ErrNotFound, "attach an unknown agent")
	})
	t.Run("session-node", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		on := newSession(base, api.TypeTCP, "alice", "echo")
		on.NodeID = "node-a"
		legacy := newSession(base.Add(time.Second), api.TypeTCP, "alice", "echo")
		must(t, s.CreateSession(ctx, on), "create on a node")
		must(t, s.CreateSession(ctx, legacy), "create without a node")
		un, err := s.UnfinishedSessions(ctx, "")
		must(t, err, "unfinished")
		if len(un) != 2 || un[0].NodeID != "node-a" || un[1].NodeID != "" {
			t.Fatalf("unfinished: %+v", un)
		}
		page, _, err := s.ListSessions(ctx, store.SessionFilter{})
		must(t, err, "list")
		if len(page) != 2 || page[1].NodeID != "node-a" {
			t.Fatalf("list: %+v", page)
		}
	})
}
