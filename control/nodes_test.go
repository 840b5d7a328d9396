package control

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/clocktest"
)

// nodeTimeout is the nodes' heartbeat timeout in the tests, on the
// test's clock; their heartbeats and sweeps tick every few milliseconds
// of real time.
const nodeTimeout = time.Minute

// startClusterNode runs a control node named name on the database db
// ("" for SQLite in dir) with the clock clk.
func startClusterNode(t *testing.T, db, dir, name string, clk *clocktest.Clock) *running {
	t.Helper()
	return runClusterNode(t, Config{DataDir: dir, Store: db, NodeName: name}, clk)
}

// runClusterNode runs a control node of cfg, its unset test settings
// filled in: loopback listeners, fast heartbeats and sweeps on clk.
func runClusterNode(t *testing.T, cfg Config, clk *clocktest.Clock) *running {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen, cfg.AgentListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Logger = testLogger().With("test_node", cfg.NodeName)
	cfg.ShutdownGrace, cfg.Clock, cfg.NodeTimeout = 200*time.Millisecond, clk.Now, nodeTimeout
	cfg.NodeHeartbeat = 5 * time.Millisecond
	if cfg.NodeSweep == 0 {
		cfg.NodeSweep = 5 * time.Millisecond
	}
	if cfg.ForwardDial == nil {
		// The nodes' default URLs name them (control-a): no name lookup.
		cfg.ForwardDial = func(_ context.Context, _, addr string) (net.Conn, error) {
			return nil, fmt.Errorf("test: %s not reachable", addr)
		}
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New %s: %v", cfg.NodeName, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// crash stops r as a crash would for the other nodes: the database stops
// hearing from it (no heartbeat, no shutdown writes), then it stops.
func (r *running) crash(t *testing.T) {
	t.Helper()
	r.store.Close()
	r.stop(t)
}

// activeEcho creates a session of the echo resource through c, attaches
// its lead and one echoed data connection, and returns it with its
// events channel (open: the session stays active).
func activeEcho(ctx context.Context, t *testing.T, c *client.Client) (api.Session, *bufio.Reader, func()) {
	t.Helper()
	s, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	events, _ := echoSession(ctx, t, c, s.ID, 1024)
	return s, bufio.NewReader(events), func() { events.Close() }
}

// wantAPIError fails unless err is an *api.Error of code whose message
// holds each of contains.
func wantAPIError(t *testing.T, err error, code api.ErrorCode, contains ...string) {
	t.Helper()
	if api.CodeOf(err) != code {
		t.Fatalf("error %v (%s), want %s", err, api.CodeOf(err), code)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("error %q does not say %q", err, c)
		}
	}
}

// TestControlNodes runs two control nodes on one PostgreSQL database: a
// session carried by node A survives node B's start and B's sweeps; B,
// which cannot reach A (TestForwarding has nodes that can), sends a
// person whose agent is attached to A to A (other_node, with why it did
// not forward); a kill through B ends the session in the database and
// A ends it at its next sweep; once A stops without its shutdown
// (its heartbeat stops), B fails A's sessions ("interrupted: control
// node A stopped") and takes A's agent for offline.
func TestControlNodes(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	clk := clocktest.New(time.Now().UTC())
	a := startClusterNode(t, db, "", "control-a", clk)
	admin := a.client(t, a.FirstAdminToken())
	startAgent(t, a, agent.ResourceConfig{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echoServer(t)})
	waitFor(t, "resource online", func() (bool, bool) {
		rs, err := admin.ListResources(ctx, client.ResourceQuery{Type: api.TypeTCP})
		return true, err == nil && len(rs) == 1 && rs[0].Online
	})
	kept, _, closeKept := activeEcho(ctx, t, admin)
	defer closeKept()
	if kept.NodeID != a.NodeID() {
		t.Fatalf("session created on node %q, want A's %q", kept.NodeID, a.NodeID())
	}

	b := startClusterNode(t, db, "", "control-b", clk)
	if a.NodeID() == b.NodeID() {
		t.Fatal("two nodes with one id")
	}
	adminB := b.client(t, a.FirstAdminToken())
	byB := func(id string) api.Session {
		t.Helper()
		s, err := adminB.GetSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("a session of A survives B's start and sweeps", func(t *testing.T) {
		if n, err := b.sessions.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("B's sweep failed %d sessions, %v", n, err)
		}
		got := byB(kept.ID)
		if got.Status != api.StatusActive || got.NodeID != a.NodeID() {
			t.Fatalf("A's session seen through B: %s on node %q, error %q", got.Status, got.NodeID, got.Error)
		}
		nodes, err := b.store.ListNodes(ctx)
		if err != nil || len(nodes) != 2 {
			t.Fatalf("nodes %+v, %v", nodes, err)
		}
	})

	t.Run("both nodes list A's agent online on A", func(t *testing.T) {
		for _, n := range []struct {
			name string
			c    *client.Client
		}{{"A", admin}, {"B", adminB}} {
			t.Run(n.name, func(t *testing.T) {
				// A notes the agent's node in the database just after the
				// agent came online: wait for B to read it.
				ag, res := waitFor(t, "agent listed online", func() (listing, bool) {
					l, err := findListing(ctx, n.c, "a1", "echo")
					return l, err == nil && l.agent.Online
				}).both()
				wantPlace(t, "agent", ag.Online, ag.NodeID, ag.NodeName, true, a.NodeID(), "control-a")
				wantPlace(t, "resource", res.Online, res.NodeID, res.NodeName, true, a.NodeID(), "control-a")
				if len(ag.Resources) != 1 || ag.Resources[0] != "echo" || res.Agent != "a1" {
					t.Fatalf("agent %+v, resource %+v", ag, res)
				}
			})
		}
	})

	t.Run("other node", func(t *testing.T) {
		steps := []struct {
			name     string
			do       func() error
			contains []string
		}{
			{"create a session on B for A's agent", func() error {
				_, err := adminB.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
				return err
			}, []string{`agent "a1" serving resource "echo" is attached to control node control-a (` + a.NodeID() + `)`, "not to this one (control-b (" + b.NodeID() + "))",
				"not forwarded: control node control-a (" + a.NodeID() + ") could not be reached at https://control-a:", "not reachable"}},
			{"connect through B to a session of A", func() error {
				c, err := adminB.Connect(ctx, kept.ID, api.ChannelData)
				if err == nil {
					c.Close()
				}
				return err
			}, []string{"session " + kept.ID + " is carried by control node control-a (" + a.NodeID() + ")"}},
		}
		for _, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				wantAPIError(t, step.do(), api.CodeOtherNode, step.contains...)
			})
		}
	})

	t.Run("a kill through B ends the session on A", func(t *testing.T) {
		s, events, closeEvents := activeEcho(ctx, t, admin)
		defer closeEvents()
		if _, err := adminB.KillSession(ctx, s.ID, "from B"); err != nil {
			t.Fatal(err)
		}
		if ev := readEvent(t, events); ev.Status != api.StatusTerminated || !strings.Contains(ev.Message, "(admin): from B") {
			t.Fatalf("event on A after the kill through B: %+v", ev)
		}
		if got := byB(s.ID); got.Status != api.StatusTerminated || got.TerminateReason != "from B" {
			t.Fatalf("killed session %+v", got)
		}
	})

	t.Run("B fails the sessions of A once A stopped without its shutdown", func(t *testing.T) {
		a.crash(t)
		// A's heartbeat stopped; until it is older than the timeout, A
		// is live for B.
		if n, err := b.sessions.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("B's sweep before the timeout failed %d sessions, %v", n, err)
		}
		if got := byB(kept.ID); got.Status != api.StatusActive {
			t.Fatalf("A's session before the timeout: %+v", got)
		}
		ag, res := listAgentAndResource(ctx, t, adminB, "a1", "echo").both()
		wantPlace(t, "agent before the timeout", ag.Online, ag.NodeID, ag.NodeName, true, a.NodeID(), "control-a")
		wantPlace(t, "resource before the timeout", res.Online, res.NodeID, res.NodeName, true, a.NodeID(), "control-a")
		clk.Add(nodeTimeout + time.Second)
		// Past the timeout A is stopped for B, whether or not B's sweep
		// removed A's row yet.
		ag, res = listAgentAndResource(ctx, t, adminB, "a1", "echo").both()
		wantPlace(t, "agent after the timeout", ag.Online, ag.NodeID, ag.NodeName, false, "", "")
		wantPlace(t, "resource after the timeout", res.Online, res.NodeID, res.NodeName, false, "", "")
		if len(ag.Resources) != 1 || ag.Resources[0] != "echo" {
			t.Fatalf("the offline agent's stored resources: %v", ag.Resources)
		}
		want := "interrupted: control node control-a (" + a.NodeID() + ") stopped"
		got := waitFor(t, "A's session failed by B's periodic sweep", func() (api.Session, bool) {
			s := byB(kept.ID)
			return s, s.Status == api.StatusFailed
		})
		if got.Error != want {
			t.Fatalf("A's session failed with %q, want %q", got.Error, want)
		}
		if last := got.Timeline[len(got.Timeline)-1]; last.Event != api.EventFor(api.StatusFailed) || last.Detail != want {
			t.Fatalf("last timeline event %+v", last)
		}
		// A's row is gone, and its agent is no longer taken for attached
		// to it.
		waitFor(t, "A's row removed", func() (bool, bool) {
			_, err := b.store.GetNode(ctx, a.NodeID())
			return true, err != nil
		})
		_, err := adminB.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
		wantAPIError(t, err, api.CodeTargetFailed, `agent "a1" serving resource "echo" is offline`)
	})

	t.Run("a clean stop removes the node's row", func(t *testing.T) {
		id := b.NodeID()
		b.stop(t)
		st := startClusterNode(t, db, "", "control-c", clk)
		if _, err := st.store.GetNode(ctx, id); err == nil {
			t.Fatalf("B's row is still there after its shutdown")
		}
	})
}

