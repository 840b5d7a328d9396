package control

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/onepam/onepam/control/agentgw"
	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/control/apps"
	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/consoles"
	"github.com/onepam/onepam/control/metrics"
	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/web"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
)

// Server is a control server.
type Server struct {
	cfg        Config
	log        *slog.Logger
	ca         *pki.CA
	cert       tls.Certificate
	store      database
	recs       *recordings.Router
	retention  *recordings.RetentionJob
	indexer    *recordings.Indexer
	metrics    *metrics.Metrics
	tokens     *auth.Tokens
	gw         *agentgw.Gateway
	sessions   *sessions.Manager
	relay      *sessions.EventRelay // nil unless the database is shared
	consoles   *consoles.Consoles
	apps       *apps.Apps
	handler    http.Handler
	apiLn      net.Listener
	agentLn    net.Listener
	firstToken string

	// agentNodeMu orders the writes of the node agents are attached to.
	agentNodeMu sync.Mutex
	joined      bool // the node's row is registered (Leave on failure)

	closeOnce sync.Once
	closeErr  error
}

// New prepares a server: data directory, CA and server certificate,
// database, recordings directory, the two listeners, first admin (first
// start only), the control node's row (Config.NodeID, with its
// AdvertiseURL) and recovery of the sessions no live node carries (a
// previous run's, a stopped node's). Call Serve soon after: it keeps the
// node's row alive.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("node_id", cfg.NodeID), apiLn: cfg.APIListener, agentLn: cfg.AgentListener}
	cfg.Logger = s.log
	s.cfg.Logger = s.log
	defer func() {
		if err != nil {
			if s.joined {
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				_ = s.sessions.Leave(lctx)
				cancel()
			}
			s.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if s.ca, s.cert, err = pki.LoadOrCreate(cfg.DataDir, append(slices.Clone(cfg.PublicNames), apps.CertNames(cfg.AppsDomain)...), cfg.Clock()); err != nil {
		return nil, fmt.Errorf("load or create the CA: %w", err)
	}
	if s.store, err = openDatabase(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open the database: %w", err)
	}
	admin, err := s.openRecordings(ctx)
	if err != nil {
		return nil, err
	}
	// The listeners come before the node's row: its URL has the API's
	// port.
	if s.apiLn == nil {
		if s.apiLn, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen for the API on %s: %w", cfg.Listen, err)
		}
	}
	if s.agentLn == nil {
		if s.agentLn, err = net.Listen("tcp", cfg.AgentListen); err != nil {
			return nil, fmt.Errorf("listen for agents on %s: %w", cfg.AgentListen, err)
		}
	}
	if cfg.AdvertiseURL == "" {
		port := 0
		if a, ok := s.apiLn.Addr().(*net.TCPAddr); ok {
			port = a.Port
		}
		cfg.AdvertiseURL = defaultAdvertiseURL(cfg, s.cert.Leaf, port)
		s.cfg.AdvertiseURL = cfg.AdvertiseURL
	}
	s.metrics = metrics.New(cfg.Clock)
	s.tokens = auth.NewTokens(s.store, cfg.Clock, cfg.Logger)

	live := recordings.NewHub(0)
	s.indexer, err = recordings.NewIndexer(recordings.IndexerConfig{Recordings: s.recs, Index: s.store, CatchUpLock: s.store, Logger: cfg.Logger.With("component", "search")})
	if err != nil {
		return nil, err
	}
	s.gw, err = agentgw.New(agentgw.Config{
		Store: s.store, CA: s.ca, ServerCert: s.cert, Recordings: s.recs,
		Logger: cfg.Logger.With("component", "agentgw"), Clock: cfg.Clock, Version: cfg.Version,
		OnAgentChange: s.agentChanged,
		OnRecording: func(sessionID string, r api.Recording) {
			s.metrics.RecordingAcked(sessionID)
			if r.State == api.RecordingComplete || r.State == api.RecordingPartial {
				s.indexer.Start(sessionID, r.Format)
			}
		},
		Live: live,
	})
	if err != nil {
		return nil, fmt.Errorf("agent gateway: %w", err)
	}
	s.sessions, err = sessions.New(sessions.Config{
		Store: s.store, Gateway: s.gw, Metrics: s.metrics, Logger: cfg.Logger.With("component", "sessions"),
		Clock: cfg.Clock, PendingTimeout: cfg.PendingTimeout,
		Node: sessions.Node{ID: cfg.NodeID, Name: cfg.NodeName, URL: cfg.AdvertiseURL, Shared: s.store.Shared(),
			HeartbeatInterval: cfg.NodeHeartbeat, Timeout: cfg.NodeTimeout, SweepInterval: cfg.NodeSweep},
	})
	if err != nil {
		return nil, err
	}
	// On a shared database (PostgreSQL) every node's session events reach
	// every node's subscribers (NOTIFY/LISTEN); SQLite has one node.
	if n, ok := s.store.(sessions.Notifier); ok && s.store.Shared() {
		if s.relay, err = s.sessions.NewEventRelay(sessions.RelayConfig{Notifier: n, Logger: cfg.Logger.With("component", "sessions")}); err != nil {
			return nil, err
		}
	}

	s.firstToken, err = bootstrap(ctx, s.store, s.tokens, api.User{Name: FirstAdmin, Role: api.RoleAdmin, CreatedAt: cfg.Clock().UTC()})
	if err != nil {
		return nil, err
	}
	if s.firstToken != "" {
		s.log.Info("first start: created the admin user, its token and the seed policy rule", "user", FirstAdmin)
	}
	if err := s.sessions.Join(ctx); err != nil {
		return nil, err
	}
	s.joined = true
	if n, err := s.sessions.RecoverInterrupted(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		s.log.Warn("failed sessions interrupted by a previous run or a stopped control node", "sessions", n)
	}

	// One forwarder for the API, the consoles and the apps: each sends a
	// request another node must serve to that node (control/forward.go).
	fwd := newForwarder(cfg, s.ca, s.cert)
	apiHandler, err := controlapi.New(controlapi.Config{
		Store: s.store, Tokens: s.tokens, Sessions: s.sessions, Gateway: s.gw, Recordings: s.recs,
		Metrics: s.metrics, Logger: cfg.Logger.With("component", "api"), Clock: cfg.Clock, CAPin: s.ca.Pin(),
		Live: live, RecordingAdmin: admin,
		Node:    controlapi.Node{ID: cfg.NodeID, Name: cfg.NodeName, Shared: s.store.Shared(), Timeout: cfg.NodeTimeout},
		Forward: fwd,
	})
	if err != nil {
		return nil, err
	}
	// The web terminal, VNC viewer and database console run their sessions
	// in control (package consoles), in front of the API.
	s.consoles, err = consoles.New(consoles.Config{Sessions: s.sessions, Store: s.store, Auth: s.tokens, Forward: fwd,
		Logger: cfg.Logger.With("component", "consoles"), Clock: cfg.Clock})
	if err != nil {
		return nil, err
	}
	// The console serves every path but /v1/, /healthz and /metrics, which
	// it hands to the API; requests for an app host (NAME.<apps domain>)
	// go to the published app instead.
	s.apps, err = apps.New(apps.Config{Domain: cfg.AppsDomain, IdleTimeout: cfg.AppIdleTimeout, Sessions: s.sessions, Store: s.store, Auth: s.tokens,
		Forward: fwd, Logger: cfg.Logger.With("component", "apps"), Clock: cfg.Clock})
	if err != nil {
		return nil, err
	}
	s.handler = s.apps.Wrap(web.Handler(web.Config{API: s.consoles.Wrap(apiHandler), Auth: s.tokens, Logger: cfg.Logger.With("component", "web"), Audit: s.store.AddAudit, Clock: cfg.Clock}))
	// A request forwarded by another control node carries the person's
	// address: trusted once that node's certificate checked.
	s.handler = trustForwarded(s.handler, s.ca, cfg.Clock, cfg.Logger.With("component", "forward"))

	return s, nil
}

