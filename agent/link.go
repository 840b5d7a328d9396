package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
)

// link is one live connection to control.
type link struct {
	a    *Agent
	ymx  *yamux.Session
	ctl  net.Conn
	wmu  sync.Mutex // control stream writes
	beat time.Duration
}

// send writes one frame on the control stream.
func (l *link) send(m api.AgentMessage) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.ctl.SetWriteDeadline(time.Now().Add(l.a.cfg.HandshakeTimeout))
	defer l.ctl.SetWriteDeadline(time.Time{})
	return tunnel.WriteFrame(l.ctl, m)
}

// announced returns the resources as announced to control (no credentials).
func (a *Agent) announced() []api.Resource {
	out := make([]api.Resource, 0, len(a.cfg.Resources))
	for _, r := range a.cfg.Resources {
		out = append(out, r.Announce())
	}
	return out
}

// runLink dials control, says hello and serves the link until it breaks or
// ctx ends. Every session running on the link is torn down when it ends.
func (a *Agent) runLink(ctx context.Context) error {
	cfg := a.cfg
	a.setState(StateConnecting)
	l, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer l.ymx.Close()
	a.setState(StateConnected)
	cfg.Logger.Info("connected to control", "control", cfg.ControlAddr, "agent_id", a.id.AgentID, "resources", len(cfg.Resources))

	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	defer func() {
		cancel()
		l.ymx.Close()
		a.sessions.teardownAll("link to control lost")
		wg.Wait()
	}()
	wg.Add(4)
	go func() { defer wg.Done(); errc <- l.readControl() }()
	go func() { defer wg.Done(); errc <- l.heartbeats(lctx) }()
	go func() { defer wg.Done(); errc <- l.acceptStreams(lctx, &wg) }()
	go func() { defer wg.Done(); a.uploader.Run(lctx, l.ymx) }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	case <-l.ymx.CloseChan():
		return errors.New("link closed")
	}
}

// connect dials control with the agent's certificate, opens the control
// stream with the hello and waits for the welcome.
func (a *Agent) connect(ctx context.Context) (*link, error) {
	cfg := a.cfg
	hctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	raw, err := cfg.Dial(hctx, "tcp", cfg.ControlAddr)
	if err != nil {
		return nil, fmt.Errorf("dial control %s: %w", cfg.ControlAddr, err)
	}
	tc := tunnel.CAConfig(a.id.ca, hostOf(cfg.ControlAddr))
	tc.Certificates = []tls.Certificate{a.id.cert}
	conn := tls.Client(relay.Raw(raw), tc)
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake with control %s: %w", cfg.ControlAddr, err)
	}
	ymx, err := tunnel.Client(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("start yamux: %w", err)
	}
	fail := func(err error) (*link, error) { ymx.Close(); return nil, err }
	stop := context.AfterFunc(hctx, func() { ymx.Close() })
	defer stop()
	ctl, err := ymx.OpenStream()
	if err != nil {
		return fail(fmt.Errorf("open control stream: %w", err))
	}
	hello := api.AgentHello{Version: cfg.Version, Hostname: hostname(), Resources: a.announced(), Recordings: a.spool.IDs(), SigningKey: signingPublic(a.signer)}
	if err := tunnel.WriteHeader(ctl, api.StreamControl, hello); err != nil {
		return fail(fmt.Errorf("send hello: %w", err))
	}
	var m api.AgentMessage
	if err := tunnel.ReadFrame(ctl, &m); err != nil {
		if hctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no welcome within %s: %w", cfg.HandshakeTimeout, err)
		}
		return fail(fmt.Errorf("read welcome: %w", err))
	}
	l := &link{a: a, ymx: ymx, ctl: ctl, beat: cfg.HeartbeatInterval}
	switch {
	case m.Type == api.MsgError && m.Error != nil:
		return fail(l.controlError(m.Error))
	case m.Type != api.MsgWelcome || m.Welcome == nil:
		return fail(fmt.Errorf("control answered the hello with %q, want welcome", m.Type))
	}
	if !stop() {
		return fail(ctx.Err())
	}
	w := m.Welcome
	if w.HeartbeatInterval > 0 {
		l.beat = time.Duration(w.HeartbeatInterval) * time.Millisecond
	}
	for name, why := range w.ResourceErrors {
		cfg.Logger.Warn("control refused a resource", "resource", name, "reason", why)
	}
	return l, nil
}

// controlError turns an error message from control into the link's end.
func (l *link) controlError(e *api.AgentError) error {
	if e.Fatal {
		l.a.cfg.Logger.Error("control revoked this agent", "message", e.Message)
		return ErrRevoked
	}
	return fmt.Errorf("control dropped the link: %s", e.Message)
}

// readControl reads control's frames until the stream ends.
func (l *link) readControl() error {
	log := l.a.cfg.Logger
	for {
		var m api.AgentMessage
		if err := tunnel.ReadFrame(l.ctl, &m); err != nil {
			return fmt.Errorf("control stream: %w", err)
		}
		switch m.Type {
		case api.MsgHeartbeat:
			log.Debug("heartbeat from control")
		case api.MsgError:
			if m.Error == nil {
				return errors.New("control sent an error without a message")
			}
			return l.controlError(m.Error)
		case api.MsgWelcome:
			log.Debug("repeated welcome from control ignored")
		default:
			log.Warn("unknown message on the control stream ignored", "type", m.Type)
		}
	}
}

// heartbeats sends a heartbeat every interval.
func (l *link) heartbeats(ctx context.Context) error {
	t := time.NewTicker(l.beat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			now := l.a.cfg.Clock()
			if err := l.send(api.AgentMessage{Type: api.MsgHeartbeat, Heartbeat: &now}); err != nil {
				return fmt.Errorf("send heartbeat: %w", err)
			}
		}
	}
}

// acceptStreams dispatches the streams control opens.
func (l *link) acceptStreams(ctx context.Context, wg *sync.WaitGroup) error {
	for {
		s, err := l.ymx.AcceptStream()
		if err != nil {
			return fmt.Errorf("accept stream: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.a.handleStream(ctx, s)
		}()
	}
}

// handleStream reads a stream's header and serves it. A bad header ends
// that stream only.
func (a *Agent) handleStream(ctx context.Context, s net.Conn) {
	s.SetReadDeadline(time.Now().Add(a.cfg.HandshakeTimeout))
	kind, body, err := tunnel.ReadHeader(s)
	s.SetReadDeadline(time.Time{})
	if err != nil {
		a.cfg.Logger.Warn("bad stream from control closed", "err", err)
		s.Close()
		return
	}
	switch kind {
	case api.StreamSession:
		a.serveSession(ctx, s, body)
	case api.StreamConn:
		a.serveConn(ctx, s, body)
	default:
		a.cfg.Logger.Warn("unexpected stream from control closed", "kind", kind)
		s.Close()
	}
}
