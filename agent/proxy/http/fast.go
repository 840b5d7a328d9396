package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/recordfmt/har"
)

// The fast path serves the common requests of a person connection to a
// plain-http upstream without net/http's server, ReverseProxy or client:
// it reads the request head itself (h1.go), writes the upstream request
// in one write on the connection's pinned upstream connection, reads the
// response head itself and writes the response head with the first body
// bytes in one write, all on ServeConn's goroutine. It takes the requests
// parseRequestHead accepts: no body, or one of a Content-Length, which
// send (fastexch.go) streams upstream (the bytes read with the head in
// the head's write, the rest in chunks) before the response is read. The
// first request it does not take (a chunked body, an upgrade, Expect, a
// malformed head, ...) hands the connection, its unread bytes first, to
// http.Server for the rest of its life (serve in conn.go), so everything
// else behaves exactly as before. What goes upstream, what the person
// gets and what is recorded are what the net/http path sends, answers
// and records (fast_test.go compares the two).

// fastSession is what the fast path computes once per session.
type fastSession struct {
	hostLine string // "Host: ...\r\n" as net/http writes it
	host     string // the Host value the entries show
	origin   string // scheme://address of the upstream
	// add are the fields upstreamHeaders sets on every request (sorted);
	// drop are the person's fields they replace.
	add  []hfield
	drop map[string]bool
}

// watchAfter is how long an exchange runs before the fast path watches
// the person's connection for its end (net/http's server watches it
// during every request, which costs a goroutine and a read each).
const watchAfter = 100 * time.Millisecond

// headBuf is the size of the buffer a request head must fit in (bigger
// heads go to net/http).
const headBuf = 8 << 10

// setupFast prepares the fast path for a plain-http upstream.
func (s *session) setupFast() error {
	fs := &fastSession{host: s.base.Host, drop: map[string]bool{}}
	if s.cfg.HostHeader != "" {
		fs.host = s.cfg.HostHeader
	}
	fs.origin = (&url.URL{Scheme: s.base.Scheme, Host: s.base.Host}).String()
	// The fields upstreamHeaders sets on a request that has none are the
	// ones every request gets (but X-Forwarded-Host, from the request).
	out := &http.Request{Header: http.Header{}, URL: &url.URL{}}
	s.upstreamHeaders(out, &http.Request{})
	for k, vs := range out.Header {
		if k == "User-Agent" && len(vs) == 1 && vs[0] == "" {
			continue // set per request when the person sent none
		}
		fs.drop[k] = true
		for _, v := range vs {
			fs.add = append(fs.add, hfield{name: k, value: v})
		}
	}
	sortFields(fs.add)
	// The Host line as net/http writes it (punycode, zone removed).
	var b bytes.Buffer
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: s.base.Host, Path: "/"},
		Host: s.cfg.HostHeader, Header: http.Header{"User-Agent": {""}}}
	if err := req.Write(&b); err != nil {
		return err
	}
	_, rest, _ := strings.Cut(b.String(), "\r\n")
	line, _, _ := strings.Cut(rest, "\r\n")
	if !strings.HasPrefix(line, "Host: ") {
		return errors.New("no Host line")
	}
	fs.hostLine = line + "\r\n"
	s.fast = fs
	return nil
}

// dropUp reports whether a field of the person's is not sent upstream:
// the fields the agent sets itself.
func (fs *fastSession) dropUp(name string) bool {
	switch name {
	case "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded":
		return true
	}
	return strings.HasPrefix(name, "X-Onepam-") || fs.drop[name]
}

// fastConn serves one person connection on the fast path.
type fastConn struct {
	cc   *clientConn
	s    *session
	fs   *fastSession
	ctx  context.Context
	conn net.Conn
	pr   stashReader
	br   *bufio.Reader

	deadline time.Time // the read deadline set on conn (zero: none)
	connID   string
	w        watch
	wroteFn  func() // stampWrote, made once

	out     []byte   // the next write to the person
	req     []byte   // the upstream request
	rfields []hfield // the request's fields
	ufields []hfield // the fields sent upstream
	hfields []hfield // a response head's fields
	pfields []hfield // the fields of the response to the person
	// The current exchange's request, response and entry (reused).
	rq   reqHead
	x    fastX
	resp upResp
	lb   lengthBody
	e    har.Entry
}

