package agentgw

import (
	"context"
	"net"
	"sort"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// OnlineAgent describes a connected agent.
type OnlineAgent struct {
	ID            string
	Name          string
	Hostname      string
	Version       string
	RemoteAddr    string
	ConnectedAt   time.Time // Config.Clock time of the welcome
	LastHeartbeat time.Time // Config.Clock time of the last heartbeat (ConnectedAt before the first)
}

// register makes c the live connection of its agent, dropping an older one.
func (g *Gateway) register(c *agentConn) {
	g.mu.Lock()
	old := g.agents[c.id]
	g.agents[c.id] = c
	g.mu.Unlock()
	if old != nil {
		old.drop("replaced by a new connection from " + c.remote)
	} else {
		g.cfg.OnAgentChange(c.id, true)
	}
}

// unregister removes c if it is its agent's live connection and reports
// whether it was (then the agent went offline).
func (g *Gateway) unregister(c *agentConn) bool {
	g.mu.Lock()
	live := g.agents[c.id] == c
	if live {
		delete(g.agents, c.id)
	}
	g.mu.Unlock()
	if live {
		g.cfg.OnAgentChange(c.id, false)
	}
	return live
}

func (g *Gateway) lookup(agentID string) *agentConn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.agents[agentID]
}

// Online reports whether the agent has a live connection.
func (g *Gateway) Online(agentID string) bool { return g.lookup(agentID) != nil }

// OnlineAgents lists the connected agents, sorted by name.
func (g *Gateway) OnlineAgents() []OnlineAgent {
	g.mu.Lock()
	conns := make([]*agentConn, 0, len(g.agents))
	for _, c := range g.agents {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	out := make([]OnlineAgent, 0, len(conns))
	for _, c := range conns {
		c.mu.Lock()
		hb := c.lastHeartbeat
		c.mu.Unlock()
		out = append(out, OnlineAgent{
			ID: c.id, Name: c.name, Hostname: c.hostname, Version: c.version,
			RemoteAddr: c.remote, ConnectedAt: c.connectedAt, LastHeartbeat: hb,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AgentDown returns a channel closed when the agent's current connection
// is dropped; it is already closed when the agent is offline.
func (g *Gateway) AgentDown(agentID string) <-chan struct{} {
	if c := g.lookup(agentID); c != nil {
		return c.down
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}

// OpenStream opens a stream to the agent and writes its header (kind and
// header body). The stream is the agent's to answer; closing it is the
// caller's job. When the agent has no live connection the error matches
// ErrAgentOffline and says "agent <id> is offline". ctx bounds opening the
// stream and writing the header only.
func (g *Gateway) OpenStream(ctx context.Context, agentID string, kind api.StreamKind, header any) (net.Conn, error) {
	c := g.lookup(agentID)
	if c == nil {
		return nil, &offlineError{agentID: agentID}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := c.sess.OpenStream()
	if err != nil {
		return nil, &offlineError{agentID: agentID, cause: err}
	}
	stop := context.AfterFunc(ctx, func() { st.Close() })
	if dl, ok := ctx.Deadline(); ok {
		st.SetWriteDeadline(dl)
	}
	err = tunnel.WriteHeader(st, kind, header)
	if !stop() {
		st.Close()
		return nil, ctx.Err()
	}
	st.SetWriteDeadline(time.Time{})
	if err != nil {
		st.Close()
		if c.sess.IsClosed() {
			return nil, &offlineError{agentID: agentID, cause: err}
		}
		return nil, err
	}
	return st, nil
}

// Disconnect tells the agent why it is being dropped (an error message on
// its control stream; fatal = do not reconnect, e.g. after revocation) and
// closes its connection. The agent is offline when Disconnect returns; the
// connection itself is closed once the agent has closed its side, or after
// two seconds. A revoked agent that reconnects is refused (the store is
// checked on every connection), so `agents rm` revokes first, then calls
// Disconnect(id, "agent revoked", true).
func (g *Gateway) Disconnect(agentID string, reason string, fatal bool) {
	c := g.lookup(agentID)
	if c == nil {
		return
	}
	g.unregister(c)
	if err := c.send(api.AgentMessage{Type: api.MsgError, Error: &api.AgentError{Message: reason, Fatal: fatal}}); err != nil {
		c.log.Warn("send disconnect reason", "err", err)
	}
	c.log.Info("disconnecting agent", "reason", reason, "fatal", fatal)
	// The watchdog closes the connection if the agent has not closed it
	// within two seconds.
	c.mu.Lock()
	c.closeBy = time.Now().Add(2 * time.Second)
	c.closeReason = "disconnected: " + reason
	c.mu.Unlock()
}
