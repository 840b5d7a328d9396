package httpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
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
	reqCap   har.Capture
	respCap  har.Capture
	bodyEnd  time.Time
	err      error
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

// writeRequest puts the upstream request head in fc.req as
// http.Request.Write writes it: request line, Host, User-Agent (its first
// value, when not empty), Content-Length (the body's, or 0 for POST, PUT
// and PATCH without one), the other fields sorted.
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
	if n := x.rq.length; n > 0 || sendsZeroLength(x.rq.method) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, "\r\n"...)
	}
	for _, f := range x.up {
		if f.name != "User-Agent" && f.name != "Content-Length" {
			b = appendField(b, f.name, wireValue(f.value))
		}
	}
	fc.req = append(b, "\r\n"...)
}

// sendsZeroLength reports whether net/http sends "Content-Length: 0" for
// a request of this method without a body.
func sendsZeroLength(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch
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
	reqCap, respCap := x.reqCap, x.respCap
	*x = fastX{rq: rq, uri: uri, url: full}
	x.reqCap, x.respCap = reqCap, respCap
	x.reqCap.Reset(s.cfg.BodyCap)
	x.respCap.Reset(s.cfg.BodyCap)
	x.start = s.now()
	x.up = fc.upstreamFields(rq)
	fc.writeRequest(x)
	// A body is read from the person's connection by send: the watch
	// starts once it is read.
	fc.w.begin(rq.length > 0 || fc.nextBuffered())
	r, err := fc.roundTrip(x)
	switch {
	case err == nil:
		keep = fc.forward(x, r)
	case fc.w.isGone() || fc.ctx.Err() != nil || errors.Is(err, errBodyCut):
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

// nextBuffered reports whether bytes of a next request were read already.
func (fc *fastConn) nextBuffered() bool {
	return fc.br.Buffered() > 0 || len(fc.pr.stash) > 0
}

// roundTrip sends the request on the pinned upstream connection and
// reads the response head (passing 1xx responses on). A reused
// connection that fails before any byte of a response is dialled again
// and a replayable request sent again once; one that is not replayable
// goes on a new connection when the upstream closed the idle one.
func (fc *fastConn) roundTrip(x *fastX) (*upResp, error) {
	s, p := fc.s, &fc.cc.pin
	replayable := x.rq.replayable()
	for attempt := 0; ; attempt++ {
		if p.conn != nil && !replayable && p.stale() {
			p.drop()
		}
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
		err := fc.send(x)
		if errors.Is(err, errBodyCut) {
			p.drop() // the upstream gets a short request
			return nil, err
		}
		// An upstream may answer before it read all of a body, and close:
		// its answer is read after a failed write too.
		if err == nil || !replayable {
			perr := err
			if _, err = p.br.Peek(1); err == nil {
				x.firstByte = s.now()
				r, err := fc.readResponse(x)
				if err != nil {
					p.drop()
				}
				return r, err
			}
			if perr != nil {
				err = perr
			}
		}
		if !errors.Is(err, errSend) {
			err = fmt.Errorf("read response from upstream: %w", err)
		}
		p.drop()
		if fc.w.isGone() {
			return nil, errPersonGone
		}
		if fc.ctx.Err() != nil {
			return nil, context.Cause(fc.ctx)
		}
		if reused && attempt == 0 && replayable {
			continue
		}
		return nil, err
	}
}

// errBodyCut ends an exchange whose person's connection ended inside the
// request body.
var errBodyCut = errors.New("request body cut short by the person")

// send writes the request upstream: in one write when it has no body or
// the whole body was read with the head; otherwise the head and the part
// of the body read with it in one write, then the rest in chunks as it
// is read from the person's connection (without a read deadline, as
// http.Server reads bodies). Body bytes are teed into the capture. The
// last write goes through sendAwait. When the body cannot be read to its
// end the connection closes after this exchange.
func (fc *fastConn) send(x *fastX) error {
	p := &fc.cc.pin
	left := x.rq.length
	if left == 0 {
		return p.sendAwait(fc.req, fc.wroteFn)
	}
	br := fc.br
	if n := int(min(int64(br.Buffered()), left)); n > 0 {
		b, _ := br.Peek(n)
		x.reqCap.Write(b)
		fc.req = append(fc.req, b...)
		br.Discard(n)
		left -= int64(n)
	}
	if left == 0 {
		fc.w.arm(fc.nextBuffered())
		return p.sendAwait(fc.req, fc.wroteFn)
	}
	if _, err := p.conn.Write(fc.req); err != nil {
		x.rq.close = true
		return fmt.Errorf("%w: %w", errSend, err)
	}
	fc.setDeadline(time.Time{})
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	for left > 0 {
		n, rerr := br.Read(buf[:min(int64(len(buf)), left)])
		x.reqCap.Write(buf[:n])
		left -= int64(n)
		if n > 0 {
			var werr error
			if left == 0 {
				fc.w.arm(fc.nextBuffered())
				werr = p.sendAwait(buf[:n], fc.wroteFn)
			} else if _, werr = p.conn.Write(buf[:n]); werr != nil {
				werr = fmt.Errorf("%w: %w", errSend, werr)
			}
			if werr != nil {
				x.rq.close = left > 0
				return werr
			}
		}
		if rerr != nil && left > 0 {
			x.rq.close = true
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("%w: %w", errBodyCut, rerr)
		}
	}
	return nil
}

// stampWrote notes when the request was written (sendAwait's wrote).
func (fc *fastConn) stampWrote() { fc.x.wrote = fc.s.now() }