func (s *Server) agentChanged(agentID string, online bool) {
	s.metrics.AgentOnline(agentID, online)
	s.noteAgentNode(agentID, online)
	if !online {
		go s.sessions.AgentOffline(agentID)
	}
}

// noteAgentNode records in the database that the agent is attached to
// this node, or no longer is, so that another node sends people here.
// A detach is skipped when the agent is back meanwhile, and clears only
// this node (an agent that moved to another node stays there).
func (s *Server) noteAgentNode(agentID string, online bool) {
	s.agentNodeMu.Lock()
	defer s.agentNodeMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	switch {
	case online:
		err = s.store.AttachAgent(ctx, agentID, s.cfg.NodeID)
	case !s.gw.Online(agentID):
		err = s.store.DetachAgent(ctx, agentID, s.cfg.NodeID)
	}
	if err != nil {
		s.log.Error("record the control node of an agent", "agent_id", agentID, "online", online, "err", err)
	}
}

// NodeID is this control node's id.
func (s *Server) NodeID() string { return s.cfg.NodeID }

// NodeName is this control node's advertised name.
func (s *Server) NodeName() string { return s.cfg.NodeName }

// AdvertiseURL is where the other control nodes reach this node's API.
func (s *Server) AdvertiseURL() string { return s.cfg.AdvertiseURL }

// APIAddr is the address the API listens on.
func (s *Server) APIAddr() net.Addr { return s.apiLn.Addr() }

// AgentAddr is the address agents connect to.
func (s *Server) AgentAddr() net.Addr { return s.agentLn.Addr() }

// CAPin is the pin of control's CA ("sha256:<hex>").
func (s *Server) CAPin() string { return s.ca.Pin() }

// AppsDomain is the domain under which HTTP resources are published
// (https://NAME.<domain>).
func (s *Server) AppsDomain() string { return s.cfg.AppsDomain }

