package httpproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"syscall"
	"time"

	"github.com/onepam/onepam/pkg/relay"
)

// roundTripper sends the upstream requests of a session on the net/http
// path (the fast path sends its own on the pinned connection, bodies
// included). A request with no body and a replayable method (GET, HEAD,
// OPTIONS, TRACE) to a plain-http upstream goes over its person
// connection's own upstream connection, written and read on the handler's goroutine: no transport
// goroutines, pool or per-request channels, which is most of a small
// request's cost. Everything else (bodies, which must stream upstream
// while the response may already come; https upstreams, which may speak
// HTTP/2) goes through the session's shared http.Transport.
type roundTripper struct {
	s   *session
	std *http.Transport
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeOf(req.Context())
	if x == nil || !rt.s.pinnable(req) {
		return rt.std.RoundTrip(req)
	}
	return x.cc.pin.roundTrip(req, x)
}

// pinnable reports whether req may take the pinned connection: no body
// (nothing to stream while reading the response) and replayable, so it
// can be sent again when a reused connection turns out closed.
func (s *session) pinnable(req *http.Request) bool {
	if s.tlsConf != nil {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		return false
	}
	return req.Header.Get("Expect") == ""
}

// pinnedConn is a person connection's own upstream connection. Requests
// of one person connection are served one at a time (the previous
// response body is closed before the next request is read), so at most
// one round trip uses it at a time.
type pinnedConn struct {
	cc   *clientConn
	conn net.Conn        // nil until the first pinned request, and after a failure
	rc   syscall.RawConn // conn's socket (sendAwait); nil where not used
	br   *bufio.Reader
	bw   *bufio.Writer
	ip   string // the upstream's address, for the entries

	// sendAwait's state, and its callback made once.
	awaitFn func(uintptr) bool
	req     []byte
	sent    bool
	sendErr error
	wrote   func() // called once the request is written

	// stale's state, and its callback made once.
	peekFn  func(uintptr) bool
	peekBuf [1]byte
	peeked  bool
}

// errEnded cuts a response whose request was cancelled.
var errEnded = errors.New("cut: the person's connection or the session ended")

func (p *pinnedConn) roundTrip(req *http.Request, x *exchange) (*http.Response, error) {
	ctx := req.Context()
	x.stamp(&x.getConn)
	for attempt := 0; ; attempt++ {
		reused := p.conn != nil
		if err := p.connect(ctx, x); err != nil {
			return nil, err
		}
		now := x.s.now()
		x.mu.Lock()
		x.gotConn, x.reused, x.serverIP = now, reused, p.ip
		x.mu.Unlock()
		resp, sent, err := p.exchange(ctx, req, x)
		if err == nil {
			return resp, nil
		}
		p.drop()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		// A reused connection the upstream closed while idle fails before
		// any response byte: send the (replayable) request again once.
		if reused && !sent && attempt == 0 {
			continue
		}
		return nil, err
	}
}

// connect dials the upstream unless the connection is open (the dial,
// name resolution included, is the entry's connect time).
func (p *pinnedConn) connect(ctx context.Context, x *exchange) error {
	if p.conn != nil {
		return nil
	}
	x.stamp(&x.connStart)
	err := p.open(ctx)
	x.stamp(&x.connDone)
	return err
}

// open dials the upstream. Its reads and writes are raw system calls
// (relay.Raw: a request and its answer are a write and a read or two).
func (p *pinnedConn) open(ctx context.Context) error {
	s := p.cc.s
	c, err := s.dial(ctx, "tcp", s.info.Target.Address)
	if err != nil {
		return err
	}
	c = relay.Raw(c)
	p.ip = ""
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		p.ip = a.IP.String()
	}
	if !p.cc.track(c) {
		c.Close()
		return errors.New("connection ended")
	}
	p.conn, p.rc = c, relay.SyscallConn(c)
	if p.br == nil {
		p.br, p.bw = bufio.NewReaderSize(c, 16<<10), bufio.NewWriterSize(c, 8<<10)
	} else {
		p.br.Reset(c)
		p.bw.Reset(c)
	}
	return nil
}

