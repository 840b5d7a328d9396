package postgres

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// Config configures the PostgreSQL proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// DialTimeout bounds reaching the database server (and its TLS
	// handshake). Default 10 s.
	DialTimeout time.Duration
	// LoginTimeout bounds the startup of a connection: the client's
	// startup packet and the agent's login to the server. Default 30 s.
	LoginTimeout time.Duration
	// MaxMessageSize is the longest message the proxy holds in memory to
	// log it (Query, Parse, Bind, errors, command tags); longer ones end the
	// connection. Other messages (rows, COPY data) stream through at any
	// size. Default 256 MiB.
	MaxMessageSize int
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = 30 * time.Second
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 256 << 20
	}
	return c
}

// Proxy is the PostgreSQL proxy.
type Proxy struct {
	cfg Config
}

// New returns a PostgreSQL proxy.
func New(cfg Config) *Proxy {
	return &Proxy{cfg: cfg.withDefaults()}
}

// targetConfig returns the resource's settings: its *TargetConfig, or one
// made of the generic credentials when the resource has none.
func targetConfig(t proxy.Target) (*TargetConfig, error) {
	switch o := t.Options.(type) {
	case *TargetConfig:
		if o == nil {
			break
		}
		if err := o.Validate(); err != nil {
			return nil, fmt.Errorf("resource %q: %w", t.Name, err)
		}
		return o, nil
	case nil:
	default:
		return nil, fmt.Errorf("resource %q: settings of type %T are not PostgreSQL settings", t.Name, t.Options)
	}
	cfg := &TargetConfig{User: t.Credentials.Username, Password: t.Credentials.Password}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("resource %q: %w", t.Name, err)
	}
	return cfg, nil
}

// Open checks the resource's settings and probes the server by logging in
// once as the session's database user (SessionOpen.Login, else the
// resource's default user), so wrong agent credentials fail the session
// with the server's own message.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	if info.Target.Address == "" {
		return nil, fmt.Errorf("resource %q has no target address", info.Target.Name)
	}
	cfg, err := targetConfig(info.Target)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig(info.Target.Address)
	if err != nil {
		return nil, fmt.Errorf("resource %q: %w", info.Target.Name, err)
	}
	logger := info.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &session{
		p:     p,
		info:  info,
		cfg:   cfg,
		tls:   tlsCfg,
		start: info.Clock(),
		enc:   querylog.NewEncoder(info.Recorder),
		log:   logger,
		keys:  map[uint32]*pgConn{},
	}
	user := info.Open.Login
	if user == "" {
		user = cfg.User
	}
	if user == "" && len(cfg.Users) == 1 {
		user = cfg.userNames()[0]
	}
	if user == "" {
		// No single user to log in as: the person picks one per
		// connection; check that the server is reachable.
		c, err := s.dialServer(ctx)
		if err != nil {
			return nil, err
		}
		c.Close()
		return s, nil
	}
	l, err := s.login(user, info.Open.Database, nil)
	if err != nil {
		return nil, err
	}
	sc, err := s.connectServer(ctx, l)
	if err != nil {
		return nil, err
	}
	writeMsgs(sc.conn, &pgproto3.Terminate{})
	sc.conn.Close()
	return s, nil
}

// login resolves the credentials of a database user and the database.
func (s *session) login(user, database string, params map[string]string) (login, error) {
	password, err := s.cfg.credentials(user)
	if err != nil {
		return login{}, err
	}
	if database == "" {
		database = s.cfg.Database
	}
	if database == "" {
		database = user
	}
	return login{user: user, password: password, database: database, params: params}, nil
}

// session is one open PostgreSQL session: any number of client
// connections, each with its own server connection, logged to one query
// log.
type session struct {
	p     *Proxy
	info  *proxy.SessionInfo
	cfg   *TargetConfig
	tls   *tls.Config
	start time.Time
	enc   *querylog.Encoder
	log   *slog.Logger
	conns proxy.Conns

	mu   sync.Mutex
	keys map[uint32]*pgConn // synthetic cancel key (process id) → connection
}

// since returns the seconds since the session start.
func (s *session) since(t time.Time) float64 {
	return max(t.Sub(s.start).Seconds(), 0)
}

// record writes one query log entry. A failed write (fail-closed
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

// ServeConn answers the ConnOpenResult and carries one client connection:
// the client's startup (or cancel request), the agent's login to the
// server, then every message both ways, logged.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	release, err := s.conns.Begin(conn, c)
	if err != nil {
		return err
	}
	pc := newPgConn(s, c.ConnID, conn)
	defer func() {
		s.mu.Lock()
		if k := pc.key.ProcessID; k != 0 && s.keys[k] == pc {
			delete(s.keys, k)
		}
		s.mu.Unlock()
		release()
	}()
	if err := tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true}); err != nil {
		return err
	}
	err = pc.serve(ctx)
	if s.conns.Closing() {
		err = nil // torn down on purpose
	}
	if err != nil {
		s.log.Debug("postgres connection ended", "conn", c.ConnID, "err", err)
	}
	return err
}

// setServer registers the connection's server side so Close can cut it;
// false when the session is already closing.
func (s *session) setServer(pc *pgConn, server net.Conn) bool {
	if s.conns.Attach(pc.id, server) != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pc.server = server
	s.keys[pc.key.ProcessID] = pc
	return true
}

// Close tears the session down: every client and server connection is cut
// at once, and Close waits until the connections have ended.
func (s *session) Close() error {
	s.conns.CloseAll()
	return nil
}