// CACertPEM is control's CA certificate.
func (s *Server) CACertPEM() []byte { return s.ca.CertPEM() }

// FirstAdminToken is the admin token created by this New on the first
// start, or "".
func (s *Server) FirstAdminToken() string { return s.firstToken }

// Handler is the HTTP handler (API and web console, without TLS), for
// in-process use.
func (s *Server) Handler() http.Handler { return s.handler }

// CreateEnrollToken issues a one-time agent enrollment token on behalf of
// actor (ttl <= 0: one hour).
func (s *Server) CreateEnrollToken(ctx context.Context, ttl time.Duration, actor string) (api.EnrollToken, error) {
	et, err := auth.CreateEnrollToken(ctx, s.store, s.ca.Pin(), ttl, actor, s.cfg.Clock())
	if err != nil {
		return api.EnrollToken{}, err
	}
	s.audit(ctx, api.AuditEvent{Actor: actor, Action: "agent.token.create", Target: "enrollment token", Outcome: api.OutcomeSuccess})
	return et, nil
}

// CreateToken issues an API token for user (ttl 0: 30 days; < 0: never
// expires).
func (s *Server) CreateToken(ctx context.Context, user string, ttl time.Duration, name string) (api.CreatedToken, error) {
	tok, err := s.tokens.Create(ctx, user, ttl, name)
	if err != nil {
		return api.CreatedToken{}, err
	}
	s.audit(ctx, api.AuditEvent{Actor: "system", Action: "token.create", Target: tok.Token.ID, Outcome: api.OutcomeSuccess, Fields: map[string]string{"user": user}})
	return tok, nil
}

func (s *Server) audit(ctx context.Context, e api.AuditEvent) {
	e.ID = store.NewID()
	e.Time = s.cfg.Clock().UTC()
	if err := s.store.AddAudit(ctx, e); err != nil {
		s.log.Error("write audit event", "action", e.Action, "err", err)
	}
}

// TLSConfig is the API's TLS configuration: HTTP/1.1 only, so that
// session upgrades never negotiate HTTP/2.
func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.cert},
		// App hosts under a one-label apps domain get their own certificate.
		GetCertificate: s.apps.GetCertificate(func(host string) (tls.Certificate, error) {
			return s.ca.SignServerName(host, s.cert.PrivateKey.(crypto.Signer), s.cfg.Clock())
		}),
		NextProtos: []string{"http/1.1"},
		// Another control node forwarding a person's request presents its
		// server certificate (issued by this CA): asked for, never
		// required, checked by trustForwarded. Naming the CA keeps
		// browsers from offering other certificates.
		ClientAuth: tls.RequestClientCert,
		ClientCAs:  s.ca.Pool(),
	}
}

// Serve serves the API and the agent gateway until ctx ends, then shuts
// down gracefully: new sessions are refused, running ones are told and get
// ShutdownGrace to end before they are failed ("control shut down"), then
// the listeners close. It returns nil after a shutdown, or the error that
// stopped a listener.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tlsConfig(),
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	// The gateway and the session manager outlive ctx by the grace period:
	// running sessions need their agents until they end.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := srv.Serve(tls.NewListener(relay.RawListener(s.apiLn), srv.TLSConfig)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve API: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.gw.Serve(bg, s.agentLn); err != nil && bg.Err() == nil {
			errc <- fmt.Errorf("serve agents: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		_ = s.sessions.Run(bg)
	}()
	if s.relay != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.relay.Run(bg)
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.retention.Run(bg)
	}()
	go func() {
		defer wg.Done()
		s.indexer.Run(bg) // indexes what a previous run left unindexed
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.tokens.RunWebSessionSweeper(bg, time.Minute) // deletes expired console logins
	}()
	s.log.Info("control server running", "api", s.APIAddr().String(), "agents", s.AgentAddr().String(), "ca_pin", s.CAPin(), "version", s.cfg.Version,
		"node", s.cfg.NodeName, "advertise_url", s.cfg.AdvertiseURL)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.log.Info("control server shutting down", "grace", s.cfg.ShutdownGrace)
	s.consoles.Close()
	s.apps.Close()
	s.sessions.Shutdown(s.cfg.ShutdownGrace)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	cancel()
	stopBG()
	wg.Wait()
	// The node's sessions are ended: its row goes (the clean end of a
	// node; one that stops without it is taken for stopped when its
	// heartbeat gets old).
	leaveCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := s.sessions.Leave(leaveCtx); err != nil {
		s.log.Error("remove this control node's row", "err", err)
	}
	cancel()
	s.log.Info("control server stopped")
	return serveErr
}

// Close releases the database and the listeners. Call it after Serve
// returned (or instead of Serve).
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.apiLn != nil {
			if err := s.apiLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		if s.agentLn != nil {
			if err := s.agentLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		if s.store != nil {
			if err := s.store.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
