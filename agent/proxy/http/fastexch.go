package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/recordfmt/har"
)

// fastX is one exchange of the fast path, for its entry.
type fastX struct {
	stamps
	rq       *reqHead
	uri, url string
	up       []hfield // the fields sent upstream, sorted (User-Agent "" when none)
	serverIP string
	proto    string
	status   int
	text     string
	rec      []hfield // the response's fields as recorded, sorted
	respCap  har.Capture
	bodyEnd  time.Time
	err      error
}

// fastURL maps a request-target (fastTarget) onto the upstream as
// ReverseProxy's SetURL does: the request URI sent upstream and the
// absolute URL the entry shows.
func (s *session) fastURL(target string) (uri, full string, ok bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	if plainPath(path) && s.base.RawPath == "" && s.base.RawQuery == "" && strings.HasPrefix(path, "/") {
		uri = singleJoiningSlash(s.base.Path, path)
		if hasQuery {
			uri += "?" + query
		}
		return uri, s.fast.origin + uri, true
	}
	in, err := url.ParseRequestURI(target)
	if err != nil {
		return "", "", false
	}
	out := *s.base
	out.Path, out.RawPath = joinURLPath(s.base, in)
	if s.base.RawQuery == "" || in.RawQuery == "" {
		out.RawQuery = s.base.RawQuery + in.RawQuery
	} else {
		out.RawQuery = s.base.RawQuery + "&" + in.RawQuery
	}
	out.ForceQuery = in.ForceQuery
	return out.RequestURI(), out.String(), true
}

