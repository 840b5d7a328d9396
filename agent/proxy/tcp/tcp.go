// Package tcp is the agent's TCP proxy: every connection of a session is a
// plain TCP connection to the target, carried byte for byte, and recorded
// as a connection log (recordfmt/connlog: one open and one close line per
// connection, with byte counts and duration).
package tcp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/connlog"
)

// Config configures the TCP proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// DialTimeout bounds the probe dial and every target dial. Default 10 s.
	DialTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	return c
}

// Proxy is the TCP proxy.
type Proxy struct {
	cfg Config
}

// New returns a TCP proxy.
func New(cfg Config) *Proxy {
	return &Proxy{cfg: cfg.withDefaults()}
}

// Open checks that the agent reaches the target with one probe dial,
// closed right away.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	if info.Target.Address == "" {
		return nil, fmt.Errorf("resource %q has no target address", info.Target.Name)
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	c, err := info.Dial(dctx, "tcp", info.Target.Address)
	if err != nil {
		return nil, fmt.Errorf("reach target %s: %w", info.Target.Address, err)
	}
	c.Close()
	return &session{
		p:     p,
		info:  info,
		start: info.Clock(),
		enc:   connlog.NewEncoder(info.Recorder),
		log:   info.Logger,
	}, nil
}

type session struct {
	p     *Proxy
	info  *proxy.SessionInfo
	start time.Time
	enc   *connlog.Encoder
	log   *slog.Logger
	conns proxy.Conns
}

func (s *session) since() float64 {
	d := s.info.Clock().Sub(s.start).Seconds()
	if d < 0 {
		return 0
	}
	return d
}

// ServeConn dials the target, answers the ConnOpenResult and carries
// bytes both ways.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	release, err := s.conns.Begin(conn, c)
	if err != nil {
		return err
	}
	defer release()

	addr := s.info.Target.Address
	ev := connlog.Event{Conn: c.ConnID, Peer: c.ClientAddr, Target: addr}
	dctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	target, err := s.info.Dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		err = fmt.Errorf("dial target %s: %w", addr, err)
		ev.T, ev.Event, ev.Error = s.since(), connlog.EventError, err.Error()
		if rerr := s.enc.Encode(ev); rerr != nil {
			s.info.Fail(rerr)
		}
		return proxy.Refuse(conn, err)
	}
	defer target.Close()
	if err := s.conns.Attach(c.ConnID, target); err != nil {
		return proxy.Refuse(conn, err)
	}

	opened := s.info.Clock()
	ev.T, ev.Event = s.since(), connlog.EventOpen
	if err := s.enc.Encode(ev); err != nil {
		tunnel.WriteFrame(conn, api.ConnOpenResult{Error: err.Error()})
		s.info.Fail(err)
		return err
	}
	up, down, cerr := int64(0), int64(0), tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true})
	if cerr == nil {
		var u, d atomic.Int64
		cerr = relay.Splice(conn, target, &u, &d)
		up, down = u.Load(), d.Load()
	}
	if s.conns.Closing() {
		cerr = nil // torn down on purpose: not a connection error
	}
	ev.T, ev.Event = s.since(), connlog.EventClose
	ev.BytesUp, ev.BytesDown = up, down
	ev.Duration = max(s.info.Clock().Sub(opened).Seconds(), 0)
	if cerr != nil {
		ev.Error = cerr.Error()
	}
	if err := s.enc.Encode(ev); err != nil {
		s.info.Fail(err)
	}
	return cerr
}

// Close tears the session down: every client stream and target connection
// is closed, and Close waits until their close events are recorded.
func (s *session) Close() error {
	s.conns.CloseAll()
	return nil
}
