package httpproxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/recordfmt/har"
)

type exchangeKey struct{}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// exchange collects one request/response for its HAR entry.
type exchange struct {
	s  *session
	cc *clientConn
	in *http.Request

	mu sync.Mutex // trace callbacks and the request body run on transport goroutines
	stamps
	out        *http.Request
	outHeader  http.Header
	reqCap     har.Capture
	serverIP   string
	status     int
	statusText string
	proto      string
	respHeader http.Header
	respCap    har.Capture
	bodyEnd    time.Time
	err        error
	comment    string
}

func (cc *clientConn) newExchange(r *http.Request) *exchange {
	s := cc.s
	x := &exchange{s: s, cc: cc, in: r}
	x.start = s.now()
	x.reqCap.Limit = s.cfg.BodyCap
	x.respCap.Limit = s.cfg.BodyCap
	return x
}

func (x *exchange) stamp(t *time.Time) {
	now := x.s.now()
	x.mu.Lock()
	*t = now
	x.mu.Unlock()
}

func (x *exchange) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { x.stamp(&x.getConn) },
		GotConn: func(ci httptrace.GotConnInfo) {
			x.stamp(&x.gotConn)
			x.mu.Lock()
			x.reused = ci.Reused
			if a, ok := ci.Conn.RemoteAddr().(*net.TCPAddr); ok {
				x.serverIP = a.IP.String()
			} else if h, _, err := net.SplitHostPort(ci.Conn.RemoteAddr().String()); err == nil && net.ParseIP(h) != nil {
				x.serverIP = h
			}
			x.mu.Unlock()
		},
		DNSStart:             func(httptrace.DNSStartInfo) { x.stamp(&x.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { x.stamp(&x.dnsDone) },
		ConnectStart:         func(string, string) { x.stamp(&x.connStart) },
		ConnectDone:          func(string, string, error) { x.stamp(&x.connDone) },
		TLSHandshakeStart:    func() { x.stamp(&x.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { x.stamp(&x.tlsDone) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { x.stamp(&x.wrote) },
		GotFirstResponseByte: func() { x.stamp(&x.firstByte) },
	}
}

func (x *exchange) setOut(out *http.Request) {
	x.mu.Lock()
	x.out = out
	x.outHeader = out.Header // nothing changes it once rewritten
	x.mu.Unlock()
}

// reqBody tees the person's request body into the capture as the
// transport streams it upstream.
type reqBody struct {
	rc io.ReadCloser
	x  *exchange
}

func (b *reqBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.x.mu.Lock()
		b.x.reqCap.Write(p[:n])
		b.x.mu.Unlock()
	}
	return n, err
}

func (b *reqBody) Close() error { return b.rc.Close() }

// respBody tees the upstream's response body into the capture as it is
// streamed to the person, and notes when it ended.
type respBody struct {
	rc io.ReadCloser
	x  *exchange
}

func (b *respBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.x.mu.Lock()
	if n > 0 {
		b.x.respCap.Write(p[:n])
	}
	if err != nil {
		if err != io.EOF && b.x.err == nil {
			b.x.err = fmt.Errorf("upstream response body: %w", err)
		}
		if b.x.bodyEnd.IsZero() {
			b.x.bodyEnd = b.x.s.now()
		}
	}
	b.x.mu.Unlock()
	return n, err
}

func (b *respBody) Close() error { return b.rc.Close() }

// modifyResponse notes the upstream's response as it came, then rewrites
// Location and Set-Cookie for the person's side.
func (s *session) modifyResponse(resp *http.Response) error {
	if x := exchangeOf(resp.Request.Context()); x != nil {
		x.mu.Lock()
		x.status, x.statusText, x.proto = resp.StatusCode, statusText(resp), resp.Proto
		x.respHeader = resp.Header
		if needsRewrite(resp.Header) {
			x.respHeader = resp.Header.Clone() // the entry keeps them as they came
		}
		if x.firstByte.IsZero() {
			x.firstByte = s.now()
		}
		x.mu.Unlock()
		resp.Body = &respBody{rc: resp.Body, x: x}
	}
	s.rewriteResponseHeaders(resp.Header)
	return nil
}

// needsRewrite reports whether rewriteResponseHeaders may change h.
func needsRewrite(h http.Header) bool {
	return len(h["Location"]) > 0 || len(h["Content-Location"]) > 0 || len(h["Set-Cookie"]) > 0
}

func statusText(resp *http.Response) string {
	if _, t, ok := strings.Cut(resp.Status, " "); ok && t != "" {
		return t
	}
	return http.StatusText(resp.StatusCode)
}

// errorHandler answers 502 with a page naming the upstream error.
func (s *session) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeOf(r.Context())
	if r.Context().Err() != nil {
		// The person went away (or the session ended, or the request body
		// was cut short): nobody to answer. The server drops the
		// connection (rather than answering 200 for the handler).
		if x != nil {
			x.mu.Lock()
			x.err, x.status, x.statusText = err, 0, ""
			x.mu.Unlock()
		}
		panic(http.ErrAbortHandler)
	}
	page := errorPage(s.base.String(), err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadGateway)
	w.Write(page)
	if x != nil {
		x.mu.Lock()
		x.err = err
		x.status, x.statusText, x.proto = http.StatusBadGateway, "Bad Gateway", "HTTP/1.1"
		x.respHeader = w.Header().Clone()
		x.respCap = har.Capture{Limit: len(page)}
		x.respCap.Write(page)
		x.bodyEnd = s.now()
		x.mu.Unlock()
	}
}

// handle serves one request of the person.
func (cc *clientConn) handle(w http.ResponseWriter, r *http.Request) {
	cc.wc.enter()
	defer cc.wc.leave()
	if isUpgrade(r) {
		cc.serveUpgrade(w, r)
		return
	}
	s := cc.s
	x := cc.newExchange(r)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &reqBody{rc: r.Body, x: x}
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, x)
	if !s.pinnable(r) {
		// The shared transport: timings from a trace (the pinned
		// connection stamps the exchange itself).
		ctx = httptrace.WithClientTrace(ctx, x.trace())
	}
	defer func() {
		if p := recover(); p != nil {
			// ReverseProxy aborts the response when copying the body fails
			// (http.ErrAbortHandler): record the cut exchange, then let the
			// server drop the connection.
			x.mu.Lock()
			if x.err == nil {
				x.err = fmt.Errorf("response cut short: %v", p)
			}
			x.mu.Unlock()
			s.record(x.entry())
			panic(p)
		}
	}()
	s.rp.ServeHTTP(w, r.WithContext(ctx))
	s.record(x.entry())
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

func span(a, b time.Time) float64 {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return -1
	}
	return ms(b.Sub(a))
}