// plainPath reports whether p needs no escaping in a URL path (so that
// url.URL keeps it as it is).
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.~$&+,/:;=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// singleJoiningSlash and joinURLPath are ReverseProxy's.
func singleJoiningSlash(a, b string) string {
	aslash := strings.HasSuffix(a, "/")
	bslash := strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath := a.EscapedPath()
	bpath := b.EscapedPath()
	aslash := strings.HasSuffix(apath, "/")
	bslash := strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

// upstreamFields are the fields the upstream request carries, sorted:
// the person's but those the agent sets, then the agent's.
func (fc *fastConn) upstreamFields(rq *reqHead) []hfield {
	fs := fc.fs
	up := fc.ufields[:0]
	for _, f := range rq.fields {
		if !fs.dropUp(f.name) {
			up = append(up, f)
		}
	}
	if rq.teTrailers {
		up = append(up, hfield{"Te", "trailers"})
	}
	up = append(up, fs.add...)
	if rq.host != "" {
		up = append(up, hfield{"X-Forwarded-Host", rq.host})
	}
	ua := false
	for _, f := range up {
		if f.name == "User-Agent" {
			ua = true
			break
		}
	}
	if !ua {
		up = append(up, hfield{"User-Agent", ""}) // net/http's own is not sent either
	}
	sortFields(up)
	fc.ufields = up
	return up
}

// writeRequest puts the upstream request in fc.req as http.Request.Write
// writes it: request line, Host, User-Agent (its first value, when not
// empty), the other fields sorted.
func (fc *fastConn) writeRequest(x *fastX) {
	b := append(fc.req[:0], x.rq.method...)
	b = append(b, ' ')
	b = append(b, x.uri...)
	b = append(b, " HTTP/1.1\r\n"...)
	b = append(b, fc.fs.hostLine...)
	for _, f := range x.up {
		if f.name == "User-Agent" {
			if v := wireValue(f.value); v != "" {
				b = append(b, "User-Agent: "...)
				b = append(b, v...)
				b = append(b, "\r\n"...)
			}
			break
		}
	}
	for _, f := range x.up {
		if f.name != "User-Agent" {
			b = appendField(b, f.name, wireValue(f.value))
		}
	}
	fc.req = append(b, "\r\n"...)
}

// wireValue is a field value as http.Header.Write writes it: line breaks
// become spaces, blanks around are removed.
func wireValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return textproto.TrimString(v)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// exchange carries one request and records it; false when the
// connection cannot go on.
func (fc *fastConn) exchange(rq *reqHead, uri, full string) (keep bool) {
	s := fc.s
	x := &fc.x
	capBuf := x.respCap
	*x = fastX{rq: rq, uri: uri, url: full}
	x.respCap = capBuf
	x.respCap.Reset(s.cfg.BodyCap)
	x.start = s.now()
	x.up = fc.upstreamFields(rq)
	fc.writeRequest(x)
	fc.w.begin(fc.br.Buffered() > 0 || len(fc.pr.stash) > 0)
	r, err := fc.roundTrip(x)
	switch {
	case err == nil:
		keep = fc.forward(x, r)
	case fc.w.isGone() || fc.ctx.Err() != nil:
		// Nobody to answer.
		x.err, keep = err, false
	default:
		keep = fc.badGateway(x, err)
	}
	if fc.w.end() && x.err == nil {
		x.err = errPersonGone
	}
	s.record(fc.entry(x))
	return keep
}

// upResp is the upstream's final response, its head read.
type upResp struct {
	proto  string
	status int
	text   string
	fields []hfield  // as recorded: hop-by-hop fields removed, sorted
	body   io.Reader // nil: none
	close  bool      // the upstream connection ends with this response
	// trailerKeys are the trailers the upstream announced (a response
	// http.ReadResponse read); trailers returns the ones received, at the
	// end of the body.
	trailerKeys []string
	trailers    func() []hfield
}

// roundTrip sends the request on the pinned upstream connection and
// reads the response head (passing 1xx responses on). A reused
// connection that fails before any byte of a response is dialled again
// and the request sent again once.
func (fc *fastConn) roundTrip(x *fastX) (*upResp, error) {
	s, p := fc.s, &fc.cc.pin
	for attempt := 0; ; attempt++ {
		reused := p.conn != nil
		if !reused {
			x.connStart = s.now()
			err := p.open(fc.ctx)
			x.connDone = s.now()
			if err != nil {
				return nil, err
			}
		}
		if !fc.w.setUp(p.conn) {
			p.drop()
			return nil, errPersonGone
		}
		x.gotConn, x.reused, x.serverIP = s.now(), reused, p.ip
		_, err := p.conn.Write(fc.req)
		if err == nil {
			x.wrote = s.now()
			if _, err = p.br.Peek(1); err == nil {
				x.firstByte = s.now()
				r, err := fc.readResponse(x)
				if err != nil {
					p.drop()
				}
				return r, err
			}
			err = fmt.Errorf("read response from upstream: %w", err)
		} else {
			err = fmt.Errorf("send request upstream: %w", err)
		}
		p.drop()
		if fc.w.isGone() {
			return nil, errPersonGone
		}
		if fc.ctx.Err() != nil {
			return nil, context.Cause(fc.ctx)
		}
		if reused && attempt == 0 {
			continue
		}
		return nil, err
	}
}

// respHeadLen is the length of the response head at the start of b
// (through its empty line; LF line ends count), 0 when it is not all
// there.
func respHeadLen(b []byte) int {
	n := 0
	if i := bytes.Index(b, []byte("\n\r\n")); i >= 0 {
		n = i + 3
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 && (n == 0 || i+2 < n) {
		n = i + 2
	}
	return n
}

// readResponse reads response heads until the final one, writing 1xx
// responses to the person as they come.
func (fc *fastConn) readResponse(x *fastX) (*upResp, error) {
	p := &fc.cc.pin
	method := x.rq.method
	for {
		var r *upResp
		head, err := fc.upstreamHead()
		if err != nil {
			return nil, fmt.Errorf("read response from upstream: %w", err)
		}
		var rh respHead
		ok := false
		if head != nil {
			rh, ok = parseResponseHead(string(head), fc.hfields)
		}
		if ok {
			fc.hfields = rh.fields[:0]
			p.br.Discard(len(head))
			if rh.status < 200 {
				if err := fc.interim(rh.status, rh.fields); err != nil {
					return nil, err
				}
				continue
			}
			r = fc.ownResponse(&rh, method)
		} else {
			// A head the fast parser leaves to net/http.
			resp, err := http.ReadResponse(p.br, &http.Request{Method: method})
			if err != nil {
				return nil, fmt.Errorf("read response from upstream: %w", err)
			}
			if resp.StatusCode < 200 {
				if err := fc.interim(resp.StatusCode, headerFields(resp.Header)); err != nil {
					return nil, err
				}
				continue
			}
			r = goResponse(resp)
		}
		if r.status == http.StatusSwitchingProtocols {
			return nil, errors.New("upstream switched protocols on a request that did not ask to")
		}
		x.proto, x.status, x.text, x.rec = r.proto, r.status, r.text, r.fields
		return r, nil
	}
}

// upstreamHead returns the next response head in the upstream reader
// (not consumed), waiting for all of it; nil when http.ReadResponse has
// to read it (bigger than the buffer, or cut short).
func (fc *fastConn) upstreamHead() ([]byte, error) {
	br := fc.cc.pin.br
	for {
		buf, _ := br.Peek(br.Buffered())
		if n := respHeadLen(buf); n > 0 {
			return buf[:n], nil
		}
		if len(buf) == br.Size() {
			return nil, nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if len(buf) == 0 {
				return nil, err
			}
			return nil, nil
		}
	}
}

// interim passes a 1xx response on to the person as net/http's server
// writes one (its fields but Content-Length and Transfer-Encoding).
func (fc *fastConn) interim(status int, fields []hfield) error {
	if status == http.StatusSwitchingProtocols {
		return errors.New("upstream switched protocols on a request that did not ask to")
	}
	b := appendStatusLine(fc.out[:0], status)
	sorted := append(fc.pfields[:0], fields...)
	sortFields(sorted)
	fc.pfields = sorted[:0]
	for _, f := range sorted {
		if f.name != "Content-Length" && f.name != "Transfer-Encoding" {
			b = appendField(b, f.name, wireValue(f.value))
		}
	}
	b = append(b, "\r\n"...)
	fc.out = b
	if _, err := fc.conn.Write(b); err != nil {
		return fmt.Errorf("write %d response to the person: %w", status, err)
	}
	return nil
}

// ownResponse makes an upResp of a head parseResponseHead read.
func (fc *fastConn) ownResponse(rh *respHead, method string) *upResp {
	p := &fc.cc.pin
	rec := fc.resp.fields[:0]
	r := &fc.resp
	*r = upResp{proto: rh.proto, status: rh.status, text: rh.text, close: rh.close}
	for _, f := range rh.fields {
		if !hopByHop(f.name) && !rh.conn.has(f.name) {
			rec = append(rec, f)
		}
	}
	sortFields(rec)
	r.fields = rec
	switch {
	case method == http.MethodHead || !bodyAllowed(rh.status):
	case rh.chunked:
		cr := &chunkedBody{br: p.br, r: httputil.NewChunkedReader(p.br)}
		r.body, r.trailers = cr, cr.trailerFields
	case rh.length >= 0:
		if rh.length > 0 {
			fc.lb = lengthBody{br: p.br, n: rh.length}
			r.body = &fc.lb
		}
	default:
		r.body, r.close = eofBody{p.br}, true
	}
	return r
}

// goResponse makes an upResp of a response http.ReadResponse read.
func goResponse(resp *http.Response) *upResp {
	removeHopByHop(resp.Header)
	r := &upResp{proto: resp.Proto, status: resp.StatusCode, text: statusText(resp), close: resp.Close, fields: headerFields(resp.Header)}
	if resp.Body != http.NoBody {
		r.body = resp.Body
	}
	for k := range resp.Trailer {
		r.trailerKeys = append(r.trailerKeys, k)
	}
	sort.Strings(r.trailerKeys)
	r.trailers = func() []hfield { return headerFields(resp.Trailer) }
	return r
}

// removeHopByHop is ReverseProxy's removal of hop-by-hop fields.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		h.Del(f)
	}
}

