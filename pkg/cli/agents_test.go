package cli

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Control nodes of the listing fixtures: the agents are attached to two
// nodes sharing a database, one of them without a name.
const (
	fixtureNodeA = "0197a000-0000-7000-8000-0000000000c1"
	fixtureNodeB = "0197a000-0000-7000-8000-0000000000c2"
)

// fixtureAgents are what the fake control lists: online on a named node,
// online on a node without a name, offline, and revoked.
func fixtureAgents() []api.Agent {
	at := func(h, m int) time.Time { return time.Date(2025, 6, 1, h, m, 0, 0, time.UTC) }
	return []api.Agent{
		{ID: "0197a000-0000-7000-8000-0000000000a1", Name: "db-agent", Hostname: "db1", Version: "1.4.0", Online: true,
			NodeID: fixtureNodeA, NodeName: "control-1", EnrolledAt: at(8, 0), LastSeenAt: tp(at(11, 59)),
			Resources: []string{"pg"}, RemoteAddr: "10.0.0.5:40112"},
		{ID: "0197a000-0000-7000-8000-0000000000a2", Name: "dev-agent", Hostname: "laptop", Version: "1.4.0", Online: true,
			NodeID: fixtureNodeB, EnrolledAt: at(8, 0), LastSeenAt: tp(at(11, 58)),
			Resources: []string{"closed", "echo"}, RemoteAddr: "127.0.0.1:52000"},
		{ID: "0197a000-0000-7000-8000-0000000000a3", Name: "web-agent", Hostname: "web1", Version: "1.3.2",
			EnrolledAt: at(7, 0), LastSeenAt: tp(at(9, 30)), Resources: []string{"web-1"}, RemoteAddr: "10.0.0.9:39000"},
		{ID: "0197a000-0000-7000-8000-0000000000a4", Name: "old-agent", Hostname: "old", Version: "1.0.0",
			EnrolledAt: at(6, 0), RevokedAt: tp(at(6, 30)), Resources: []string{}},
	}
}

// fixtureResources are the resources of fixtureAgents.
func fixtureResources() []api.Resource {
	return []api.Resource{
		{Name: "closed", Type: api.TypeTCP, Protocol: "tcp", Labels: map[string]string{}, Address: "127.0.0.1:1", Agent: "dev-agent",
			Online: true, NodeID: fixtureNodeB},
		{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Labels: map[string]string{"env": "dev"}, Address: "127.0.0.1:7", Agent: "dev-agent",
			Online: true, NodeID: fixtureNodeB},
		{Name: "pg", Type: api.TypeDB, Protocol: "postgres", Labels: map[string]string{"env": "prod", "team": "data"}, Description: "orders",
			Address: "10.0.0.5:5432", Agent: "db-agent", Online: true, NodeID: fixtureNodeA, NodeName: "control-1"},
		{Name: "web-1", Type: api.TypeSSH, Protocol: "ssh", Labels: map[string]string{}, Address: "10.0.0.9:22", Agent: "web-agent"},
	}
}

func TestAgentsResourcesListGolden(t *testing.T) {
	runGolden(t, []goldenCase{
		{"agents table", []string{"agents", "ls"}, "agents_ls.table.golden"},
		{"agents json", []string{"agents", "ls", "-o", "json"}, "agents_ls.json.golden"},
		{"resources table", []string{"resources", "ls"}, "resources_ls.table.golden"},
		{"resources json", []string{"resources", "ls", "-o", "json"}, "resources_ls.json.golden"},
	})
}

// TestAgentsResourcesListJSONShape checks that -o json carries every
// field, the control node's included, for online and offline entries.
func TestAgentsResourcesListJSONShape(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		fields []string
		// node is the node_id of each entry, in order.
		node []string
	}{
		{"agents", []string{"agents", "ls", "-o", "json"},
			[]string{"id", "name", "hostname", "version", "online", "node_id", "node_name", "enrolled_at", "last_seen_at", "revoked_at", "resources", "remote_addr"},
			[]string{fixtureNodeA, fixtureNodeB, "", ""}},
		{"resources", []string{"resources", "ls", "-o", "json"},
			[]string{"name", "type", "labels", "description", "address", "protocol", "agent", "online", "node_id", "node_name"},
			[]string{fixtureNodeB, fixtureNodeB, fixtureNodeA, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if code := e.run(t, tc.args...); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			var arr []map[string]any
			if err := json.Unmarshal(e.out.Bytes(), &arr); err != nil {
				t.Fatalf("not a JSON array: %v", err)
			}
			if len(arr) != len(tc.node) {
				t.Fatalf("%d entries, want %d", len(arr), len(tc.node))
			}
			for i, entry := range arr {
				if len(entry) != len(tc.fields) {
					t.Errorf("entry %d has %d fields, want %d: %v", i, len(entry), len(tc.fields), entry)
				}
				for _, k := range tc.fields {
					if _, ok := entry[k]; !ok {
						t.Errorf("entry %d: field %q missing", i, k)
					}
				}
				if entry["node_id"] != tc.node[i] {
					t.Errorf("entry %d: node_id %v, want %q", i, entry["node_id"], tc.node[i])
				}
			}
		})
	}
}
