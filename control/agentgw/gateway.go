package agentgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/pkg/relay"
)

// Gateway accepts agent connections. Create it with New and run it with
// Serve; its methods are safe for concurrent use.
type Gateway struct {
	cfg Config
	log *slog.Logger
	tls *tls.Config

	wg sync.WaitGroup // every goroutine Serve started

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // every open connection, closed on shutdown
	agents  map[string]*agentConn // live connection per agent id
	uploads map[uploadKey]*upload // open recording streams
	serving bool

	enrolled, enrollDenied atomic.Int64
	recBytes, recChunks    atomic.Int64
}

// New checks cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Gateway{
		cfg: cfg,
		log: cfg.Logger.With("component", "agentgw"),
		tls: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cfg.ServerCert},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    cfg.CA.Pool(),
		},
		conns:   make(map[net.Conn]struct{}),
		agents:  make(map[string]*agentConn),
		uploads: make(map[uploadKey]*upload),
	}, nil
}

// Serve accepts agent connections on ln (a plain TCP listener: the gateway
// does TLS itself) until ctx is done, then closes ln and every connection,
// waits for their goroutines and returns nil. It returns an error when
// accepting fails for another reason. Serve may be called once.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	g.mu.Lock()
	if g.serving {
		g.mu.Unlock()
		return errors.New("agentgw: Serve called twice")
	}
	g.serving = true
	g.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		g.closeAll()
	})
	defer stop()
	defer g.wg.Wait()
	defer cancel()

	g.log.Info("agent gateway listening", "addr", ln.Addr().String())
	var delay time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				g.log.Warn("accept failed; retrying", "err", err, "in", delay)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("agentgw: accept: %w", err)
		}
		delay = 0
		if !g.track(raw) {
			raw.Close()
			continue
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer g.untrack(raw)
			g.handleConn(ctx, raw)
		}()
	}
}

// track registers an open connection; false once shutdown began.
func (g *Gateway) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *Gateway) untrack(c net.Conn) {
	c.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
}

// closeAll closes every connection and refuses new ones.
func (g *Gateway) closeAll() {
	g.mu.Lock()
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// handleConn runs the TLS handshake and hands the connection to enrollment
// (no client certificate) or to the agent session (a verified certificate).
func (g *Gateway) handleConn(ctx context.Context, raw net.Conn) {
	tc := tls.Server(relay.Raw(raw), g.tls)
	hctx, cancel := context.WithTimeout(ctx, g.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		g.log.Debug("agent TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	peers := tc.ConnectionState().PeerCertificates
	if len(peers) == 0 {
		g.serveEnroll(ctx, tc)
		return
	}
	g.serveAgent(ctx, tc, peers[0])
}

// now returns the configured clock's time.
func (g *Gateway) now() time.Time { return g.cfg.Clock() }

// storeCtx returns a context for store writes that must happen even while
// ctx is being cancelled (e.g. the last-seen time of a dropped agent).
func storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// hostOf returns the host part of a remote address.
func hostOf(addr net.Addr) string {
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return h
}
