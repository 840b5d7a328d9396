package agentgw

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// agentConn is one live connection of an enrolled agent.
type agentConn struct {
	g           *Gateway
	log         *slog.Logger
	id, name    string
	hostname    string
	version     string
	remote      string
	connectedAt time.Time
	sess        *yamux.Session
	ctrl        net.Conn

	wmu sync.Mutex // serialises writes on ctrl

	mu            sync.Mutex
	lastFrame     time.Time // monotonic, for the heartbeat timeout
	lastHeartbeat time.Time // Config.Clock
	lastStored    time.Time // Config.Clock: last AgentSeen written
	closeBy       time.Time // monotonic; set by Gateway.Disconnect
	closeReason   string

	dropOnce sync.Once
	down     chan struct{} // closed once the connection is dropped
}

// serveAgent runs the session of an agent that presented a client
// certificate. It returns when the agent is dropped.
func (g *Gateway) serveAgent(ctx context.Context, tc *tls.Conn, cert *x509.Certificate) {
	agentID := cert.Subject.CommonName
	remote := tc.RemoteAddr().String()
	log := g.log.With("agent_id", agentID, "remote", remote)
	rec, err := g.cfg.Store.GetAgent(ctx, agentID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Warn("unknown agent refused")
		g.refuse(tc, "unknown agent: enroll it again with a new token (onepam agents token create)")
		return
	case err != nil:
		log.Error("look up agent; closing its connection", "err", err)
		return
	case rec.RevokedAt != nil:
		log.Warn("revoked agent refused", "agent", rec.Name)
		g.refuse(tc, "agent revoked")
		return
	case rec.CertSerial != "" && rec.CertSerial != pki.SerialString(cert.SerialNumber):
		log.Warn("superseded agent certificate refused", "agent", rec.Name)
		g.refuse(tc, "agent certificate superseded: enroll the agent again")
		return
	}
	log = log.With("agent", rec.Name)

	sess, err := tunnel.Server(tc)
	if err != nil {
		log.Error("start yamux session", "err", err)
		return
	}
	defer sess.Close()
	hctx, cancel := context.WithTimeout(ctx, g.cfg.HandshakeTimeout)
	ctrl, err := sess.AcceptStreamWithContext(hctx)
	cancel()
	if err != nil {
		log.Warn("agent opened no control stream", "err", err)
		return
	}
	ctrl.SetReadDeadline(time.Now().Add(g.cfg.HandshakeTimeout))
	var hello api.AgentHello
	if err := tunnel.ExpectHeader(ctrl, api.StreamControl, &hello); err != nil {
		log.Warn("bad control stream header", "err", err)
		return
	}
	ctrl.SetReadDeadline(time.Time{})

	now := g.now()
	sctx, scancel := storeCtx(ctx)
	defer scancel()
	if err := g.cfg.Store.AgentSeen(sctx, agentID, now, hello.Version, hello.Hostname, remote); err != nil {
		log.Error("record agent connection", "err", err)
		return
	}
	g.noteSigningKey(sctx, log, agentID, hello.SigningKey, now)
	refused, err := g.cfg.Store.SetAgentResources(sctx, agentID, hello.Resources)
	if err != nil {
		log.Error("store agent resources", "err", err)
		return
	}
	if len(refused) > 0 {
		log.Warn("agent resources refused", "refused", refused)
	}

	c := &agentConn{
		g: g, log: log, id: agentID, name: rec.Name,
		hostname: hello.Hostname, version: hello.Version, remote: remote,
		connectedAt: now, sess: sess, ctrl: ctrl,
		lastFrame: time.Now(), lastHeartbeat: now, lastStored: now,
		down: make(chan struct{}),
	}
	g.register(c)
	defer c.drop("connection closed")
	welcome := api.AgentMessage{Type: api.MsgWelcome, Welcome: &api.AgentWelcome{
		AgentID:           agentID,
		Name:              rec.Name,
		HeartbeatInterval: g.cfg.HeartbeatInterval.Milliseconds(),
		ResourceErrors:    refused,
	}}
	if err := c.send(welcome); err != nil {
		log.Warn("send welcome", "err", err)
		return
	}
	log.Info("agent online", "version", hello.Version, "hostname", hello.Hostname, "resources", len(hello.Resources), "spooled_recordings", len(hello.Recordings))

	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		c.watchdog()
	}()
	go func() {
		defer g.wg.Done()
		c.acceptStreams(ctx)
	}()
	c.readControl(ctx)
}

// refuse tells an agent it may not connect (a fatal error on its control
// stream, so it stops for good) and closes the connection.
func (g *Gateway) refuse(tc *tls.Conn, msg string) {
	sess, err := tunnel.Server(tc)
	if err != nil {
		return
	}
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.HandshakeTimeout)
	defer cancel()
	st, err := sess.AcceptStreamWithContext(ctx)
	if err != nil {
		return
	}
	st.SetDeadline(time.Now().Add(g.cfg.HandshakeTimeout))
	// The hello is read and ignored; the answer does not depend on it.
	tunnel.ReadHeader(st)
	tunnel.WriteFrame(st, api.AgentMessage{Type: api.MsgError, Error: &api.AgentError{Message: msg, Fatal: true}})
	st.Close()
	waitClosed(sess, 2*time.Second)
}