// listing is an agent and a resource as a node lists them.
type listing struct {
	agent    api.Agent
	resource api.Resource
}

func (l listing) both() (api.Agent, api.Resource) { return l.agent, l.resource }

// listAgentAndResource lists agents and resources through c and returns
// the agent and the resource named, failing when either is missing.
func listAgentAndResource(ctx context.Context, t *testing.T, c *client.Client, agentName, resource string) listing {
	t.Helper()
	l, err := findListing(ctx, c, agentName, resource)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// findListing lists agents and resources through c and returns the
// agent and the resource named.
func findListing(ctx context.Context, c *client.Client, agentName, resource string) (listing, error) {
	var l listing
	agents, err := c.ListAgents(ctx)
	if err != nil {
		return l, err
	}
	rs, err := c.ListResources(ctx, client.ResourceQuery{})
	if err != nil {
		return l, err
	}
	found := 0
	for _, a := range agents {
		if a.Name == agentName {
			l.agent, found = a, found+1
		}
	}
	for _, r := range rs {
		if r.Name == resource {
			l.resource, found = r, found+1
		}
	}
	if found != 2 {
		return l, fmt.Errorf("agent %q or resource %q missing: agents %+v, resources %+v", agentName, resource, agents, rs)
	}
	return l, nil
}

// wantPlace fails unless what is online (or not) on the node id and name
// wanted.
func wantPlace(t *testing.T, what string, online bool, id, name string, wantOnline bool, wantID, wantName string) {
	t.Helper()
	if online != wantOnline || id != wantID || name != wantName {
		t.Fatalf("%s: online %v on node %q (%q), want online %v on %q (%q)", what, online, id, name, wantOnline, wantID, wantName)
	}
}

// TestSingleNodeListings: on SQLite (one control node) an agent's
// listings name the one node it is attached to.
func TestSingleNodeListings(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Now().UTC())
	r := startClusterNode(t, "", "", "solo", clk)
	admin := r.client(t, r.FirstAdminToken())
	startAgent(t, r, agent.ResourceConfig{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echoServer(t)})
	ag, res := waitFor(t, "agent and resource online", func() (listing, bool) {
		l, err := findListing(ctx, admin, "a1", "echo")
		return l, err == nil && l.agent.Online && l.resource.Online
	}).both()
	wantPlace(t, "agent", ag.Online, ag.NodeID, ag.NodeName, true, r.NodeID(), "solo")
	wantPlace(t, "resource", res.Online, res.NodeID, res.NodeName, true, r.NodeID(), "solo")
	// Other nodes' rows are not read on SQLite (one process at a time):
	// an agent not connected here is offline, even when its row names a
	// node whose row (left by an earlier run) has a fresh heartbeat.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ghost := store.NewID()
	must(r.store.CreateAgent(ctx, store.AgentRecord{ID: ghost, Name: "ghost", EnrolledAt: clk.Now()}))
	if _, err := r.store.SetAgentResources(ctx, ghost, []api.Resource{{Name: "ghost-echo", Type: api.TypeTCP}}); err != nil {
		t.Fatal(err)
	}
	must(r.store.RegisterNode(ctx, store.ControlNode{ID: "earlier-run", Name: "old", StartedAt: clk.Now()}))
	must(r.store.AttachAgent(ctx, ghost, "earlier-run"))
	ag, res = listAgentAndResource(ctx, t, admin, "ghost", "ghost-echo").both()
	wantPlace(t, "agent of an earlier run", ag.Online, ag.NodeID, ag.NodeName, false, "", "")
	wantPlace(t, "its resource", res.Online, res.NodeID, res.NodeName, false, "", "")
	if _, err := r.store.GetNode(ctx, "earlier-run"); err != nil {
		t.Fatalf("the earlier run's row was gone during the listing: %v", err)
	}
	ag, res = listAgentAndResource(ctx, t, admin, "a1", "echo").both()
	wantPlace(t, "agent", ag.Online, ag.NodeID, ag.NodeName, true, r.NodeID(), "solo")
	wantPlace(t, "resource", res.Online, res.NodeID, res.NodeName, true, r.NodeID(), "solo")
}

