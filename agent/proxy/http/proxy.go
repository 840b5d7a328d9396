package httpproxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/har"
)

// Config configures the HTTP proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// DialTimeout bounds the probe and every upstream dial (TLS handshake
	// included). Default 10 s.
	DialTimeout time.Duration
	// IdleTimeout ends a person's connection idle between requests.
	// Default 5 min.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds reading one request's headers. Default 30 s.
	ReadHeaderTimeout time.Duration
	// MaxIdleConnsPerHost is the upstream keep-alive pool. Default 64.
	MaxIdleConnsPerHost int
	// MaxWebSocketMessages is how many WebSocket messages one upgraded
	// connection records (later ones are counted as dropped). Default 1000.
	MaxWebSocketMessages int
	// Version is the creator version written in recordings. Default "dev".
	Version string
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 30 * time.Second
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = 64
	}
	if c.MaxWebSocketMessages <= 0 {
		c.MaxWebSocketMessages = 1000
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	return c
}

// Proxy is the HTTP proxy.
type Proxy struct {
	cfg Config
	// noFast turns the fast path off: every request goes through
	// net/http (the tests compare the two).
	noFast bool
	// watchAfter is how long a fast-path exchange runs before the
	// person's connection is watched (watchAfter in fast.go; the tests
	// watch at once).
	watchAfter time.Duration
}

// New returns an HTTP proxy.
func New(cfg Config) *Proxy {
	return &Proxy{cfg: cfg.withDefaults(), watchAfter: watchAfter}
}

// Open checks that the agent reaches the upstream (a TCP dial, and a TLS
// handshake with the configured verification for https) and prepares the
// session's shared upstream transport and recording.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	if info.Target.Address == "" {
		return nil, fmt.Errorf("resource %q has no upstream address", info.Target.Name)
	}
	tc, _ := info.Target.Options.(*TargetConfig)
	if tc == nil {
		tc = &TargetConfig{}
	}
	if err := tc.Validate(); err != nil {
		return nil, fmt.Errorf("resource %q: %w", info.Target.Name, err)
	}
	cfg := tc.withDefaults()
	host, _, err := net.SplitHostPort(info.Target.Address)
	if err != nil {
		return nil, fmt.Errorf("resource %q: address %q: %w", info.Target.Name, info.Target.Address, err)
	}
	var tlsConf *tls.Config
	if cfg.Scheme == "https" {
		if tlsConf, err = cfg.tlsConfig(host); err != nil {
			return nil, fmt.Errorf("resource %q: %w", info.Target.Name, err)
		}
	}
	s := &session{
		p:       p,
		info:    info,
		cfg:     cfg,
		tlsConf: tlsConf,
		base:    cfg.upstreamURL(info.Target.Address),
		start:   info.Clock(),
		log:     info.Logger,
	}
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	s.enc, err = har.NewEncoder(info.Recorder, har.Header{
		Creator:   har.Creator{Name: "onepam", Version: p.cfg.Version},
		SessionID: info.Open.SessionID, Resource: info.Open.Resource, User: info.Open.User,
		Target: s.base.String(), Started: har.FormatTime(s.start),
	}, har.Options{Redactor: har.NewRedactor(cfg.Redact, cfg.secretHeaders())})
	if err != nil {
		return nil, err
	}
	if tlsConf == nil && !p.noFast {
		if err := s.setupFast(); err != nil {
			s.log.Debug("http fast path off", "err", err)
		}
	}
	s.transport = &http.Transport{
		DialContext:           s.dial,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   p.cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   p.cfg.DialTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies through as they are
	}
	s.rp = &httputil.ReverseProxy{
		Rewrite:   s.rewrite,
		Transport: &roundTripper{s: s, std: s.transport},
		// Bodies of unknown length (streams, chunked) are flushed on every
		// write by ReverseProxy itself; others go out as the buffer fills.
		FlushInterval:  0,
		BufferPool:     copyBuffers{},
		ModifyResponse: s.modifyResponse,
		ErrorHandler:   s.errorHandler,
		ErrorLog:       slog.NewLogLogger(info.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// session is one open HTTP session.
type session struct {
	p         *Proxy
	info      *proxy.SessionInfo
	cfg       TargetConfig
	tlsConf   *tls.Config
	base      *url.URL
	start     time.Time
	log       *slog.Logger
	enc       *har.Encoder
	transport *http.Transport
	rp        *httputil.ReverseProxy
	conns     proxy.Conns
	fast      *fastSession // nil: every request goes through net/http
	fallbacks atomic.Int64 // connections the fast path handed to net/http
}

func (s *session) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	defer cancel()
	c, err := s.info.Dial(dctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("reach upstream %s: %w", addr, err)
	}
	return c, nil
}

// dialUpstream opens one raw connection to the upstream (TLS for https,
// HTTP/1.1 only), for upgrades and the probe.
func (s *session) dialUpstream(ctx context.Context) (net.Conn, error) {
	c, err := s.dial(ctx, "tcp", s.info.Target.Address)
	if err != nil {
		return nil, err
	}
	if s.tlsConf == nil {
		return c, nil
	}
	tc := s.tlsConf.Clone()
	tc.NextProtos = []string{"http/1.1"}
	tconn := tls.Client(c, tc)
	hctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	defer cancel()
	if err := tconn.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with upstream %s: %w", s.info.Target.Address, err)
	}
	return tconn, nil
}

func (s *session) probe(ctx context.Context) error {
	c, err := s.dialUpstream(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

func (s *session) now() time.Time { return s.info.Clock() }

func (s *session) since(t time.Time) float64 {
	return max(t.Sub(s.start).Seconds(), 0)
}

// record appends one entry; a recording failure fails the session.
func (s *session) record(e *har.Entry) {
	if err := s.enc.Encode(e); err != nil {
		s.log.Error("http recording failed", "err", err)
		if s.info.Fail != nil {
			s.info.Fail(err)
		}
	}
}

// ServeConn answers the ConnOpenResult and serves HTTP/1.1 requests on
// conn (keep-alive, pipelining, upgrades) until the person or the session
// ends it.
func (s *session) ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error {
	cctx, cancel := context.WithCancel(ctx)
	cc := newClientConn(s, conn, c, cancel)
	release, err := s.conns.BeginFunc(conn, c, cc.abort)
	if err != nil {
		cancel()
		return err
	}
	defer func() {
		cancel()
		release()
	}()
	if err := tunnel.WriteFrame(conn, api.ConnOpenResult{OK: true}); err != nil {
		return fmt.Errorf("answer connection: %w", err)
	}
	return cc.serve(cctx)
}

// Close refuses new connections, aborts every person connection (and with
// them their upstream requests and upgraded connections) and waits until
// their entries are recorded.
func (s *session) Close() error {
	s.conns.CloseAll()
	s.transport.CloseIdleConnections()
	return nil
}

// abortConn is relay.Abort, named for the call sites.
var abortConn = relay.Abort

// copyBuffers lends ReverseProxy its body copy buffers.
type copyBuffers struct{}

var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyPool.Put(&b) }
