package rdp

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/onepam/onepam/agent/proxy/deskrec"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Proxy is the RDP proxy.
type Proxy struct {
	cfg      Config
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
}

// New returns an RDP proxy.
func New(cfg Config) *Proxy {
	return &Proxy{cfg: cfg.withDefaults()}
}

// Open checks that the agent reaches the RDP server and completes its
// security layer: X.224 negotiation, TLS with the configured
// certificate check and, with security nla, CredSSP with the stored
// credentials (a wrong password fails here with the server's reason).
// Then it starts the session's recording.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	if info.Target.Address == "" {
		return nil, fmt.Errorf("resource %q has no target address", info.Target.Name)
	}
	tc, _ := info.Target.Options.(*TargetConfig)
	if tc == nil {
		tc = &TargetConfig{Username: info.Target.Credentials.Username, Password: info.Target.Credentials.Password}
	} else {
		c := *tc
		tc = &c
		if tc.Username == "" {
			tc.Username = info.Target.Credentials.Username
		}
	}
	if err := tc.Validate(); err != nil {
		return nil, fmt.Errorf("resource %q: %w", info.Target.Name, err)
	}
	if _, err := p.serverCert(); err != nil {
		return nil, err
	}
	s := &session{p: p, info: info, tc: tc, log: info.Logger, start: info.Clock()}
	s.conns.Single = "this RDP session already carries a client; one client at a time"
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	t, err := s.dialTarget(ctx)
	if err != nil {
		return nil, err
	}
	t.tls.Close()
	if s.enc, err = p.cfg.Recording.NewEncoder(info, "rdp", s.start); err != nil {
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

	conns proxy.Conns // one RDP client at a time
}

func (s *session) since() time.Duration {
	return max(s.info.Clock().Sub(s.start), 0)
}

// ServeConn connects to the RDP server, answers the ConnOpenResult, and
// carries one RDP client connection while recording it.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	release, err := s.conns.Begin(conn, c)
	if err != nil {
		return err
	}
	defer release()

	t, err := s.dialTarget(ctx)
	if err != nil {
		s.record(s.enc.Meta(s.since(), "connection", fmt.Sprintf("%d from %s failed: %v", c.ConnID, c.ClientAddr, err)))
		return proxy.Refuse(conn, err)
	}
	defer t.raw.Close()
	if err := s.conns.Attach(c.ConnID, t.raw); err != nil {
		return proxy.Refuse(conn, err)
	}
	if err := tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true}); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { relay.Abort(conn); relay.Abort(t.raw) })
	defer stop()

	r := newRelay(s, c.ConnID, conn, t)
	if dir := s.tc.DebugDump; dir != "" {
		name := fmt.Sprintf("%s-%d.rdpdump", s.info.Open.SessionID, c.ConnID)
		fail := func(err error) { s.log.Warn("rdp: debug dump stopped", "conn", c.ConnID, "err", err) }
		if r.dump, err = openDump(dir, name, fail); err != nil {
			s.log.Warn("rdp: no debug dump", "conn", c.ConnID, "err", err)
		} else {
			s.log.Info("rdp: writing a debug dump of the connection's PDUs", "conn", c.ConnID, "file", filepath.Join(dir, name))
			defer r.dump.close()
		}
	}
	err = r.run()
	if s.conns.Closing() {
		err = nil // torn down on purpose
	}
	s.rec().EndConn(s.since(), c.ConnID, err)
	return err
}

// rec is the session's recording, for deskrec's shared helpers.
func (s *session) rec() deskrec.Session {
	return deskrec.Session{Proto: "rdp", SessionID: s.info.Open.SessionID, Enc: s.enc, Fail: s.info.Fail, Log: s.log}
}

// report sends a file event (clipboard or drive activity) to control.
func (s *session) report(ev api.FileEvent) {
	ev.SessionID = s.info.Open.SessionID
	ev.Time = s.info.Clock().UTC()
	if ev.Result == "" {
		ev.Result = "ok"
	}
	s.log.Info("file activity", "protocol", ev.Protocol, "op", ev.Op, "path", ev.Path, "path2", ev.Path2, "bytes", ev.Bytes)
	if s.info.Report != nil {
		s.info.Report(api.SessionReport{Type: api.ReportFile, File: &ev})
	}
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

// rec marks a failed recording write (deskrec.Error).
func rec(err error) error { return deskrec.Wrap(err) }