var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headBuf) }}

func newFastConn(ctx context.Context, cc *clientConn, conn net.Conn) *fastConn {
	fc := &fastConn{cc: cc, s: cc.s, fs: cc.s.fast, ctx: ctx, conn: conn}
	fc.pr.conn = conn
	fc.br = headReaders.Get().(*bufio.Reader)
	fc.br.Reset(&fc.pr)
	fc.connID = formatInt(cc.open.ConnID)
	fc.wroteFn = fc.stampWrote
	fc.w.conn, fc.w.after = conn, cc.s.p.watchAfter
	fc.w.timer = time.AfterFunc(time.Hour, fc.w.fire)
	fc.w.timer.Stop()
	return fc
}

// serve serves requests until the connection ends (nil) or a request is
// one for net/http: then it returns the connection to serve on, which
// reads the bytes already read first.
func (fc *fastConn) serve() net.Conn {
	defer fc.w.stop()
	for {
		if err := fc.w.collect(&fc.pr); err != nil {
			fc.release()
			return nil
		}
		head, ok, err := fc.readHead()
		if err != nil {
			fc.release()
			return nil
		}
		if !ok {
			return fc.fallback()
		}
		rq := &fc.rq
		if *rq, ok = parseRequestHead(string(head), fc.rfields); !ok {
			return fc.fallback()
		}
		uri, full, ok := fc.s.fastURL(rq.target)
		if !ok {
			return fc.fallback()
		}
		fc.rfields = rq.fields[:0]
		fc.br.Discard(len(head))
		if !fc.exchange(rq, uri, full) || rq.close {
			fc.release()
			return nil
		}
	}
}

// release gives the head buffer back once the connection is done.
func (fc *fastConn) release() {
	if fc.br != nil {
		fc.br.Reset(nil)
		headReaders.Put(fc.br)
		fc.br = nil
	}
}

// fallback is the connection for http.Server: the bytes read but not
// used first, then the connection.
func (fc *fastConn) fallback() net.Conn {
	fc.s.fallbacks.Add(1)
	fc.setDeadline(time.Time{})
	return &prefixConn{Conn: fc.conn, fc: fc}
}

var crlfcrlf = []byte("\r\n\r\n")

// readHead waits for a complete request head and returns it (not
// consumed); ok is false when net/http has to read it (too big, bare LF
// line ends, cut short); err ends the connection quietly (the person
// closed it, or it was idle too long).
func (fc *fastConn) readHead() (head []byte, ok bool, err error) {
	br := fc.br
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf, crlfcrlf); i >= 0 {
			return buf[:i+4], true, nil
		}
		if len(buf) == br.Size() || bytes.Contains(buf, []byte("\n\n")) || bytes.Contains(buf, []byte("\n\r\n")) {
			return nil, false, nil
		}
		d := fc.s.p.cfg.ReadHeaderTimeout
		if len(buf) == 0 {
			d = fc.s.p.cfg.IdleTimeout
		}
		fc.ensureDeadline(d)
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if br.Buffered() == 0 {
				return nil, false, err
			}
			return nil, false, nil // a partial head: net/http answers it
		}
	}
}

// ensureDeadline makes the read deadline on the person's connection d
// from now, give or take a second (so that a busy connection does not
// move it on every request).
func (fc *fastConn) ensureDeadline(d time.Duration) {
	now := time.Now()
	want := now.Add(d)
	slack := min(d/8, time.Second)
	if !fc.deadline.IsZero() && !fc.deadline.After(want) && fc.deadline.After(want.Add(-slack)) {
		return
	}
	fc.setDeadline(want)
}

func (fc *fastConn) setDeadline(t time.Time) {
	if t.Equal(fc.deadline) {
		return
	}
	fc.deadline = t
	fc.conn.SetReadDeadline(t)
}

// stashReader reads bytes the watch read first, then the connection.
type stashReader struct {
	conn  net.Conn
	stash []byte
}

