package httpproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/har"
)

// clientConn is one person connection, served on the fast path and, once
// a request needs net/http, by its own http.Server.
type clientConn struct {
	s      *session
	raw    net.Conn // the person's connection
	wc     *watchConn
	open   api.ConnOpen
	cancel context.CancelFunc

	done     chan struct{}
	doneOnce sync.Once

	mu       sync.Mutex
	upstream map[net.Conn]struct{} // raw upstream conns of upgrades and the pinned one
	aborted  bool

	pin pinnedConn // used by the handler goroutine only
}

func newClientConn(s *session, conn net.Conn, open api.ConnOpen, cancel context.CancelFunc) *clientConn {
	cc := &clientConn{s: s, raw: conn, open: open, cancel: cancel, done: make(chan struct{}), upstream: map[net.Conn]struct{}{}}
	cc.wc = &watchConn{Conn: conn}
	cc.pin.cc = cc
	return cc
}

func (cc *clientConn) finish() { cc.doneOnce.Do(func() { close(cc.done) }) }

// abort ends the person's connection and every upgraded upstream one.
func (cc *clientConn) abort() {
	cc.mu.Lock()
	cc.aborted = true
	for c := range cc.upstream {
		abortConn(c)
	}
	cc.mu.Unlock()
	abortConn(cc.raw)
	cc.cancel()
}

// track registers an upgraded upstream connection until untrack; false
// when the connection is already being aborted.
func (cc *clientConn) track(c net.Conn) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.aborted {
		return false
	}
	cc.upstream[c] = struct{}{}
	return true
}

func (cc *clientConn) untrack(c net.Conn) {
	cc.mu.Lock()
	delete(cc.upstream, c)
	cc.mu.Unlock()
}

// serve serves the connection on the fast path (fast.go) and, from the
// first request the fast path leaves to net/http on, with an http.Server
// on the one connection, until it ends.
func (cc *clientConn) serve(ctx context.Context) error {
	s := cc.s
	stop := context.AfterFunc(ctx, cc.abort)
	defer stop()
	if s.fast != nil {
		rest := newFastConn(ctx, cc, cc.raw).serve()
		if rest == nil {
			cc.pin.drop()
			return nil
		}
		cc.wc.Conn = rest
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(cc.handle),
		ReadHeaderTimeout: s.p.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.p.cfg.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnState:         cc.connState,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	_ = srv.Serve(&oneConnListener{conn: cc.wc, done: cc.done})
	<-cc.done
	cc.pin.drop()
	if reply := cc.wc.errorReply(); reply != "" {
		err := cc.recordRefused(reply)
		return err
	}
	return nil
}

func (cc *clientConn) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateActive, http.StateIdle:
		// A request is being read: anything the server writes before a
		// handler runs is its refusal. (The server reports no
		// StateActive for a request it had read ahead while waiting for
		// the connection to become readable again.)
		cc.wc.pending.Store(true)
	case http.StateClosed:
		cc.finish()
	}
}

// recordRefused records a request the server refused before any handler
// ran (malformed bytes: 400, 431, 501): the connection ends with it.
func (cc *clientConn) recordRefused(reply string) error {
	s := cc.s
	line, body, _ := strings.Cut(reply, "\r\n\r\n")
	status, text := 400, "Bad Request"
	var proto string
	if _, err := fmt.Sscanf(line, "%s %d", &proto, &status); err == nil {
		if _, rest, ok := strings.Cut(strings.SplitN(line, "\r\n", 2)[0], fmt.Sprintf("%d ", status)); ok {
			text = rest
		}
	}
	method := "INVALID"
	if head := cc.wc.head(); head != "" {
		if tok, _, ok := strings.Cut(head, " "); ok && len(tok) <= 16 && validHeaderName(tok) {
			method = tok
		}
	}
	now := s.now()
	e := &har.Entry{
		StartedDateTime: har.FormatTime(now),
		Request:         har.Request{Method: method, URL: s.base.String(), HTTPVersion: "HTTP/1.1", HeadersSize: -1, BodySize: -1},
		Response: har.Response{Status: status, StatusText: text, HTTPVersion: "HTTP/1.1",
			Content: har.NewContent("text/plain; charset=utf-8", captureOf(body)), HeadersSize: -1, BodySize: int64(len(body))},
		Timings:    har.Timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1},
		Connection: fmt.Sprint(cc.open.ConnID),
		Conn:       cc.open.ConnID,
		T:          s.since(now),
		Comment:    "malformed request, connection closed: " + body,
	}
	s.record(e)
	return fmt.Errorf("malformed request from the person: %s", body)
}

func captureOf(s string) *har.Capture {
	c := &har.Capture{Limit: len(s)}
	c.Write([]byte(s))
	return c
}

// oneConnListener hands out one connection, then blocks until done.
type oneConnListener struct {
	conn net.Conn
	done <-chan struct{}
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

// watchConn is the person's connection as the http.Server sees it. It
// keeps the start of the latest request-head read and anything the server
// writes between reading a request and calling a handler: that is the
// server's own refusal of a malformed request.
type watchConn struct {
	net.Conn
	handlers atomic.Int32 // handlers running
	pending  atomic.Bool  // a request was read, no handler called yet

	mu      sync.Mutex
	lastHd  []byte
	errRepl []byte
}

const keepHead = 256

func (w *watchConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n > 0 && w.handlers.Load() == 0 {
		// The bytes read since the last handler ended start the next
		// head (the server may read its first byte on its own).
		w.mu.Lock()
		if room := keepHead - len(w.lastHd); room > 0 {
			w.lastHd = append(w.lastHd, p[:min(n, room)]...)
		}
		w.mu.Unlock()
	}
	return n, err
}

func (w *watchConn) Write(p []byte) (int, error) {
	if w.pending.Load() && w.handlers.Load() == 0 {
		w.mu.Lock()
		if len(w.errRepl) < 1024 {
			w.errRepl = append(w.errRepl, p[:min(len(p), 1024-len(w.errRepl))]...)
		}
		w.mu.Unlock()
	}
	return w.Conn.Write(p)
}

// CloseWrite ends the sending side where the connection has one.
func (w *watchConn) CloseWrite() error {
	if cw, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("connection has no half-close")
}

func (w *watchConn) enter() {
	w.handlers.Add(1)
	w.pending.Store(false)
}

func (w *watchConn) leave() {
	w.mu.Lock()
	w.lastHd = w.lastHd[:0]
	w.mu.Unlock()
	w.handlers.Add(-1)
}

func (w *watchConn) head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.lastHd)
}

func (w *watchConn) errorReply() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.errRepl)
}