// waitClosed waits up to d for the peer to close the session, so that what
// was written last reaches it before the connection is torn down.
func waitClosed(sess *yamux.Session, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-sess.CloseChan():
	case <-t.C:
	}
}

// send writes one frame on the control stream.
func (c *agentConn) send(m api.AgentMessage) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ctrl.SetWriteDeadline(time.Now().Add(c.g.cfg.HandshakeTimeout))
	defer c.ctrl.SetWriteDeadline(time.Time{})
	return tunnel.WriteFrame(c.ctrl, m)
}

// readControl handles the agent's control frames until the stream breaks.
func (c *agentConn) readControl(ctx context.Context) {
	for {
		var m api.AgentMessage
		if err := tunnel.ReadFrame(c.ctrl, &m); err != nil {
			select {
			case <-c.down:
			default:
				if errors.Is(err, io.EOF) {
					c.drop("control stream closed by the agent")
				} else {
					c.drop(fmt.Sprintf("control stream: %v", err))
				}
			}
			return
		}
		c.mu.Lock()
		c.lastFrame = time.Now()
		c.mu.Unlock()
		switch m.Type {
		case api.MsgHeartbeat:
			c.heartbeat(ctx)
		case api.MsgResources:
			sctx, cancel := storeCtx(ctx)
			refused, err := c.g.cfg.Store.SetAgentResources(sctx, c.id, m.Resources)
			cancel()
			switch {
			case err != nil:
				c.log.Error("store agent resources", "err", err)
			case len(refused) > 0:
				c.log.Warn("agent resources refused", "refused", refused)
			default:
				c.log.Info("agent resources updated", "resources", len(m.Resources))
			}
		default:
			c.log.Warn("ignoring unknown control message", "type", m.Type)
		}
	}
}

// heartbeat answers a heartbeat and records it.
func (c *agentConn) heartbeat(ctx context.Context) {
	now := c.g.now()
	c.mu.Lock()
	c.lastHeartbeat = now
	persist := now.Sub(c.lastStored) >= c.g.cfg.SeenInterval
	if persist {
		c.lastStored = now
	}
	c.mu.Unlock()
	if err := c.send(api.AgentMessage{Type: api.MsgHeartbeat, Heartbeat: &now}); err != nil {
		c.drop(fmt.Sprintf("answer heartbeat: %v", err))
		return
	}
	if persist {
		sctx, cancel := storeCtx(ctx)
		defer cancel()
		if err := c.g.cfg.Store.AgentSeen(sctx, c.id, now, c.version, c.hostname, c.remote); err != nil {
			c.log.Error("record agent heartbeat", "err", err)
		}
	}
}

// watchdog drops the agent when no frame arrived for HeartbeatTimeout.
func (c *agentConn) watchdog() {
	timeout := c.g.cfg.HeartbeatTimeout
	t := time.NewTicker(max(min(timeout/5, 500*time.Millisecond), time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.down:
			return
		case <-c.sess.CloseChan():
			c.drop("yamux session closed")
			return
		case <-t.C:
			c.mu.Lock()
			idle := time.Since(c.lastFrame)
			closeBy, closeReason := c.closeBy, c.closeReason
			c.mu.Unlock()
			if !closeBy.IsZero() && time.Now().After(closeBy) {
				c.drop(closeReason)
				return
			}
			if idle > timeout {
				c.drop(fmt.Sprintf("no heartbeat for %s", idle.Round(time.Millisecond)))
				return
			}
		}
	}
}

// acceptStreams serves the streams the agent opens after its control stream.
func (c *agentConn) acceptStreams(ctx context.Context) {
	for {
		st, err := c.sess.AcceptStream()
		if err != nil {
			return
		}
		c.g.wg.Add(1)
		go func() {
			defer c.g.wg.Done()
			defer st.Close()
			c.serveStream(ctx, st)
		}()
	}
}

// serveStream dispatches one agent-opened stream by its header.
func (c *agentConn) serveStream(ctx context.Context, st net.Conn) {
	st.SetReadDeadline(time.Now().Add(c.g.cfg.HandshakeTimeout))
	kind, body, err := tunnel.ReadHeader(st)
	if err != nil {
		c.log.Warn("bad stream from agent; closing it", "err", err)
		return
	}
	st.SetReadDeadline(time.Time{})
	switch kind {
	case api.StreamRecording:
		var open api.RecordingOpen
		if err := tunnel.DecodeHeader(body, &open); err != nil {
			c.log.Warn("bad recording header; closing the stream", "err", err)
			return
		}
		c.receiveRecording(ctx, st, open)
	default:
		c.log.Warn("agent opened a stream of an unexpected kind; closing it", "kind", kind.String())
	}
}

// drop takes the agent offline (if this connection is still its live one)
// and closes the connection. It is idempotent.
func (c *agentConn) drop(reason string) {
	c.dropOnce.Do(func() {
		close(c.down)
		c.sess.Close()
		wasLive := c.g.unregister(c)
		c.log.Info("agent connection dropped", "reason", reason, "live", wasLive)
		if wasLive {
			now := c.g.now()
			sctx, cancel := storeCtx(context.Background())
			defer cancel()
			if err := c.g.cfg.Store.AgentSeen(sctx, c.id, now, c.version, c.hostname, c.remote); err != nil {
				c.log.Error("record agent disconnect", "err", err)
			}
		}
	})
}