func (r *stashReader) Read(p []byte) (int, error) {
	if len(r.stash) > 0 {
		n := copy(p, r.stash)
		r.stash = r.stash[n:]
		return n, nil
	}
	return r.conn.Read(p)
}

// prefixConn is the person's connection handed to http.Server after the
// fast path read from it.
type prefixConn struct {
	net.Conn
	fc *fastConn
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if fc := c.fc; fc.br != nil && (fc.br.Buffered() > 0 || len(fc.pr.stash) > 0) {
		return fc.br.Read(p)
	}
	return c.Conn.Read(p)
}

// CloseWrite ends the sending side where the connection has one.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("connection has no half-close")
}

// errPersonGone ends an exchange whose person closed the connection.
var errPersonGone = errors.New("the person's connection closed before the response")

// watch reads the person's connection while an exchange runs long, to
// notice the person leaving (the exchange is then cut: its upstream
// connection is closed) and to keep the bytes of a next request. It
// starts watchAfter into an exchange; its read goes on after the
// exchange, and the next read of the connection takes its result first.
type watch struct {
	conn  net.Conn
	after time.Duration
	timer *time.Timer

	mu       sync.Mutex
	active   bool     // an exchange runs
	skip     bool     // it need not be watched (a next request is buffered)
	answered bool     // its answer's last bytes are being written
	up       net.Conn // its upstream connection
	gone     bool     // the person's connection ended during it
	started  bool     // a watch read was started, its result not collected
	done     chan struct{}
	buf      []byte
	n        int
	err      error
}

// begin marks an exchange as running; skip when it need not be watched.
func (w *watch) begin(skip bool) {
	w.mu.Lock()
	w.active, w.skip, w.answered, w.gone, w.up = true, skip, false, false, nil
	w.mu.Unlock()
	if !skip {
		w.timer.Reset(w.after)
	}
}

// setUp names the exchange's upstream connection; false when the person
// is gone already.
func (w *watch) setUp(c net.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.up = c
	return !w.gone
}

// arm starts watching an exchange begun with skip once its request body
// is read (until then the exchange reads the connection itself); skip as
// for begin.
func (w *watch) arm(skip bool) {
	if skip {
		return
	}
	w.mu.Lock()
	w.skip = false
	w.mu.Unlock()
	w.timer.Reset(w.after)
}

// end marks the exchange as over and reports whether the person left
// during it.
func (w *watch) end() (gone bool) {
	w.timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active, w.up = false, nil
	return w.gone
}

// answering says the last bytes of the answer are written now: the
// person may close the connection once they have them.
func (w *watch) answering() {
	w.mu.Lock()
	w.answered = true
	w.mu.Unlock()
}

func (w *watch) isGone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gone
}

// fire starts the watch read (on the timer's goroutine).
func (w *watch) fire() {
	w.mu.Lock()
	if !w.active || w.skip || w.started {
		w.mu.Unlock()
		return
	}
	w.started, w.done = true, make(chan struct{})
	if w.buf == nil {
		w.buf = make([]byte, 4<<10)
	}
	w.mu.Unlock()
	n, err := w.conn.Read(w.buf)
	w.mu.Lock()
	w.n, w.err = n, err
	if n == 0 && err != nil && !isTimeout(err) && w.active && !w.answered {
		w.gone = true
		if w.up != nil {
			abortConn(w.up)
		}
	}
	close(w.done)
	w.mu.Unlock()
}

// collect waits for a watch read and puts what it read before the
// connection's next bytes; the error is its read error (the connection
// ended).
func (w *watch) collect(pr *stashReader) error {
	w.mu.Lock()
	if !w.started {
		w.mu.Unlock()
		return nil
	}
	done := w.done
	w.mu.Unlock()
	<-done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = false
	if w.n > 0 {
		pr.stash = append(pr.stash[:0], w.buf[:w.n]...)
		return nil
	}
	if w.err != nil && !isTimeout(w.err) {
		return w.err
	}
	return nil
}

// stop ends a watch read still running when the connection is done.
func (w *watch) stop() {
	w.timer.Stop()
	w.mu.Lock()
	started, done := w.started, w.done
	w.mu.Unlock()
	if started {
		w.conn.SetReadDeadline(time.Unix(1, 0))
		<-done
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