// headerFields lists h sorted by name.
func headerFields(h http.Header) []hfield {
	var out []hfield
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			out = append(out, hfield{k, v})
		}
	}
	return out
}

func sortedKeys(h http.Header) []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// lengthBody is a body of known length read from the upstream.
type lengthBody struct {
	br *bufio.Reader
	n  int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	switch {
	case err == io.EOF && b.n > 0:
		err = io.ErrUnexpectedEOF
	case err == nil && b.n == 0:
		err = io.EOF
	}
	return n, err
}

// eofBody is a body that ends with the connection.
type eofBody struct{ br *bufio.Reader }

func (b eofBody) Read(p []byte) (int, error) { return b.br.Read(p) }

// chunkedBody is a chunked body read from the upstream; its trailer
// section is read at its end.
type chunkedBody struct {
	br       *bufio.Reader
	r        io.Reader
	trailers []hfield
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		if terr := b.readTrailers(); terr != nil {
			err = terr
		}
	}
	return n, err
}

// readTrailers reads the trailer section after the last chunk, as
// net/http's body does.
func (b *chunkedBody) readTrailers() error {
	buf, err := b.br.Peek(2)
	if bytes.Equal(buf, []byte("\r\n")) {
		b.br.Discard(2)
		return nil
	}
	if len(buf) < 2 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("trailers: %w", err)
	}
	hdr, err := textproto.NewReader(b.br).ReadMIMEHeader()
	if err != nil {
		return fmt.Errorf("trailers: %w", err)
	}
	b.trailers = headerFields(http.Header(hdr))
	return nil
}

