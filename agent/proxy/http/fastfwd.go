package httpproxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/recordfmt/har"
)

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