// TestRestartAfterCrash: a control that crashed left a session active and
// its node's row with a fresh heartbeat. On SQLite (one control process
// at a time) the next start fails the session at once; on PostgreSQL a
// node that starts cannot tell a crashed node from a live one until the
// heartbeat is older than the timeout, then fails it.
func TestRestartAfterCrash(t *testing.T) {
	cases := []struct {
		name string
		db   func(t *testing.T) string // "" for SQLite
		// atStart is the error of the session right after the start ("" if
		// still active); later, after the timeout.
		atStart, later string
	}{
		{"sqlite", func(*testing.T) string { return "" }, "interrupted: control restarted", "interrupted: control restarted"},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }, "", "interrupted: control node old-control (crashed-node) stopped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, dir := tc.db(t), t.TempDir()
			clk := clocktest.New(time.Now().UTC())
			// What the crashed control left, written by a node that stops
			// at once (its own row removed), then the crashed node's row.
			first := startClusterNode(t, db, dir, "first", clk)
			st := first.store
			id := store.NewID()
			if err := st.RegisterNode(ctx, store.ControlNode{ID: "crashed-node", Name: "old-control", StartedAt: clk.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateSession(ctx, api.Session{ID: id, User: "admin", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", Agent: "a1",
				NodeID: "crashed-node", CreatedAt: clk.Now()}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Transition(ctx, id, store.Transition{To: api.StatusActive, At: clk.Now()}); err != nil {
				t.Fatal(err)
			}
			token := first.FirstAdminToken()
			first.stop(t)

			r := startClusterNode(t, db, dir, "restarted", clk)
			c := r.client(t, token)
			get := func() api.Session {
				s, err := c.GetSession(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			if s := get(); s.Error != tc.atStart {
				t.Fatalf("after the start: %s %q, want error %q", s.Status, s.Error, tc.atStart)
			}
			clk.Add(nodeTimeout + time.Second)
			s := waitFor(t, "the session failed", func() (api.Session, bool) {
				s := get()
				return s, s.Status == api.StatusFailed
			})
			if s.Error != tc.later {
				t.Fatalf("after the timeout: %q, want %q", s.Error, tc.later)
			}
		})
	}
}

// TestNodeSettings checks the node id and name settings and their
// defaults.
func TestNodeSettings(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"defaults", Config{}, "", func(t *testing.T, c Config) {
			if err := store.ValidateID(c.NodeID); err != nil {
				t.Errorf("default node id %q: %v", c.NodeID, err)
			}
			if c.NodeName == "" || c.NodeHeartbeat <= 0 || c.NodeTimeout < 2*c.NodeHeartbeat || c.NodeSweep <= 0 {
				t.Errorf("defaults %+v", c)
			}
		}},
		{"given", Config{NodeID: "control-1.eu_west", NodeName: "c1.example.com"}, "", func(t *testing.T, c Config) {
			if c.NodeID != "control-1.eu_west" || c.NodeName != "c1.example.com" {
				t.Errorf("%q %q", c.NodeID, c.NodeName)
			}
		}},
		{"advertise url", Config{AdvertiseURL: "https://c1.example.com:7443/"}, "", func(t *testing.T, c Config) {
			if c.AdvertiseURL != "https://c1.example.com:7443" {
				t.Errorf("advertise url %q", c.AdvertiseURL)
			}
		}},
		{"advertise url not https", Config{AdvertiseURL: "http://c1:7443"}, "--advertise-url", nil},
		{"advertise url with a path", Config{AdvertiseURL: "https://c1:7443/api"}, "--advertise-url", nil},
		{"advertise url without a host", Config{AdvertiseURL: "https://:7443"}, "--advertise-url", nil},
		{"bad id", Config{NodeID: "a b"}, "--node-id", nil},
		{"long id", Config{NodeID: strings.Repeat("x", 65)}, "--node-id", nil},
		{"timeout below two heartbeats", Config{NodeHeartbeat: 10 * time.Second, NodeTimeout: 15 * time.Second}, "at least twice", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = filepath.Join(t.TempDir(), "data")
			c, err := tc.cfg.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestDefaultAdvertiseURL: the node name when the server certificate
// names it, else the first public name.
func TestDefaultAdvertiseURL(t *testing.T) {
	leaf := &x509.Certificate{DNSNames: []string{"localhost", "host-1", "lb.example.com"}, IPAddresses: []net.IP{net.ParseIP("::1")}}
	cases := []struct {
		name, node string
		public     []string
		want       string
	}{
		{"node name in the certificate", "host-1", []string{"lb.example.com"}, "https://host-1:7443"},
		{"node name not in it", "control-1", []string{"lb.example.com", "other"}, "https://lb.example.com:7443"},
		{"no public name", "control-1", nil, "https://control-1:7443"},
		{"an IPv6 public name", "control-1", []string{"::1"}, "https://[::1]:7443"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultAdvertiseURL(Config{NodeName: tc.node, PublicNames: tc.public}, leaf, 7443); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}