func (b *chunkedBody) trailerFields() []hfield { return b.trailers }

// personFields are the response's fields as the person gets them:
// Location and Content-Location mapped (the first value; the others
// dropped, as http.Header.Set does), Set-Cookie mapped, the fields a
// response without body may not have dropped, the announced trailers.
func (fc *fastConn) personFields(r *upResp) []hfield {
	s := fc.s
	out := fc.pfields[:0]
	// Set replaces every value by the first one mapped, when it is not
	// empty.
	loc, _ := firstValue(r.fields, "Location")
	cloc, _ := firstValue(r.fields, "Content-Location")
	locDone, clocDone := false, false
	for _, f := range r.fields {
		switch f.name {
		case "Location", "Content-Location":
			first, done := loc, &locDone
			if f.name == "Content-Location" {
				first, done = cloc, &clocDone
			}
			if first != "" {
				if *done {
					continue
				}
				*done = true
				f.value = s.location(first)
			}
		case "Set-Cookie":
			f.value = s.setCookie(f.value)
		case "Content-Length", "Transfer-Encoding":
			if !bodyAllowed(r.status) {
				continue
			}
		case "Content-Type":
			if r.status == http.StatusNotModified {
				continue
			}
		}
		out = append(out, f)
	}
	if len(r.trailerKeys) > 0 {
		out = append(out, hfield{"Trailer", strings.Join(r.trailerKeys, ", ")})
		sortFields(out)
	}
	fc.pfields = out
	return out
}

