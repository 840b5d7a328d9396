package httpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"sort"
	"strings"
)

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
