package control

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/clocktest"
)

// shareCA copies the CA of the node whose data dir is from into a new
// data dir, as an operator does for nodes behind one name.
func shareCA(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"ca.crt", "ca.key"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loopbackDialer dials every node name at loopback from the local
// address from (so that the forwarded hop's peer differs from the
// person's), and counts the dials.
func loopbackDialer(from string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
}

// rawRequest sends a request to r's API with token and extra headers
// and returns the status and the body.
func rawRequest(t *testing.T, r *running, method, path, token string, body any, headers map[string]string) (int, []byte) {
	t.Helper()
	res, out := apiRequest(t, r, method, path, body, func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+token)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
	})
	return res.StatusCode, out
}

// apiRequest sends body as JSON to r's API over TLS trusting r's CA,
// after prepare added the credentials, and returns the response with its
// body read.
func apiRequest(t *testing.T, r *running, method, path string, body any, prepare func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, "https://"+r.APIAddr().String()+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	prepare(req)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool(r)}}}
	defer hc.CloseIdleConnections()
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, out
}

// forwardCluster is three control nodes on one PostgreSQL database and a
// test clock: A holds agent a1 (resource echo, a TCP echo service) and
// sweeps rarely (a kill through B that ended a session only in the
// database would not reach A's events channel in a test); B shares A's CA
// and reaches A from 127.0.0.2 (the person reaches B from 127.0.0.1); C
// shares the CA but cannot reach A.
type forwardCluster struct {
	a, b, c *running
	token   string // the first admin's, valid on every node
	clk     *clocktest.Clock
}

// startForwardCluster starts a forwardCluster and waits until B lists
// A's agent online on A.
func startForwardCluster(t *testing.T) *forwardCluster {
	t.Helper()
	db := pgtest.NewDatabase(t)
	fc := &forwardCluster{clk: clocktest.New(time.Now().UTC())}
	fc.a = runClusterNode(t, Config{Store: db, NodeName: "control-a", PublicNames: []string{"control-a"}, NodeSweep: time.Hour}, fc.clk)
	fc.token = fc.a.FirstAdminToken()
	startAgent(t, fc.a, agent.ResourceConfig{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echoServer(t)})
	fc.b = runClusterNode(t, Config{DataDir: shareCA(t, fc.a.cfg.DataDir), Store: db, NodeName: "control-b", ForwardDial: loopbackDialer("127.0.0.2")}, fc.clk)
	unreachable := func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("test: no route to control-a")
	}
	fc.c = runClusterNode(t, Config{DataDir: shareCA(t, fc.a.cfg.DataDir), Store: db, NodeName: "control-c", ForwardDial: unreachable}, fc.clk)
	viaB := fc.b.client(t, fc.token)
	waitFor(t, "A's agent listed online on B", func() (bool, bool) {
		l, err := findListing(context.Background(), viaB, "a1", "echo")
		return true, err == nil && l.agent.Online && l.agent.NodeID == fc.a.NodeID()
	})
	return fc
}

