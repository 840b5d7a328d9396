package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// session is one SSH session: a target connection (backend), the
// recording, and the person's conn streams.
type session struct {
	p    *Proxy
	info *proxy.SessionInfo
	tc   *TargetConfig
	be   backend
	log  *slog.Logger
	rec  *recording
	srv  *gossh.ServerConfig

	mu       sync.Mutex
	closed   bool
	conns    map[int64]net.Conn
	channels map[*channel]struct{}
	wg       sync.WaitGroup
	stopped  chan struct{} // closed by Close
}

func newSession(p *Proxy, info *proxy.SessionInfo, tc *TargetConfig, be backend, signer gossh.Signer) *session {
	s := &session{
		p: p, info: info, tc: tc, be: be,
		log:      info.Logger.With("proxy", "ssh"),
		conns:    map[int64]net.Conn{},
		channels: map[*channel]struct{}{},
		stopped:  make(chan struct{}),
	}
	s.rec = newRecording(info, be.shell(), s.fail)
	accept := func(gossh.ConnMetadata) (*gossh.Permissions, error) { return nil, nil }
	s.srv = &gossh.ServerConfig{
		// The stream is authenticated and authorised by control: any
		// method is accepted (OpenSSH may offer keys before none).
		NoClientAuth:      true,
		PublicKeyCallback: func(m gossh.ConnMetadata, _ gossh.PublicKey) (*gossh.Permissions, error) { return accept(m) },
		PasswordCallback:  func(m gossh.ConnMetadata, _ []byte) (*gossh.Permissions, error) { return accept(m) },
		KeyboardInteractiveCallback: func(m gossh.ConnMetadata, _ gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
			return accept(m)
		},
		ServerVersion: "SSH-2.0-OnePAM",
		Config:        gossh.Config{Ciphers: p.cfg.Ciphers},
	}
	s.srv.AddHostKey(signer)
	go s.flushLoop()
	go func() {
		select {
		case <-be.done():
			s.log.Info("target connection ended")
			s.closeConns()
		case <-s.stopped:
		}
	}()
	return s
}

// fail reports a broken recording (fail-closed) to the agent once.
func (s *session) fail(err error) {
	s.info.Fail(err)
}

// report sends a file event to control.
func (s *session) report(ev api.FileEvent) {
	ev.SessionID = s.info.Open.SessionID
	if ev.Time.IsZero() {
		ev.Time = s.info.Clock().UTC()
	}
	if ev.Result == "" {
		ev.Result = "ok"
	}
	s.log.Info("file activity", "protocol", ev.Protocol, "op", ev.Op, "path", ev.Path, "path2", ev.Path2, "bytes", ev.Bytes, "result", ev.Result, "error", ev.Error)
	if s.info.Report != nil {
		s.info.Report(api.SessionReport{Type: api.ReportFile, File: &ev})
	}
}

func (s *session) flushLoop() {
	t := time.NewTicker(s.p.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.rec.flush()
		case <-s.stopped:
			return
		}
	}
}

// ServeConn answers the ConnOpenResult and runs an SSH server for the
// person on conn, whose channels go to the session's target connection.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		tunnel.WriteFrame(conn, api.ConnOpenResult{Error: "session is ending"})
		return errors.New("session is ending")
	}
	if _, dup := s.conns[c.ConnID]; dup || c.ConnID < 1 {
		s.mu.Unlock()
		msg := fmt.Sprintf("connection number %d is invalid or already in use", c.ConnID)
		tunnel.WriteFrame(conn, api.ConnOpenResult{Error: msg})
		return errors.New(msg)
	}
	s.conns[c.ConnID] = conn
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c.ConnID)
		s.mu.Unlock()
		s.wg.Done()
	}()
	if err := tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true}); err != nil {
		return err
	}
	log := s.log.With("conn", c.ConnID)
	conn.SetDeadline(time.Now().Add(s.p.cfg.HandshakeTimeout))
	sc, chans, reqs, err := gossh.NewServerConn(conn, s.srv)
	if err != nil {
		return fmt.Errorf("ssh handshake with the client: %w", err)
	}
	conn.SetDeadline(time.Time{})
	defer sc.Close()
	log.Debug("client connected", "client_version", string(sc.ClientVersion()), "client_user", sc.User())
	go s.globalRequests(reqs, log)
	var wg sync.WaitGroup
	for nc := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch nc.ChannelType() {
			case "session":
				s.sessionChannel(ctx, nc, log)
			case "direct-tcpip":
				s.directTCPIP(ctx, nc, log)
			default:
				log.Info("channel type refused", "type", nc.ChannelType())
				nc.Reject(gossh.UnknownChannelType, fmt.Sprintf("channel type %q is not supported", nc.ChannelType()))
			}
		}()
	}
	wg.Wait()
	return nil
}

// globalRequests answers the person's global requests: keepalives and
// anything else (remote forwarding included) get "false".
func (s *session) globalRequests(reqs <-chan *gossh.Request, log *slog.Logger) {
	for req := range reqs {
		switch req.Type {
		case "tcpip-forward", "streamlocal-forward@openssh.com":
			log.Info("remote port forwarding refused", "request", req.Type)
		}
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}

// Notify writes msg on the terminal of every open shell or exec channel
// (e.g. "session terminated by an administrator").
func (s *session) Notify(msg string) {
	s.mu.Lock()
	chs := make([]*channel, 0, len(s.channels))
	for c := range s.channels {
		chs = append(chs, c)
	}
	s.mu.Unlock()
	s.rec.marker(msg)
	for _, c := range chs {
		c.notify(msg)
	}
}

func (s *session) addChannel(c *channel) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.channels[c] = struct{}{}
	return true
}

func (s *session) removeChannel(c *channel) {
	s.mu.Lock()
	delete(s.channels, c)
	s.mu.Unlock()
}

// closeConns closes the person's conn streams (the target is gone).
func (s *session) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		abort(c)
	}
}

// Close ends every channel and conn stream, closes the target connection
// and writes the end of the recording.
func (s *session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.stopped)
	for _, c := range s.conns {
		abort(c)
	}
	s.mu.Unlock()
	err := s.be.close()
	s.wg.Wait()
	if rerr := s.rec.close(); rerr != nil {
		s.log.Error("finish recording", "err", rerr)
		return rerr
	}
	if isClosed(err) {
		err = nil
	}
	return err
}

// abort closes c in both directions at once. A yamux stream's Close only
// ends its sending half, so pending reads are cut by an expired deadline.
func abort(c net.Conn) {
	c.SetDeadline(time.Now())
	c.Close()
}