func nonNeg(v float64) float64 { return max(v, 0) }

// stamps are when the phases of an exchange happened (zero: did not).
type stamps struct {
	start     time.Time
	getConn   time.Time
	gotConn   time.Time
	reused    bool
	dnsStart  time.Time
	dnsDone   time.Time
	connStart time.Time
	connDone  time.Time
	tlsStart  time.Time
	tlsDone   time.Time
	wrote     time.Time
	firstByte time.Time
}

// timings turns the stamps into HAR timings.
func (x *stamps) timings(end time.Time) har.Timings {
	t := har.Timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1}
	if x.gotConn.IsZero() {
		// No upstream connection (dial failed): all time was spent connecting.
		t.Connect = nonNeg(span(x.start, end))
		return t
	}
	if !x.reused {
		t.DNS = span(x.dnsStart, x.dnsDone)
		t.SSL = span(x.tlsStart, x.tlsDone)
		switch {
		case !x.connStart.IsZero():
			t.Connect = span(x.connStart, x.gotConn)
		case !x.getConn.IsZero():
			t.Connect = span(x.getConn, x.gotConn)
		}
	}
	used := max(t.DNS, 0) + max(t.Connect, 0)
	t.Blocked = nonNeg(span(x.start, x.gotConn) - used)
	wrote := x.wrote
	if wrote.IsZero() || (!x.firstByte.IsZero() && x.firstByte.Before(wrote)) {
		wrote = x.firstByte
	}
	t.Send = nonNeg(span(x.gotConn, wrote))
	t.Wait = nonNeg(span(wrote, x.firstByte))
	t.Receive = nonNeg(span(x.firstByte, end))
	return t
}