// exchange writes req and reads the response head; sent is false when
// nothing of a response arrived (the request may be sent again).
func (p *pinnedConn) exchange(ctx context.Context, req *http.Request, x *exchange) (resp *http.Response, sent bool, err error) {
	conn := p.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if err := req.Write(p.bw); err != nil {
		return nil, false, fmt.Errorf("send request upstream: %w", err)
	}
	if err := p.bw.Flush(); err != nil {
		return nil, false, fmt.Errorf("send request upstream: %w", err)
	}
	x.stamp(&x.wrote)
	if _, err := p.br.Peek(1); err != nil {
		return nil, false, fmt.Errorf("read response from upstream: %w", err)
	}
	x.stamp(&x.firstByte)
	trace := httptrace.ContextClientTrace(ctx) // ReverseProxy's, passing 1xx on
	for {
		resp, err = http.ReadResponse(p.br, req)
		if err != nil {
			return nil, true, fmt.Errorf("read response from upstream: %w", err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, true, errors.New("upstream switched protocols on a request that did not ask to")
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, true, err
			}
		}
	}
	pb := &pinnedBody{p: p, ctx: ctx, rc: resp.Body, stop: stop, keep: !resp.Close && !req.Close}
	if resp.Body == http.NoBody {
		pb.finish(true)
		return resp, true, nil
	}
	resp.Body = pb
	return resp, true, nil
}

// sendAwait writes req and returns once the answer can be read; wrote
// is called right after the write. The error of a failed write wraps
// errSend.
//
// Why: a read on Go's non-blocking sockets first tries the system call
// and only then waits in the poller (a new Read forgets readiness
// reported before it began). Right after a request its answer cannot be
// there yet, so that first try would only find nothing: one wasted system
// call per request. Here the wait is armed before the request is written
// (the write runs inside RawConn.Read's callback), so the answer's
// arrival cannot be missed, and the read that follows finds it. Should
// unread bytes sit in the socket from before (an upstream sends nothing
// unasked but, at most, an error before it closes), the answer or the
// reset that a write to a closed connection draws still ends the wait.
// (The MySQL proxy's flushAwait does the same for its commands.)
func (p *pinnedConn) sendAwait(req []byte, wrote func()) error {
	if p.rc == nil || p.br.Buffered() > 0 {
		if _, err := p.conn.Write(req); err != nil {
			return fmt.Errorf("%w: %w", errSend, err)
		}
		wrote()
		return nil
	}
	if p.awaitFn == nil {
		p.awaitFn = p.awaitStep
	}
	p.req, p.wrote, p.sent, p.sendErr = req, wrote, false, nil
	err := p.rc.Read(p.awaitFn)
	p.req, p.wrote = nil, nil
	switch {
	case p.sendErr != nil:
		return fmt.Errorf("%w: %w", errSend, p.sendErr)
	case err != nil:
		return &net.OpError{Op: "read", Net: "tcp", Source: p.conn.LocalAddr(), Addr: p.conn.RemoteAddr(), Err: err}
	}
	return nil
}

// errSend marks sendAwait's errors that come from the write.
var errSend = errors.New("send request upstream")

// awaitStep is sendAwait's RawConn.Read callback: the first call writes
// the request and asks to wait, the next (the socket is readable) ends.
func (p *pinnedConn) awaitStep(uintptr) bool {
	if p.sent {
		return true
	}
	p.sent = true
	if _, p.sendErr = p.conn.Write(p.req); p.sendErr == nil {
		p.wrote()
	}
	return p.sendErr != nil
}

// drop closes the connection; the next request dials a new one.
func (p *pinnedConn) drop() {
	if p.conn == nil {
		return
	}
	p.cc.untrack(p.conn)
	abortConn(p.conn)
	p.conn = nil
}

// pinnedBody is a response body read from the pinned connection. Read to
// its end it leaves the connection open for the next request; closed
// before (the person went away, or a cut download) it closes the
// connection instead of reading the rest.
type pinnedBody struct {
	p    *pinnedConn
	ctx  context.Context // the request's
	rc   io.ReadCloser
	stop func() bool
	keep bool // the upstream keeps the connection open after this response

	once sync.Once
	eof  bool
}

func (b *pinnedBody) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil && b.ctx.Err() != nil:
		// The deadline set on cancel, or abort's close: say why.
		err = errEnded
	}
	return n, err
}

func (b *pinnedBody) Close() error {
	b.finish(b.eof)
	return nil
}

// finish ends the round trip: the connection stays for the next request
// when the body was read to its end, the upstream keeps it and the
// request was not cancelled meanwhile.
func (b *pinnedBody) finish(complete bool) {
	b.once.Do(func() {
		fired := !b.stop()
		if complete && b.keep && !fired {
			b.rc.Close() // at EOF: nothing left to read
			return
		}
		b.p.drop()
	})
}
