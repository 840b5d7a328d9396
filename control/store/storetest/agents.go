package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testAgents(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("create-get-list-seen", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		a := store.AgentRecord{ID: "agent-id-1", Name: "web", Hostname: "web-1", Version: "v0.1.0",
			CertSerial: "0a1b", EnrolledAt: base, RemoteAddr: "127.0.0.1:5000"}
		must(t, s.CreateAgent(ctx, a), "create")
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "agent-id-2", Name: "db", EnrolledAt: base}), "create db")
		for _, get := range []func() (store.AgentRecord, error){
			func() (store.AgentRecord, error) { return s.GetAgent(ctx, a.ID) },
			func() (store.AgentRecord, error) { return s.GetAgentByName(ctx, a.Name) },
		} {
			got, err := get()
			must(t, err, "get")
			if got.ID != a.ID || got.Name != a.Name || got.Hostname != a.Hostname || got.Version != a.Version ||
				got.CertSerial != a.CertSerial || got.RemoteAddr != a.RemoteAddr || got.LastSeenAt != nil || got.RevokedAt != nil {
				t.Fatalf("get: got %+v, want %+v", got, a)
			}
			sameTime(t, got.EnrolledAt, base, "enrolled_at")
		}
		seen := base.Add(time.Minute)
		must(t, s.AgentSeen(ctx, a.ID, seen, "v0.2.0", "web-2", "127.0.0.1:6000"), "seen")
		must(t, s.AgentSeen(ctx, a.ID, seen.Add(time.Second), "", "", ""), "heartbeat")
		got, err := s.GetAgent(ctx, a.ID)
		must(t, err, "get after seen")
		want := seen.Add(time.Second)
		sameTimePtr(t, got.LastSeenAt, &want, "last_seen_at")
		if got.Version != "v0.2.0" || got.Hostname != "web-2" || got.RemoteAddr != "127.0.0.1:6000" {
			t.Fatalf("after seen: %+v", got)
		}
		list, err := s.ListAgents(ctx)
		must(t, err, "list")
		if len(list) != 2 || list[0].Name != "db" || list[1].Name != "web" {
			t.Fatalf("list: %+v", list)
		}
	})
	t.Run("errors", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "a1", Name: "web", EnrolledAt: base}), "create")
		tests := []struct {
			name   string
			err    error
			target error
		}{
			{"duplicate name", s.CreateAgent(ctx, store.AgentRecord{ID: "a2", Name: "web"}), store.ErrConflict},
			{"duplicate id", s.CreateAgent(ctx, store.AgentRecord{ID: "a1", Name: "other"}), store.ErrConflict},
			{"get missing", func() error { _, err := s.GetAgent(ctx, "nope"); return err }(), store.ErrNotFound},
			{"get missing name", func() error { _, err := s.GetAgentByName(ctx, "nope"); return err }(), store.ErrNotFound},
			{"revoke missing", s.RevokeAgent(ctx, "nope", base), store.ErrNotFound},
			{"seen missing", s.AgentSeen(ctx, "nope", base, "", "", ""), store.ErrNotFound},
			{"resources of missing", func() error { _, err := s.SetAgentResources(ctx, "nope", nil); return err }(), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.target, tc.name) })
		}
	})
	t.Run("revoke-and-reenroll", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "a1", Name: "web", EnrolledAt: base}), "create")
		_, err := s.SetAgentResources(ctx, "a1", []api.Resource{{Name: "echo", Type: api.TypeTCP, Address: "127.0.0.1:7"}})
		must(t, err, "resources")
		at := base.Add(time.Hour)
		must(t, s.RevokeAgent(ctx, "a1", at), "revoke")
		must(t, s.RevokeAgent(ctx, "a1", at.Add(time.Hour)), "revoke again")
		got, err := s.GetAgent(ctx, "a1")
		must(t, err, "get revoked")
		sameTimePtr(t, got.RevokedAt, &at, "revoked_at (the first revocation is kept)")
		_, err = s.GetResource(ctx, "echo")
		wantErr(t, err, store.ErrNotFound, "a revoked agent's resource")
		_, err = s.SetAgentResources(ctx, "a1", []api.Resource{{Name: "echo", Type: api.TypeTCP}})
		wantErr(t, err, store.ErrConflict, "inventory of a revoked agent")

		// The name is free again for a new enrollment.
		must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "a2", Name: "web", EnrolledAt: at.Add(time.Minute)}), "re-enroll")
		byName, err := s.GetAgentByName(ctx, "web")
		must(t, err, "by name")
		if byName.ID != "a2" {
			t.Fatalf("by name after re-enrollment: got %s, want the live agent a2", byName.ID)
		}
		list, err := s.ListAgents(ctx)
		must(t, err, "list")
		if len(list) != 2 {
			t.Fatalf("list includes revoked agents: got %d, want 2", len(list))
		}
		wantErr(t, s.CreateAgent(ctx, store.AgentRecord{ID: "a3", Name: "web"}), store.ErrConflict, "second live agent named web")
	})
}

