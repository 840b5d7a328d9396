// Package agenttest is a test peer for the agent ↔ control protocol: a
// small TLS + yamux server on loopback that speaks the real framing of
// pkg/tunnel. It enrolls agents (signing their CSRs with its own CA),
// accepts their control stream (answering the hello with a welcome,
// heartbeats both ways), receives recording uploads (acknowledging every
// chunk), and lets a test open session and connection streams to an agent,
// send terminate commands and fatal errors, and drop every link to
// simulate control going away. It is not a mock of the targets: tests use
// real loopback listeners for those.
package agenttest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/container"
)

// Config configures a Server.
type Config struct {
	// HeartbeatInterval is sent in the welcome. Default 200 ms.
	HeartbeatInterval time.Duration
	Logger            *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server is the test peer.
type Server struct {
	cfg  Config
	ca   *testCA
	tls  *tls.Config
	addr string

	mu        sync.Mutex
	ln        net.Listener
	tokens    map[string]bool // unused enrollment secrets
	agents    map[string]string
	revoked   map[string]bool
	conns     map[*AgentConn]bool
	raw       map[net.Conn]bool
	recs      map[string]*Recording
	enrolls   int
	changed   chan struct{}
	connected chan *AgentConn
	wg        sync.WaitGroup
	closed    bool
	holdAcks  bool
}

// Recording is what the server received of one session's recording.
type Recording struct {
	Format  api.RecordingFormat
	Data    []byte
	Final   bool
	Uploads int // recording streams opened for it
	Chunks  int // chunks stored
}

// NewServer starts a server on a free loopback port.
func NewServer(cfg Config) (*Server, error) {
	ca, err := newCA()
	if err != nil {
		return nil, err
	}
	cert, err := ca.serverCert()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	s := &Server{
		cfg: cfg.withDefaults(), ca: ca,
		tls: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    pool,
		},
		tokens: map[string]bool{}, agents: map[string]string{}, revoked: map[string]bool{},
		conns: map[*AgentConn]bool{}, raw: map[net.Conn]bool{}, recs: map[string]*Recording{},
		changed: make(chan struct{}), connected: make(chan *AgentConn, 64),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

// Addr is the agent address (127.0.0.1:port); it stays the same across
// Stop and Start.
func (s *Server) Addr() string { return s.addr }

// CAPin is the pin of the server's CA.
func (s *Server) CAPin() string { return tunnel.CAPin(s.ca.cert) }

// Token creates a one-time enrollment token "<secret>.<pin hex>".
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	secret := fmt.Sprintf("enroll-%d-%d", len(s.tokens), time.Now().UnixNano())
	s.tokens[secret] = true
	return secret + "." + strings.TrimPrefix(s.CAPin(), "sha256:")
}

// Enrollments returns how many enrollments succeeded.
func (s *Server) Enrollments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enrolls
}

func (s *Server) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.raw[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.handle(c)
				c.Close()
				s.mu.Lock()
				delete(s.raw, c)
				s.mu.Unlock()
			}()
		}
	}()
}

// Stop closes the listener and every connection, as if control died.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.raw {
		c.Close()
	}
	s.mu.Unlock()
}

// Start listens again on the same address after Stop.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Stop()
	s.wg.Wait()
}

// HoldAcks makes the server stop acknowledging recording chunks (and
// storing them) while on, as if control stalled mid-upload.
func (s *Server) HoldAcks(on bool) {
	s.mu.Lock()
	s.holdAcks = on
	s.mu.Unlock()
}

// Revoke marks an agent revoked: a live link gets a fatal error, and
// later connections are refused with one.
func (s *Server) Revoke(agentID, msg string) {
	s.mu.Lock()
	s.revoked[agentID] = true
	var live []*AgentConn
	for c := range s.conns {
		if c.ID == agentID {
			live = append(live, c)
		}
	}
	s.mu.Unlock()
	for _, c := range live {
		c.Send(api.AgentMessage{Type: api.MsgError, Error: &api.AgentError{Message: msg, Fatal: true}})
	}
}

// WaitAgent returns the next agent link that completed its hello.
func (s *Server) WaitAgent(ctx context.Context) (*AgentConn, error) {
	select {
	case c := <-s.connected:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no agent connected: %w", ctx.Err())
	}
}

// Recording returns a copy of what was received for a session.
func (s *Server) Recording(id string) (Recording, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok {
		return Recording{}, false
	}
	cp := *r
	cp.Data = append([]byte(nil), r.Data...)
	return cp, true
}

// SetRecording preloads what control holds of a recording (to test
// resuming).
func (s *Server) SetRecording(id string, r Recording) {
	s.mu.Lock()
	s.recs[id] = &r
	s.notifyLocked()
	s.mu.Unlock()
}

// WaitFor polls cond on every change of the server's state until it holds
// or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitRecording waits until the recording of a session is final.
func (s *Server) WaitRecording(ctx context.Context, id string) (Recording, error) {
	var r Recording
	err := s.WaitFor(ctx, func() bool {
		var ok bool
		r, ok = s.Recording(id)
		return ok && r.Final
	})
	return r, err
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) handle(raw net.Conn) {
	tc := tls.Server(raw, s.tls)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return
	}
	peer := tc.ConnectionState().PeerCertificates
	if len(peer) == 0 {
		s.enroll(tc)
		return
	}
	s.link(tc, peer[0].Subject.CommonName)
}