// firstValue returns the first value of name among fs.
func firstValue(fs []hfield, name string) (string, bool) {
	for _, f := range fs {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// forward writes the response to the person: its head with the first
// body bytes in one write, then the rest of the body as it comes; false
// when the connection cannot go on.
func (fc *fastConn) forward(x *fastX, r *upResp) (keep bool) {
	s, p := fc.s, &fc.cc.pin
	isHead := x.rq.method == http.MethodHead
	pf := fc.personFields(r)
	_, hasCL := firstValue(pf, "Content-Length")
	var buf []byte
	var n int
	var rerr error
	if r.body != nil {
		bp := copyPool.Get().(*[]byte)
		defer copyPool.Put(bp)
		buf = *bp
		n, rerr = r.body.Read(buf)
		x.respCap.Write(buf[:n])
	} else {
		rerr = io.EOF
	}
	var trailers []hfield
	if rerr == io.EOF && r.trailers != nil {
		trailers = r.trailers()
	}
	noBody := isHead || !bodyAllowed(r.status)
	chunking := !noBody && !hasCL && (n > 0 || rerr != io.EOF || len(trailers) > 0 || len(r.trailerKeys) > 0)

	b := appendStatusLine(fc.out[:0], r.status)
	for _, f := range pf {
		b = appendField(b, f.name, wireValue(f.value))
	}
	if _, ok := firstValue(pf, "Date"); !ok {
		b = appendField(b, "Date", httpDate(time.Now()))
	}
	if !noBody && !hasCL && !chunking {
		b = append(b, "Content-Length: 0\r\n"...)
	}
	if !noBody && n > 0 {
		_, haveType := firstValue(pf, "Content-Type")
		if ce, _ := firstValue(pf, "Content-Encoding"); !haveType && ce == "" {
			b = appendField(b, "Content-Type", http.DetectContentType(buf[:n]))
		}
	}
	if x.rq.close {
		b = append(b, "Connection: close\r\n"...)
	}
	if chunking {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = fc.appendBody(b, buf[:n], chunking, rerr == io.EOF, trailers)
	fc.out = b[:0]
	if rerr != nil {
		fc.w.answering()
	}
	_, werr := fc.conn.Write(b)
	for werr == nil && rerr == nil {
		n, rerr = r.body.Read(buf)
		x.respCap.Write(buf[:n])
		if rerr == io.EOF && r.trailers != nil {
			trailers = r.trailers()
		}
		if rerr != nil {
			fc.w.answering()
		}
		if !chunking {
			if n > 0 {
				_, werr = fc.conn.Write(buf[:n])
			}
			continue
		}
		if n > 0 || rerr == io.EOF {
			b = fc.appendBody(fc.out[:0], buf[:n], true, rerr == io.EOF, trailers)
			fc.out = b[:0]
			_, werr = fc.conn.Write(b)
		}
	}
	if rerr != nil {
		x.bodyEnd = s.now()
	}
	switch {
	case werr != nil:
		x.err = fmt.Errorf("response cut short: %w", werr)
	case rerr != io.EOF:
		if fc.w.isGone() {
			x.err = errPersonGone
		} else {
			x.err = fmt.Errorf("upstream response body: %w", rerr)
		}
	}
	if x.err != nil || r.close {
		p.drop()
	}
	return x.err == nil
}

// appendBody appends body bytes as the person gets them: as they are, or
// as a chunk (with the last chunk and the trailers at the end).
func (fc *fastConn) appendBody(b, data []byte, chunked, end bool, trailers []hfield) []byte {
	if !chunked {
		return append(b, data...)
	}
	if len(data) > 0 {
		b = strconv.AppendInt(b, int64(len(data)), 16)
		b = append(b, "\r\n"...)
		b = append(b, data...)
		b = append(b, "\r\n"...)
	}
	if end {
		b = append(b, "0\r\n"...)
		for _, f := range trailers {
			b = appendField(b, f.name, wireValue(f.value))
		}
		b = append(b, "\r\n"...)
	}
	return b
}

// badGateway answers 502 with the error page, as errorHandler does;
// false when the connection cannot go on.
func (fc *fastConn) badGateway(x *fastX, err error) bool {
	page := errorPage(fc.s.base.String(), err)
	x.err = err
	x.status, x.text, x.proto = http.StatusBadGateway, "Bad Gateway", "HTTP/1.1"
	x.rec = []hfield{{"Cache-Control", "no-store"}, {"Content-Type", "text/html; charset=utf-8"}}
	x.respCap = har.Capture{Limit: len(page)}
	x.respCap.Write(page)
	b := appendStatusLine(fc.out[:0], http.StatusBadGateway)
	for _, f := range x.rec {
		b = appendField(b, f.name, f.value)
	}
	b = appendField(b, "Date", httpDate(time.Now()))
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(page)), 10)
	b = append(b, "\r\n"...)
	if x.rq.close {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if x.rq.method != http.MethodHead {
		b = append(b, page...)
	}
	fc.out = b[:0]
	x.bodyEnd = fc.s.now()
	fc.w.answering()
	if _, werr := fc.conn.Write(b); werr != nil {
		return false
	}
	return true
}

// appendStatusLine appends the status line net/http's server writes.
func appendStatusLine(b []byte, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	if text := http.StatusText(status); text != "" {
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ' ')
		b = append(b, text...)
		return append(b, "\r\n"...)
	}
	return fmt.Appendf(b, "%03d status code %d\r\n", status, status)
}

// httpDate is the Date net/http's server adds, made once a second.
func httpDate(now time.Time) string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &dateValue{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.s
}

type dateValue struct {
	sec int64
	s   string
}

var lastDate atomic.Pointer[dateValue]

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