func testResources(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "id-a", Name: "alpha", EnrolledAt: base}), "create alpha")
	must(t, s.CreateAgent(ctx, store.AgentRecord{ID: "id-b", Name: "beta", EnrolledAt: base}), "create beta")
	refused, err := s.SetAgentResources(ctx, "id-a", []api.Resource{
		{Name: "pg", Type: api.TypeDB, Protocol: "postgres", Labels: map[string]string{"env": "prod", "team": "data"}, Description: "main db", Address: "127.0.0.1:5432"},
		{Name: "echo", Type: api.TypeTCP, Labels: map[string]string{"env": "dev"}, Address: "127.0.0.1:7"},
		{Name: "shell", Type: api.TypeSSH, Address: "127.0.0.1:22"},
		{Name: "shell", Type: api.TypeSSH, Address: "127.0.0.1:2222"},
		{Name: "weird", Type: "gopher"},
	})
	must(t, err, "set alpha")
	wantRefused(t, refused, map[string]string{"shell": "twice", "weird": "type"})
	refused, err = s.SetAgentResources(ctx, "id-b", []api.Resource{
		{Name: "pg", Type: api.TypeDB},
		{Name: "web", Type: api.TypeHTTP, Labels: map[string]string{"env": "prod"}, Address: "127.0.0.1:8080"},
	})
	must(t, err, "set beta")
	wantRefused(t, refused, map[string]string{"pg": "alpha"})

	pg, err := s.GetResource(ctx, "pg")
	must(t, err, "get pg")
	if pg.AgentID != "id-a" || pg.Agent != "alpha" || pg.Type != api.TypeDB || pg.Description != "main db" ||
		pg.Address != "127.0.0.1:5432" || pg.Protocol != "postgres" || fmt.Sprint(pg.Labels) != "map[env:prod team:data]" {
		t.Fatalf("get pg: %+v", pg)
	}
	shell, err := s.GetResource(ctx, "shell")
	must(t, err, "get shell")
	if shell.Address != "127.0.0.1:22" || shell.Labels == nil {
		t.Fatalf("get shell (first of the repeated name kept, labels an empty map): %+v", shell)
	}
	_, err = s.GetResource(ctx, "weird")
	wantErr(t, err, store.ErrNotFound, "refused resource")

	filters := []struct {
		name string
		f    store.ResourceFilter
		want string
	}{
		{"all", store.ResourceFilter{}, "echo pg shell web"},
		{"type db", store.ResourceFilter{Types: []api.SessionType{api.TypeDB}}, "pg"},
		{"types tcp,http", store.ResourceFilter{Types: []api.SessionType{api.TypeTCP, api.TypeHTTP}}, "echo web"},
		{"label env=prod", store.ResourceFilter{Labels: map[string]string{"env": "prod"}}, "pg web"},
		{"labels all match", store.ResourceFilter{Labels: map[string]string{"env": "prod", "team": "data"}}, "pg"},
		{"label absent", store.ResourceFilter{Labels: map[string]string{"team": "web"}}, ""},
		{"agent beta", store.ResourceFilter{Agent: "id-b"}, "web"},
		{"agent alpha and label", store.ResourceFilter{Agent: "id-a", Labels: map[string]string{"env": "prod"}}, "pg"},
		{"type and label", store.ResourceFilter{Types: []api.SessionType{api.TypeHTTP}, Labels: map[string]string{"env": "dev"}}, ""},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := s.ListResources(ctx, tc.f)
			must(t, err, "list")
			var names []string
			for _, r := range rs {
				names = append(names, r.Name)
			}
			if got := strings.Join(names, " "); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("inventory-replaces", func(t *testing.T) {
		refused, err := s.SetAgentResources(ctx, "id-a", []api.Resource{{Name: "echo", Type: api.TypeTCP, Address: "127.0.0.1:9"}})
		must(t, err, "replace alpha")
		wantRefused(t, refused, nil)
		rs, err := s.ListResources(ctx, store.ResourceFilter{Agent: "id-a"})
		must(t, err, "list alpha")
		if len(rs) != 1 || rs[0].Name != "echo" || rs[0].Address != "127.0.0.1:9" {
			t.Fatalf("alpha after replace: %+v", rs)
		}
		// pg is free now: beta may take it.
		refused, err = s.SetAgentResources(ctx, "id-b", []api.Resource{{Name: "pg", Type: api.TypeDB}, {Name: "web", Type: api.TypeHTTP}})
		must(t, err, "beta takes pg")
		wantRefused(t, refused, nil)
		pg, err := s.GetResource(ctx, "pg")
		must(t, err, "get pg")
		if pg.Agent != "beta" {
			t.Fatalf("pg served by %q, want beta", pg.Agent)
		}
		// An empty inventory removes everything of the agent.
		_, err = s.SetAgentResources(ctx, "id-b", nil)
		must(t, err, "empty inventory")
		rs, err = s.ListResources(ctx, store.ResourceFilter{Agent: "id-b"})
		must(t, err, "list beta")
		if len(rs) != 0 {
			t.Fatalf("beta after an empty inventory: %+v", rs)
		}
	})
}

// wantRefused checks the refused names and that each reason contains the
// given word.
func wantRefused(t *testing.T, got, want map[string]string) {
	t.Helper()
	var gk, wk []string
	for k := range got {
		gk = append(gk, k)
	}
	for k := range want {
		wk = append(wk, k)
	}
	sort.Strings(gk)
	sort.Strings(wk)
	if fmt.Sprint(gk) != fmt.Sprint(wk) {
		t.Fatalf("refused: got %v, want names %v", got, wk)
	}
	for k, word := range want {
		if !strings.Contains(got[k], word) {
			t.Fatalf("refused %s: reason %q does not mention %q", k, got[k], word)
		}
	}
}