func (s *Server) enroll(tc *tls.Conn) {
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	var req api.EnrollRequest
	if err := tunnel.ExpectHeader(tc, api.StreamEnroll, &req); err != nil {
		return
	}
	resp := func() api.EnrollResponse {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.tokens[req.Token] {
			return api.EnrollResponse{Error: "enrollment token already used or expired"}
		}
		id := fmt.Sprintf("agent-%x", nextSerial().Bytes()[:6])
		certPEM, err := s.ca.signCSR(req.CSR, id)
		if err != nil {
			return api.EnrollResponse{Error: err.Error()}
		}
		delete(s.tokens, req.Token)
		s.agents[id] = req.Name
		s.enrolls++
		return api.EnrollResponse{AgentID: id, Name: req.Name, CertPEM: certPEM, CAPEM: s.ca.pem()}
	}()
	tunnel.WriteFrame(tc, resp)
}

func (s *Server) link(tc *tls.Conn, agentID string) {
	ymx, err := tunnel.Server(tc)
	if err != nil {
		return
	}
	defer ymx.Close()
	ctl, err := ymx.Accept()
	if err != nil {
		return
	}
	var hello api.AgentHello
	if err := tunnel.ExpectHeader(ctl, api.StreamControl, &hello); err != nil {
		return
	}
	c := &AgentConn{s: s, ID: agentID, Hello: hello, ymx: ymx, ctl: ctl, down: make(chan struct{})}
	s.mu.Lock()
	revoked := s.revoked[agentID]
	name := s.agents[agentID]
	s.mu.Unlock()
	if revoked {
		c.Send(api.AgentMessage{Type: api.MsgError, Error: &api.AgentError{Message: "agent revoked", Fatal: true}})
		select {
		case <-ymx.CloseChan():
		case <-time.After(2 * time.Second):
		}
		return
	}
	c.Send(api.AgentMessage{Type: api.MsgWelcome, Welcome: &api.AgentWelcome{
		AgentID: agentID, Name: name, HeartbeatInterval: s.cfg.HeartbeatInterval.Milliseconds(),
	}})
	s.mu.Lock()
	s.conns[c] = true
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.notifyLocked()
		s.mu.Unlock()
		close(c.down)
	}()
	select {
	case s.connected <- c:
	default:
	}
	go func() {
		for {
			st, err := ymx.Accept()
			if err != nil {
				return
			}
			go s.ServeStream(st)
		}
	}()
	for {
		var m api.AgentMessage
		if err := tunnel.ReadFrame(ctl, &m); err != nil {
			return
		}
		if m.Type == api.MsgHeartbeat {
			c.mu.Lock()
			c.heartbeats++
			c.mu.Unlock()
			now := time.Now()
			c.Send(api.AgentMessage{Type: api.MsgHeartbeat, Heartbeat: &now})
			s.mu.Lock()
			s.notifyLocked()
			s.mu.Unlock()
		}
	}
}

// stream serves a stream the agent opened (recording uploads).
func (s *Server) stream(st net.Conn) {
	defer st.Close()
	var ro api.RecordingOpen
	if err := tunnel.ExpectHeader(st, api.StreamRecording, &ro); err != nil {
		s.cfg.Logger.Warn("agenttest: bad agent stream", "err", err)
		return
	}
	s.mu.Lock()
	r := s.recs[ro.SessionID]
	if r == nil {
		r = &Recording{Format: ro.Format}
		s.recs[ro.SessionID] = r
	}
	r.Uploads++
	first := api.RecordingAck{Offset: int64(len(r.Data)), Final: r.Final}
	s.notifyLocked()
	s.mu.Unlock()
	if err := tunnel.WriteFrame(st, first); err != nil {
		return
	}
	for {
		ch, err := tunnel.ReadChunk(st)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.cfg.Logger.Debug("agenttest: recording stream", "err", err)
			}
			return
		}
		s.mu.Lock()
		if s.holdAcks {
			s.mu.Unlock()
			continue
		}
		// Like control's store: a chunk at or before the end replaces
		// everything from its offset on (a re-sent open frame); a gap is
		// refused.
		if ch.Offset < 0 || ch.Offset > int64(len(r.Data)) {
			s.mu.Unlock()
			tunnel.WriteFrame(st, api.RecordingAck{Offset: int64(len(r.Data)), Error: fmt.Sprintf("chunk at %d, want at most %d", ch.Offset, len(r.Data))})
			return
		}
		r.Data = append(r.Data[:ch.Offset:ch.Offset], ch.Data...)
		r.Chunks++
		if ch.Final {
			r.Final = true
		}
		ack := api.RecordingAck{Offset: int64(len(r.Data)), Final: r.Final}
		s.notifyLocked()
		s.mu.Unlock()
		if err := tunnel.WriteFrame(st, ack); err != nil {
			return
		}
	}
}

// ServeStream serves one stream an agent opened (a recording upload). The
// server calls it for streams of its own links; tests may call it for
// streams of a yamux session they run themselves.
func (s *Server) ServeStream(st net.Conn) { s.stream(st) }

// Inner returns the recording's inner-format bytes: the frames of the
// recording container decoded (a legacy raw recording as it is).
func (r Recording) Inner() ([]byte, error) {
	if !bytes.HasPrefix(r.Data, []byte(container.Magic)) {
		return r.Data, nil
	}
	rd, err := container.Open(bytes.NewReader(r.Data), int64(len(r.Data)))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rd.StreamFrom(0))
}
