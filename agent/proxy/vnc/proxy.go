package vnc

import (
	"context"
	"errors"
	"fmt"
	"github.com/onepam/onepam/agent/proxy/deskrec"
	"log/slog"
	"net"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Proxy is the VNC proxy.
type Proxy struct {
	cfg Config
}

// New returns a VNC proxy.
func New(cfg Config) *Proxy {
	return &Proxy{cfg: cfg.withDefaults()}
}

// Open checks that the agent reaches the VNC server and that the server
// accepts the configured password: it dials, runs the handshake up to the
// security result and closes. A refused password fails with the server's
// reason. Then it starts the session's recording.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	if info.Target.Address == "" {
		return nil, fmt.Errorf("resource %q has no target address", info.Target.Name)
	}
	tc, _ := info.Target.Options.(*TargetConfig)
	if tc != nil {
		if err := tc.Validate(); err != nil {
			return nil, fmt.Errorf("resource %q: %w", info.Target.Name, err)
		}
	}
	s := &session{p: p, info: info, tc: tc, log: info.Logger, start: info.Clock()}
	s.conns.Single = "this VNC session already carries a viewer; one viewer at a time"
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	c, _, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.Close()
	if s.enc, err = p.cfg.Recording.NewEncoder(info, "vnc", s.start); err != nil {
		return nil, err
	}
	return s, nil
}

type session struct {
	p     *Proxy
	info  *proxy.SessionInfo
	tc    *TargetConfig
	log   *slog.Logger
	start time.Time
	enc   *deskproto.Encoder

	conns proxy.Conns // the connection being carried: one viewer at a time
}

func (s *session) since() time.Duration {
	return max(s.info.Clock().Sub(s.start), 0)
}

func (s *session) password() (string, error) {
	pw, err := s.tc.password()
	if err != nil {
		return "", err
	}
	if pw == "" {
		pw = s.info.Target.Credentials.Password
	}
	return pw, nil
}

// connect dials the server and runs the client handshake up to the
// security result. The returned stream holds nothing unread.
func (s *session) connect(ctx context.Context) (net.Conn, *rfb.Stream, error) {
	addr := s.info.Target.Address
	pw, err := s.password()
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	c, err := s.info.Dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("reach VNC server %s: %w", addr, err)
	}
	c.SetDeadline(time.Now().Add(s.p.cfg.HandshakeTimeout))
	st := rfb.NewStream(c, true)
	if _, err := rfb.ClientHandshake(st, c, pw); err != nil {
		c.Close()
		var ae *rfb.AuthError
		if errors.As(err, &ae) || errors.Is(err, rfb.ErrPasswordNeeded) {
			return nil, nil, fmt.Errorf("VNC server %s: %w", addr, err)
		}
		return nil, nil, fmt.Errorf("VNC handshake with %s: %w", addr, err)
	}
	st.Take()
	c.SetDeadline(time.Time{})
	return c, st, nil
}

// ServeConn connects to the server, answers the ConnOpenResult, and
// carries one viewer connection while recording it.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	release, err := s.conns.Begin(conn, c)
	if err != nil {
		return err
	}
	defer release()

	server, st, err := s.connect(ctx)
	if err != nil {
		s.record(s.enc.Meta(s.since(), "connection", fmt.Sprintf("%d from %s failed: %v", c.ConnID, c.ClientAddr, err)))
		return proxy.Refuse(conn, err)
	}
	defer server.Close()
	if err := s.conns.Attach(c.ConnID, server); err != nil {
		return proxy.Refuse(conn, err)
	}
	if err := tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true}); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { relay.Abort(conn); relay.Abort(server) })
	defer stop()

	r := &relayConn{s: s, id: c.ConnID, peer: c.ClientAddr, viewer: conn, server: server, ss: st}
	err = r.run()
	if s.conns.Closing() {
		err = nil // torn down on purpose
	}
	s.rec().EndConn(s.since(), c.ConnID, err)
	return err
}

// rec is the session's recording, for deskrec's shared helpers.
func (s *session) rec() deskrec.Session {
	return deskrec.Session{Proto: "vnc", SessionID: s.info.Open.SessionID, Enc: s.enc, Fail: s.info.Fail, Log: s.log}
}

// record reports a recording failure to the agent.
func (s *session) record(err error) { s.rec().Record(err) }

// Close tears the session down and ends its recording.
func (s *session) Close() error {
	if !s.conns.CloseAll() {
		return nil
	}
	return s.enc.Close(s.since())
}
