package mysql

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// Config configures the MySQL proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// DialTimeout bounds every dial to the server. Default 10 s.
	DialTimeout time.Duration
	// LoginTimeout bounds the connection phase (greeting, client
	// handshake, login to the server). Default 30 s.
	LoginTimeout time.Duration
	// MaxPayload caps a reassembled packet payload (a statement, a row);
	// a bigger one ends the connection. Default DefaultMaxPayload (64 MiB).
	MaxPayload int
	// BufferSize is the read and write buffer size of each side of a
	// connection. Default 64 KiB.
	BufferSize int
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = 30 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 64 << 10
	}
	return c
}

// Proxy is the MySQL / MariaDB proxy.
type Proxy struct {
	cfg Config
}

// New returns a MySQL proxy.
func New(cfg Config) *Proxy {
	return &Proxy{cfg: cfg.withDefaults()}
}

// targetConfig returns the session's MySQL settings: Target.Options, or
// for a resource without them, its Credentials as the default user.
func targetConfig(t *proxy.Target) (*TargetConfig, error) {
	switch o := t.Options.(type) {
	case *TargetConfig:
		if o != nil {
			return o, nil
		}
	case nil:
	default:
		return nil, fmt.Errorf("resource %q: settings are a %T, not mysql settings", t.Name, t.Options)
	}
	cfg := &TargetConfig{User: t.Credentials.Username, Password: t.Credentials.Password}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Open checks the target: it connects and, when the session's database
// user is known (SessionOpen.Login or the resource's default user), logs
// in once, so a wrong agent-side password fails the session with the
// server's message.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	if info.Target.Address == "" {
		return nil, fmt.Errorf("resource %q has no target address", info.Target.Name)
	}
	cfg, err := targetConfig(&info.Target)
	if err != nil {
		return nil, err
	}
	tcfg, err := cfg.tlsConfig(info.Target.Address)
	if err != nil {
		return nil, err
	}
	log := info.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clock := info.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &session{
		p:     p,
		info:  info,
		cfg:   cfg,
		tls:   tcfg,
		clock: clock,
		start: clock(),
		enc:   querylog.NewEncoder(info.Recorder),
		log:   log,
	}
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// probe connects to the server and logs in once when a user is known.
func (s *session) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout+s.p.cfg.LoginTimeout)
	defer cancel()
	addr := s.info.Target.Address
	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	sc, g, err := dialServer(conn, 16<<10, s.p.cfg.MaxPayload)
	if err != nil {
		return fmt.Errorf("database %s: %w", addr, err)
	}
	user, password, err := s.cfg.credentials(s.info.Open.Login, "")
	if err != nil {
		if s.info.Open.Login != "" {
			return err
		}
		return nil // no default user: the user comes with each client connection
	}
	lp := s.loginParams(user, password, s.cfg.Database)
	lp.caps = relayCaps
	if _, err := sc.login(ctx, g, lp); err != nil {
		return fmt.Errorf("log in to database %s as %q: %w", addr, user, err)
	}
	sc.w.write(0, []byte{comQuit})
	sc.w.flush()
	return nil
}

func (s *session) dial(ctx context.Context) (net.Conn, error) {
	addr := s.info.Target.Address
	dial := s.info.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	defer cancel()
	conn, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reach database %s: %w", addr, err)
	}
	return relay.Raw(conn), nil
}

func (s *session) loginParams(user, password, database string) *loginParams {
	return &loginParams{
		user: user, password: password, database: database,
		tls:           s.tls,
		publicKeyFile: s.cfg.ServerPublicKeyFile,
		bufSize:       s.p.cfg.BufferSize,
		maxPayload:    s.p.cfg.MaxPayload,
	}
}

type session struct {
	p     *Proxy
	info  *proxy.SessionInfo
	cfg   *TargetConfig
	tls   *tls.Config // towards the server; nil without TLS
	clock func() time.Time
	start time.Time
	enc   *querylog.Encoder
	log   *slog.Logger
	conns proxy.Conns
}

func (s *session) since(t time.Time) float64 {
	return max(t.Sub(s.start).Seconds(), 0)
}

// record writes one query log entry; a failed write (fail-closed
// recording) fails the session.
func (s *session) record(e querylog.Entry) error {
	if err := s.enc.Encode(e); err != nil {
		if s.info.Fail != nil {
			s.info.Fail(err)
		}
		return err
	}
	return nil
}

// ServeConn carries one client connection: it connects to the server,
// answers the ConnOpenResult, runs the connection phase on both sides and
// relays the command phase, logging every statement.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	m := &mconn{s: s, id: c.ConnID, client: conn}
	release, err := s.conns.BeginFunc(conn, c, m.abort)
	if err != nil {
		return err
	}
	defer release()

	target, err := s.dial(ctx)
	if err != nil {
		s.record(querylog.Entry{T: s.since(s.clock()), Conn: int(c.ConnID), Kind: querylog.KindError, Rows: -1, Error: err.Error()})
		return proxy.Refuse(conn, err)
	}
	defer target.Close()
	if !m.setServer(target) {
		return proxy.Refuse(conn, proxy.ErrEnding)
	}
	if err := tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true}); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, m.abort)
	defer stop()
	err = m.serve(ctx)
	if s.conns.Closing() {
		err = nil // torn down on purpose: not a connection error
	}
	return err
}

// Close tears the session down: every client and server connection is
// closed at once, and Close waits until their last entries are recorded.
func (s *session) Close() error {
	s.conns.CloseAll()
	return nil
}

// setServer attaches the server connection unless the session is closing.
func (m *mconn) setServer(c net.Conn) bool {
	m.mu.Lock()
	m.server = c
	m.mu.Unlock()
	return !m.s.conns.Closing()
}

// abort closes both connections at once (kill, session end).
func (m *mconn) abort() {
	m.mu.Lock()
	defer m.mu.Unlock()
	relay.Abort(m.client)
	if m.server != nil {
		relay.Abort(m.server)
	}
}