// TestForwarding runs two control nodes sharing a CA on one PostgreSQL
// database, the agent attached to A: a person who uses B reaches A's
// sessions through B, which forwards the requests to A's advertised URL
// (create, connect with each channel, kill, watch), with the person's
// address recorded; a forwarded request is not forwarded again; a node
// that cannot reach A answers other_node with the reason.
func TestForwarding(t *testing.T) {
	ctx := context.Background()
	fc := startForwardCluster(t)
	a, b, c, token := fc.a, fc.b, fc.c, fc.token
	if want := "https://control-a:" + portOf(t, a.APIAddr()); a.AdvertiseURL() != want {
		t.Fatalf("A advertises %q, want %q", a.AdvertiseURL(), want)
	}
	viaB, viaC := b.client(t, token), c.client(t, token)
	row, err := b.store.GetNode(ctx, a.NodeID())
	if err != nil || row.URL != a.AdvertiseURL() {
		t.Fatalf("A's row %+v, %v: want its URL %q", row, err, a.AdvertiseURL())
	}

	t.Run("create and connect through B", func(t *testing.T) {
		s, err := viaB.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
		if err != nil {
			t.Fatal(err)
		}
		if s.NodeID != a.NodeID() || s.ClientIP != "127.0.0.1" {
			t.Fatalf("session created through B: node %q, client IP %q; want A's %q and the person's 127.0.0.1", s.NodeID, s.ClientIP, a.NodeID())
		}
		events, n := echoSession(ctx, t, viaB, s.ID, 64<<10)
		// A mux channel through B: one stream, echoed.
		mux, err := viaB.ConnectMux(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		st, err := mux.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const hello = "hello through B's mux"
		if _, err := io.WriteString(st, hello); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(hello))
		if _, err := io.ReadFull(st, got); err != nil || string(got) != hello {
			t.Fatalf("mux echo %q, %v", got, err)
		}
		st.Close()
		mux.Close()
		events.Close()
		done := waitFor(t, "the session completed", func() (api.Session, bool) {
			got, err := viaB.GetSession(ctx, s.ID)
			return got, err == nil && got.Status == api.StatusCompleted
		})
		if done.NodeID != a.NodeID() || done.ClientIP != "127.0.0.1" || done.BytesUp < n+int64(len(hello)) {
			t.Fatalf("ended session: node %q, client IP %q, %d bytes up (want ≥ %d)", done.NodeID, done.ClientIP, done.BytesUp, n+int64(len(hello)))
		}
	})

	t.Run("a kill through B ends the session on A at once", func(t *testing.T) {
		s, events, closeEvents := activeEcho(ctx, t, viaB)
		defer closeEvents()
		killed, err := viaB.KillSession(ctx, s.ID, "from B")
		if err != nil {
			t.Fatal(err)
		}
		if killed.Status != api.StatusTerminated {
			t.Fatalf("kill through B answered %s", killed.Status)
		}
		// A ended the session itself: the notice is on the events channel
		// (A's sweep, which would notice a kill written elsewhere, waits
		// an hour).
		if ev := readEvent(t, events); ev.Status != api.StatusTerminated || !strings.Contains(ev.Message, "(admin): from B") {
			t.Fatalf("event on A after the kill through B: %+v", ev)
		}
	})

	t.Run("watch through B", func(t *testing.T) {
		s, _, closeEvents := activeEcho(ctx, t, viaB)
		rc, format, err := viaB.Watch(ctx, s.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if format != api.FormatConnlog {
			t.Fatalf("watch format %q", format)
		}
		closeEvents() // the session ends: the watch answer ends after its last chunk
		got, err := io.ReadAll(rc)
		// The connection log of the session on A: its connection opened
		// and closed, from the person's address (its port is not
		// forwarded), not B's 127.0.0.2.
		if err != nil || !bytes.Contains(got, []byte(`"event":"close"`)) || !bytes.Contains(got, []byte(`"peer":"127.0.0.1:0"`)) {
			t.Fatalf("watched %q, %v: want the connection log of session %s", got, err, s.ID)
		}
	})

	t.Run("a forwarded request is not forwarded again", func(t *testing.T) {
		status, body := rawRequest(t, b, http.MethodPost, "/v1/sessions", token, api.CreateSessionRequest{Resource: "echo"},
			map[string]string{controlapi.HeaderForwardedBy: "node-x"})
		if status != http.StatusMisdirectedRequest || !strings.Contains(string(body), `"other_node"`) ||
			!strings.Contains(string(body), "forwarded here by control node node-x") || !strings.Contains(string(body), "control node control-a") {
			t.Fatalf("%d %s", status, body)
		}
	})

	t.Run("only a control node's forwarded address is trusted", func(t *testing.T) {
		// A person claiming to be a forwarding node, without its
		// certificate: the TCP peer stays the client's address.
		status, body := rawRequest(t, a, http.MethodPost, "/v1/sessions", token, api.CreateSessionRequest{Resource: "echo"},
			map[string]string{controlapi.HeaderForwardedBy: "node-x", "X-Forwarded-For": "203.0.113.9"})
		var s api.Session
		if status != http.StatusCreated || json.Unmarshal(body, &s) != nil || s.ClientIP != "127.0.0.1" {
			t.Fatalf("%d %s: want the session with client IP 127.0.0.1", status, body)
		}
	})

	t.Run("a node without an advertised URL", func(t *testing.T) {
		// The row of a node from before --advertise-url, holding an agent.
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(b.store.RegisterNode(ctx, store.ControlNode{ID: "old-node", Name: "control-old", StartedAt: fc.clk.Now()}))
		must(b.store.CreateAgent(ctx, store.AgentRecord{ID: "old-agent", Name: "a-old", EnrolledAt: fc.clk.Now()}))
		_, err := b.store.SetAgentResources(ctx, "old-agent", []api.Resource{{Name: "old-echo", Type: api.TypeTCP}})
		must(err)
		must(b.store.AttachAgent(ctx, "old-agent", "old-node"))
		_, err = viaB.CreateSession(ctx, api.CreateSessionRequest{Resource: "old-echo"})
		wantAPIError(t, err, api.CodeOtherNode, "control node control-old (old-node)", "advertises no URL")
	})

	t.Run("a node that cannot reach A", func(t *testing.T) {
		_, err := viaC.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
		wantAPIError(t, err, api.CodeOtherNode, "control node control-a ("+a.NodeID()+")", "not forwarded", "could not be reached", "test: no route to control-a")
		s, _, closeEvents := activeEcho(ctx, t, viaB)
		defer closeEvents()
		conn, err := viaC.Connect(ctx, s.ID, api.ChannelData)
		if err == nil {
			conn.Close()
		}
		wantAPIError(t, err, api.CodeOtherNode, "session "+s.ID+" is carried by control node control-a", "test: no route to control-a")
		// A kill C cannot forward ends the session in the database, as
		// before forwarding (A ends it at its next sweep).
		killed, err := viaC.KillSession(ctx, s.ID, "from C")
		if err != nil || killed.Status != api.StatusTerminated || killed.TerminateReason != "from C" {
			t.Fatalf("kill through C: %+v, %v", killed, err)
		}
	})
}

// portOf is the port of a TCP address.
func portOf(t *testing.T, addr net.Addr) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}
