package agentgw_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/agentgw"
	"github.com/onepam/onepam/control/agentgw/agentgwtest"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

func TestRefusedAgents(t *testing.T) {
	e := newEnv(t, nil)
	revoked := e.enroll("revoked")
	if err := e.store.RevokeAgent(e.ctx, revoked.AgentID, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A certificate from our CA for an agent id the store does not know.
	key, csr, err := agentgwtest.NewCSR()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := e.ca.SignAgent(csr, store.NewID(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(certPEM)
	leaf, _ := x509.ParseCertificate(b.Bytes)
	unknown := &agentgwtest.Identity{AgentID: leaf.Subject.CommonName, Name: "ghost", CA: e.ca.Cert,
		Cert: tls.Certificate{Certificate: [][]byte{b.Bytes}, PrivateKey: key, Leaf: leaf}}

	tests := []struct {
		name string
		id   *agentgwtest.Identity
		want string
	}{
		{"revoked", revoked, "agent revoked"},
		{"unknown", unknown, "unknown agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := agentgwtest.Connect(ctxTimeout(t), e.addr, tt.id, api.AgentHello{Version: "test"})
			var em *agentgwtest.ErrorMessage
			if !errors.As(err, &em) || !em.Fatal || !strings.Contains(em.Message, tt.want) {
				t.Fatalf("connect: %v; want a fatal %q", err, tt.want)
			}
			if e.gw.Online(tt.id.AgentID) {
				t.Fatal("refused agent is online")
			}
		})
	}
}

func TestHelloWelcomeResources(t *testing.T) {
	e := newEnv(t, func(c *agentgw.Config) { c.HeartbeatInterval = 1234 * time.Millisecond })
	ctx := ctxTimeout(t)
	id1, id2 := e.enroll("one"), e.enroll("two")
	echo := api.Resource{Name: "echo", Type: api.TypeTCP, Address: "127.0.0.1:7", Labels: map[string]string{"env": "dev"}}
	db := api.Resource{Name: "db", Type: api.TypeDB, Address: "127.0.0.1:5432"}
	a1 := e.connect(id1, echo, db)
	if w := a1.Welcome; w.AgentID != id1.AgentID || w.Name != "one" || w.HeartbeatInterval != 1234 || len(w.ResourceErrors) != 0 {
		t.Fatalf("welcome %+v", w)
	}
	if !e.gw.Online(id1.AgentID) {
		t.Fatal("agent not online after welcome")
	}
	rs, err := e.store.ListResources(ctx, store.ResourceFilter{Agent: id1.AgentID})
	if err != nil || len(rs) != 2 {
		t.Fatalf("resources %+v, %v", rs, err)
	}

	// A second agent announcing a name the first one serves is told.
	a2 := e.connect(id2, api.Resource{Name: "echo", Type: api.TypeTCP, Address: "127.0.0.1:8"},
		api.Resource{Name: "web", Type: api.TypeHTTP, Address: "127.0.0.1:80"})
	if reason := a2.Welcome.ResourceErrors["echo"]; !strings.Contains(reason, "one") || len(a2.Welcome.ResourceErrors) != 1 {
		t.Fatalf("resource errors %+v", a2.Welcome.ResourceErrors)
	}
	r, err := e.store.GetResource(ctx, "echo")
	if err != nil || r.AgentID != id1.AgentID {
		t.Fatalf("echo now %+v, %v", r, err)
	}

	// A new inventory replaces the old one.
	if err := a1.Send(api.AgentMessage{Type: api.MsgResources, Resources: []api.Resource{db}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "inventory update", func() bool {
		_, err := e.store.GetResource(ctx, "echo")
		return errors.Is(err, store.ErrNotFound)
	})

	got := e.gw.OnlineAgents()
	if len(got) != 2 || got[0].Name != "one" || got[1].Name != "two" || got[0].ID != id1.AgentID ||
		got[0].RemoteAddr == "" || got[0].ConnectedAt.IsZero() || got[0].Version != "test" {
		t.Fatalf("online agents %+v", got)
	}
	if err := a1.Heartbeat(ctx); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	rec, err := e.store.GetAgent(ctx, id1.AgentID)
	if err != nil || rec.LastSeenAt == nil || rec.Version != "test" || rec.RemoteAddr == "" {
		t.Fatalf("agent row %+v, %v", rec, err)
	}
	if s := e.gw.Stats(); s.AgentsOnline != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestOpenStream(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	id := e.enroll("agent")
	a := e.connect(id)

	want := api.SessionOpen{SessionID: store.NewID(), Type: api.TypeTCP, Resource: "echo", User: "alice"}
	type accepted struct {
		kind api.StreamKind
		got  api.SessionOpen
		err  error
	}
	acc := make(chan accepted, 1)
	go func() {
		st, kind, body, err := a.Accept(ctx)
		var got api.SessionOpen
		if err == nil {
			err = tunnel.DecodeHeader(body, &got)
		}
		if err == nil {
			err = tunnel.WriteFrame(st, api.SessionOpenResult{OK: true})
		}
		acc <- accepted{kind, got, err}
	}()
	st, err := e.gw.OpenStream(ctx, id.AgentID, api.StreamSession, want)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var res api.SessionOpenResult
	if err := tunnel.ReadFrame(st, &res); err != nil || !res.OK {
		t.Fatalf("answer %+v, %v", res, err)
	}
	got := <-acc
	if got.err != nil || got.kind != api.StreamSession || got.got.SessionID != want.SessionID || got.got.User != "alice" {
		t.Fatalf("agent got %+v", got)
	}

	t.Run("offline agent", func(t *testing.T) {
		offline := store.NewID()
		_, err := e.gw.OpenStream(ctx, offline, api.StreamSession, want)
		if !errors.Is(err, agentgw.ErrAgentOffline) || api.CodeOf(err) != api.CodeTargetFailed ||
			err.Error() != "agent "+offline+" is offline" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := e.gw.OpenStream(cctx, id.AgentID, api.StreamSession, want); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestHeartbeatTimeoutDropsAgent(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, func(c *agentgw.Config) { c.HeartbeatTimeout = timeout })
	id := e.enroll("silent")
	a := e.connect(id)
	// Heartbeats keep it alive for several timeouts.
	ctx := ctxTimeout(t)
	for start := time.Now(); time.Since(start) < 3*timeout; {
		if err := a.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
		if !e.gw.Online(id.AgentID) {
			t.Fatal("agent dropped while heartbeating")
		}
	}
	// Silence drops it.
	waitFor(t, "agent offline", func() bool { return !e.gw.Online(id.AgentID) })
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("agent's connection not closed")
	}
	select {
	case <-e.gw.AgentDown(id.AgentID):
	default:
		t.Fatal("AgentDown not closed for an offline agent")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.changes) != 2 || !e.changes[0].online || e.changes[1].online {
		t.Fatalf("agent changes %+v", e.changes)
	}
}

func TestNewConnectionReplacesOld(t *testing.T) {
	e := newEnv(t, nil)
	id := e.enroll("twice")
	old := e.connect(id)
	down := e.gw.AgentDown(id.AgentID)
	cur := e.connect(id)
	ctx := ctxTimeout(t)
	select {
	case <-old.Done():
	case <-ctx.Done():
		t.Fatal("old connection not closed")
	}
	<-down
	if !e.gw.Online(id.AgentID) {
		t.Fatal("agent offline after reconnecting")
	}
	if err := cur.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.gw.OnlineAgents(); len(got) != 1 {
		t.Fatalf("online %+v", got)
	}
}

func TestDisconnectFatal(t *testing.T) {
	e := newEnv(t, nil)
	id := e.enroll("removed")
	a := e.connect(id)
	ctx := ctxTimeout(t)
	if err := e.store.RevokeAgent(ctx, id.AgentID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.gw.Disconnect(id.AgentID, "agent revoked", true)
	if e.gw.Online(id.AgentID) {
		t.Fatal("online after Disconnect")
	}
	m, err := a.Next(ctx)
	if err != nil || m.Type != api.MsgError || m.Error == nil || !m.Error.Fatal || m.Error.Message != "agent revoked" {
		t.Fatalf("message %+v, %v", m, err)
	}
	a.Close()
	_, err = agentgwtest.Connect(ctx, e.addr, id, api.AgentHello{})
	var em *agentgwtest.ErrorMessage
	if !errors.As(err, &em) || !em.Fatal {
		t.Fatalf("reconnect after revocation: %v", err)
	}
}

func TestServeShutdownClosesAgents(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(e.enroll("a"))
	b := e.connect(e.enroll("b"))
	if err := e.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	for _, ag := range []*agentgwtest.Agent{a, b} {
		select {
		case <-ag.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("agent connection survived shutdown")
		}
	}
	if c, err := net.Dial("tcp", e.addr); err == nil {
		c.Close()
		t.Fatal("listener still open after shutdown")
	}
	if len(e.gw.OnlineAgents()) != 0 {
		t.Fatal("agents online after shutdown")
	}
}

// TestDisconnectIgnored: an agent that does not close after a disconnect
// message is closed by control.
func TestDisconnectIgnored(t *testing.T) {
	e := newEnv(t, nil)
	id := e.enroll("stubborn")
	a := e.connect(id)
	ctx := ctxTimeout(t)
	e.gw.Disconnect(id.AgentID, "maintenance", false)
	m, err := a.Next(ctx)
	if err != nil || m.Error == nil || m.Error.Fatal || m.Error.Message != "maintenance" {
		t.Fatalf("message %+v, %v", m, err)
	}
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("connection of an agent ignoring the disconnect left open")
	}
	// Not revoked: it may come back.
	e.connect(id)
	if !e.gw.Online(id.AgentID) {
		t.Fatal("agent not back online")
	}
}
