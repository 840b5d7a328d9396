package httpproxy

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
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
		err := p.sendAwait(fc.req, fc.wroteFn)
		if err == nil {
			if _, err = p.br.Peek(1); err == nil {
				x.firstByte = s.now()
				r, err := fc.readResponse(x)
				if err != nil {
					p.drop()
				}
				return r, err
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
		if reused && attempt == 0 {
			continue
		}
		return nil, err
	}
}

// stampWrote notes when the request was written (sendAwait's wrote).
func (fc *fastConn) stampWrote() { fc.x.wrote = fc.s.now() }