// entry builds the HAR entry of the exchange.
func (x *exchange) entry() *har.Entry {
	s := x.s
	x.mu.Lock()
	defer x.mu.Unlock()
	end := x.bodyEnd
	if end.IsZero() {
		end = s.now()
	}
	method, u, hdr, host := x.in.Method, s.base.JoinPath(x.in.URL.Path), x.in.Header, s.base.Host
	if x.in.URL.RawQuery != "" {
		u.RawQuery = x.in.URL.RawQuery
	}
	if x.out != nil {
		method, u, hdr = x.out.Method, x.out.URL, x.outHeader
		if x.out.Host != "" {
			host = x.out.Host
		}
	}
	proto := x.proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	reqHeaders := append([]har.NameValue{{Name: "Host", Value: host}}, har.Headers(hdr)...)
	post, bodySize := requestBody(hdr.Get("Content-Type"), &x.reqCap)
	e := &har.Entry{
		StartedDateTime: har.FormatTime(x.start),
		Request: har.Request{
			Method: method, URL: u.String(), HTTPVersion: proto,
			Cookies: har.RequestCookies(hdr), Headers: reqHeaders, QueryString: har.Query(u.RawQuery),
			PostData:    post,
			HeadersSize: har.HeadersSize(method+" "+u.RequestURI()+" "+proto, hdr) + int64(len("Host: \r\n")+len(host)),
			BodySize:    bodySize,
		},
		Timings:         x.timings(end),
		ServerIPAddress: x.serverIP,
		Connection:      fmt.Sprint(x.cc.open.ConnID),
		Conn:            x.cc.open.ConnID,
		T:               s.since(x.start),
	}
	if x.status != 0 {
		e.Response = har.Response{
			Status: x.status, StatusText: x.statusText, HTTPVersion: proto,
			Cookies: har.ResponseCookies(x.respHeader), Headers: har.Headers(x.respHeader),
			Content:     content(x.respHeader, &x.respCap),
			RedirectURL: x.respHeader.Get("Location"),
			HeadersSize: har.HeadersSize(fmt.Sprintf("%s %d %s", proto, x.status, x.statusText), x.respHeader),
			BodySize:    x.respCap.N,
		}
	} else {
		// No response reached the person.
		e.Response = har.Response{HTTPVersion: proto, HeadersSize: -1, BodySize: -1, Content: har.Content{MimeType: "x-unknown"}}
	}
	e.Comment = entryComment(x.err, x.comment, e)
	e.Time = e.Timings.Total()
	return e
}

// requestBody is what an entry records of a request body, from its
// capture: the postData (nil for none; form fields as params, text, or
// base64, with a note when the capture was cut) and the size. Both paths
// record request bodies with it.
func requestBody(contentType string, c *har.Capture) (*har.PostData, int64) {
	return har.NewPostData(contentType, c), c.N
}

// entryComment is the comment of e: the exchange's error, a note, and the
// comments of the request's and the response's bodies. Both paths write
// it with it.
func entryComment(err error, note string, e *har.Entry) string {
	var notes [4]string
	n := 0
	if err != nil {
		notes[n] = "error: " + err.Error()
		n++
	}
	if note != "" {
		notes[n] = note
		n++
	}
	if p := e.Request.PostData; p != nil && p.Comment != "" {
		notes[n] = "request " + p.Comment
		n++
	}
	if c := e.Response.Content.Comment; c != "" {
		notes[n] = "response " + c
		n++
	}
	if n == 1 {
		return notes[0]
	}
	return strings.Join(notes[:n], "; ")
}

// maxInflate bounds decoding a recorded gzip body.
const maxInflate = 64 << 20

// content records a response body; a complete gzip body is recorded
// decoded (size the decoded size, compression the bytes saved).
func content(h http.Header, c *har.Capture) har.Content {
	return contentOf(h.Get("Content-Type"), h.Get("Content-Encoding"), c)
}

// contentOf is content for a body of this Content-Type and
// Content-Encoding.
func contentOf(mt, enc string, c *har.Capture) har.Content {
	enc = strings.ToLower(strings.TrimSpace(enc))
	if enc == "" || enc == "identity" || c.N == 0 {
		return har.NewContent(mt, c)
	}
	if enc == "gzip" && !c.Truncated() {
		if zr, err := gzip.NewReader(bytes.NewReader(c.Bytes())); err == nil {
			dec := &har.Capture{Limit: c.Limit}
			if _, err := io.Copy(dec, io.LimitReader(zr, maxInflate)); err == nil {
				ct := har.NewContent(mt, dec)
				if saved := dec.N - c.N; saved > 0 {
					ct.Compression = saved
				}
				return ct
			}
		}
	}
	ct := har.NewContent(mt, c)
	note := "content-encoding " + enc + ": recorded as sent, not decoded"
	if ct.Comment != "" {
		note = ct.Comment + "; " + note
	}
	ct.Comment = note
	return ct
}
