package har

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultBodyCap is how many bytes of each body are kept by default.
const DefaultBodyCap = 64 << 10

// Capture keeps the first Limit bytes written to it and counts them all. It
// is the tee target of a streamed body: it never blocks and never fails.
type Capture struct {
	Limit int   // bytes kept; 0 keeps nothing
	N     int64 // bytes written in total
	buf   []byte
}

// Reset empties c for a new body kept up to limit bytes, keeping its
// buffer: what Bytes returned before is overwritten by later writes.
func (c *Capture) Reset(limit int) {
	c.Limit, c.N, c.buf = limit, 0, c.buf[:0]
}

// Write keeps what fits under the limit and counts everything.
func (c *Capture) Write(p []byte) (int, error) {
	c.N += int64(len(p))
	if room := c.Limit - len(c.buf); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		c.buf = append(c.buf, p[:room]...)
	}
	return len(p), nil
}

// Bytes returns the kept bytes.
func (c *Capture) Bytes() []byte { return c.buf }

// Truncated reports whether more was written than kept.
func (c *Capture) Truncated() bool { return c.N > int64(len(c.buf)) }

// truncNote is the comment of a body cut by the capture cap.
func truncNote(kept int, size int64) string {
	return fmt.Sprintf("body truncated: %d of %d bytes recorded", kept, size)
}

// textual reports whether a body of this MIME type and these bytes is
// recorded as text (otherwise base64; ok), and whether all of b is valid
// UTF-8 (valid). A body cut inside a UTF-8 sequence is judged without its
// incomplete tail.
func textual(mimeType string, b []byte) (ok, valid bool) {
	valid = utf8.Valid(b)
	if !valid {
		for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
			r, _ := utf8.DecodeLastRune(b)
			if r != utf8.RuneError {
				break
			}
			b = b[:len(b)-1]
		}
		if !utf8.Valid(b) {
			return false, false
		}
	}
	mt := mediaType(mimeType)
	if strings.HasPrefix(mt, "text/") || strings.Contains(mt, "json") || strings.Contains(mt, "xml") ||
		strings.Contains(mt, "javascript") || mt == "application/x-www-form-urlencoded" {
		return true, valid
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return false, valid
		}
	}
	return true, valid
}

// mediaType is the media type mime.ParseMediaType finds in v ("" when
// it fails), without parsing parameters when there is at most one (it
// fails on parameters only for two of the same name).
func mediaType(v string) string {
	base, params, _ := strings.Cut(v, ";")
	if strings.Contains(params, ";") {
		mt, _, _ := mime.ParseMediaType(v)
		return mt
	}
	mt := strings.TrimSpace(strings.ToLower(base))
	typ, sub, slash := strings.Cut(mt, "/")
	if !mimeToken(typ) || (slash && !mimeToken(sub)) {
		return ""
	}
	return mt
}

// mimeToken reports whether s is a token as package mime reads them.
func mimeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// bodyText returns the recorded form of body: text, or base64 with
// encoding "base64".
func bodyText(mimeType string, b []byte) (text, encoding string) {
	if ok, valid := textual(mimeType, b); ok {
		if valid {
			return string(b), ""
		}
		return strings.ToValidUTF8(string(b), "\uFFFD"), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

// NewContent builds a response's content from the captured body (c may
// be nil for no body). size is the decoded size in bytes.
func NewContent(mimeType string, c *Capture) Content {
	ct := Content{MimeType: mimeType}
	if ct.MimeType == "" {
		ct.MimeType = "x-unknown"
	}
	if c == nil || c.N == 0 {
		return ct
	}
	ct.Size = c.N
	ct.Text, ct.Encoding = bodyText(mimeType, c.Bytes())
	if c.Truncated() {
		ct.Comment = truncNote(len(c.Bytes()), c.N)
	}
	return ct
}

// NewPostData builds a request's postData from the captured body; nil when
// there was none. Form bodies (application/x-www-form-urlencoded) are
// recorded as params.
func NewPostData(mimeType string, c *Capture) *PostData {
	if c == nil || c.N == 0 {
		return nil
	}
	p := &PostData{MimeType: mimeType}
	mt := mediaType(mimeType)
	b := c.Bytes()
	if mt == "application/x-www-form-urlencoded" && utf8.Valid(b) {
		for _, pair := range strings.Split(string(b), "&") {
			if pair == "" {
				continue
			}
			n, v, _ := strings.Cut(pair, "=")
			un, err1 := url.QueryUnescape(n)
			uv, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				p.Params = nil
				break
			}
			p.Params = append(p.Params, Param{Name: un, Value: uv})
		}
	}
	if p.Params == nil {
		p.Text, p.Encoding = bodyText(mimeType, b)
	}
	if c.Truncated() {
		p.Comment = truncNote(len(b), c.N)
	}
	return p
}

// Headers lists h as HAR headers, sorted by name as http.Header.Write
// orders them.
func Headers(h http.Header) []NameValue {
	out := make([]NameValue, 0, len(h))
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			out = append(out, NameValue{Name: k, Value: v})
		}
	}
	return out
}

// HeadersSize is the size of a header block in HTTP/1.1 form: the start
// line, each "Name: value" line and the blank line.
func HeadersSize(startLine string, h http.Header) int64 {
	n := int64(len(startLine) + 2 + 2)
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + 2 + len(v) + 2)
		}
	}
	return n
}

// Query lists the query parameters of a raw query in order.
func Query(rawQuery string) []NameValue {
	out := []NameValue{}
	if rawQuery == "" {
		return out
	}
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		n, v, _ := strings.Cut(pair, "=")
		if un, err := url.QueryUnescape(n); err == nil {
			n = un
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, NameValue{Name: n, Value: v})
	}
	return out
}

// RequestCookies lists the cookies of a request's Cookie headers.
func RequestCookies(h http.Header) []Cookie {
	out := []Cookie{}
	r := http.Request{Header: h}
	for _, c := range r.Cookies() {
		out = append(out, Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

// ResponseCookies lists the cookies of a response's Set-Cookie headers.
func ResponseCookies(h http.Header) []Cookie {
	out := []Cookie{}
	r := http.Response{Header: h}
	for _, c := range r.Cookies() {
		hc := Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, HTTPOnly: c.HttpOnly, Secure: c.Secure}
		if !c.Expires.IsZero() {
			hc.Expires = c.Expires.UTC().Format(TimeFormat)
		}
		out = append(out, hc)
	}
	return out
}
