package har

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/onepam/onepam/pkg/jsonesc"
)

// appendEntry appends e as compact JSON, byte for byte what encoding/json
// writes for it without HTML escaping (the tests compare the two), but
// without reflection: it is most of the recording's cost per request.
// The field order and omitempty rules are those of the struct tags in
// types.go.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	a := appender{b: b}
	a.raw(`{`)
	if e.Pageref != "" {
		a.key(`"pageref":`).str(e.Pageref).raw(`,`)
	}
	a.key(`"startedDateTime":`).str(e.StartedDateTime)
	a.key(`,"time":`).float(e.Time)
	a.key(`,"request":`).request(&e.Request)
	a.key(`,"response":`).response(&e.Response)
	a.key(`,"cache":{`)
	if e.Cache.Comment != "" {
		a.key(`"comment":`).str(e.Cache.Comment)
	}
	a.raw(`}`)
	a.key(`,"timings":`).timings(&e.Timings)
	a.optStr(`,"serverIPAddress":`, e.ServerIPAddress)
	a.optStr(`,"connection":`, e.Connection)
	a.optStr(`,"comment":`, e.Comment)
	a.key(`,"_conn":`).int(e.Conn)
	a.key(`,"_t":`).float(e.T)
	if w := e.WebSocket; w != nil {
		a.key(`,"_webSocket":{"bytesUp":`).int(w.BytesUp)
		a.key(`,"bytesDown":`).int(w.BytesDown)
		a.key(`,"messages":`).int(w.Messages)
		a.key(`,"dropped":`).int(w.Dropped)
		a.raw(`}`)
	}
	if len(e.WebSocketMessages) > 0 {
		a.raw(`,"_webSocketMessages":[`)
		for i := range e.WebSocketMessages {
			m := &e.WebSocketMessages[i]
			if i > 0 {
				a.raw(`,`)
			}
			a.key(`{"type":`).str(m.Type)
			a.key(`,"time":`).float(m.Time)
			a.key(`,"opcode":`).int(int64(m.Opcode))
			a.key(`,"data":`).str(m.Data)
			a.raw(`}`)
		}
		a.raw(`]`)
	}
	a.raw(`}`)
	return a.b, a.err
}

// appender builds one JSON value; the first error (a number JSON cannot
// hold) sticks.
type appender struct {
	b   []byte
	err error
}

func (a *appender) raw(s string) *appender { a.b = append(a.b, s...); return a }
func (a *appender) key(s string) *appender { return a.raw(s) }

func (a *appender) str(s string) *appender {
	a.b = appendString(a.b, s)
	return a
}

// optStr appends key and s unless s is empty (omitempty).
func (a *appender) optStr(key, s string) *appender {
	if s != "" {
		a.raw(key).str(s)
	}
	return a
}

func (a *appender) int(n int64) *appender {
	a.b = strconv.AppendInt(a.b, n, 10)
	return a
}

// errUnsupportedNumber is encoding/json's refusal of NaN and infinities.
var errUnsupportedNumber = errors.New("json: unsupported value: NaN or infinity")

// float appends f as encoding/json does (ES6 number formatting).
func (a *appender) float(f float64) *appender {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		if a.err == nil {
			a.err = errUnsupportedNumber
		}
		a.b = append(a.b, '0')
		return a
	}
	if b, ok := appendMillis(a.b, f); ok {
		a.b = b
		return a
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(a.b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	a.b = b
	return a
}

// appendMillis appends f, when it is a whole number of thousandths below
// 1e9 (as timings in milliseconds with microseconds are), as
// strconv.AppendFloat(b, f, 'f', -1, 64) does but quicker: such an f is
// the double nearest to k/1000, and no other decimal of 12 digits or
// fewer is nearest to that double, so k/1000 without its trailing zeros
// is the shortest decimal that reads back as f.
func appendMillis(b []byte, f float64) ([]byte, bool) {
	if f == 0 || f <= -1e9 || f >= 1e9 {
		return b, false
	}
	k := math.Round(f * 1000)
	if k/1000 != f {
		return b, false
	}
	n := int64(k)
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	b = strconv.AppendInt(b, n/1000, 10)
	if frac := n % 1000; frac != 0 {
		d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		end := 4
		for d[end-1] == '0' {
			end--
		}
		b = append(b, d[:end]...)
	}
	return b, true
}

func (a *appender) request(r *Request) {
	a.key(`{"method":`).str(r.Method)
	a.key(`,"url":`).str(r.URL)
	a.key(`,"httpVersion":`).str(r.HTTPVersion)
	a.key(`,"cookies":`).cookies(r.Cookies)
	a.key(`,"headers":`).nameValues(r.Headers)
	a.key(`,"queryString":`).nameValues(r.QueryString)
	if p := r.PostData; p != nil {
		a.key(`,"postData":{"mimeType":`).str(p.MimeType)
		if len(p.Params) > 0 {
			a.raw(`,"params":[`)
			for i := range p.Params {
				q := &p.Params[i]
				if i > 0 {
					a.raw(`,`)
				}
				a.key(`{"name":`).str(q.Name)
				a.optStr(`,"value":`, q.Value)
				a.optStr(`,"fileName":`, q.FileName)
				a.optStr(`,"contentType":`, q.ContentType)
				a.optStr(`,"comment":`, q.Comment)
				a.raw(`}`)
			}
			a.raw(`]`)
		}
		a.optStr(`,"text":`, p.Text)
		a.optStr(`,"comment":`, p.Comment)
		a.optStr(`,"_encoding":`, p.Encoding)
		a.raw(`}`)
	}
	a.key(`,"headersSize":`).int(r.HeadersSize)
	a.key(`,"bodySize":`).int(r.BodySize)
	a.optStr(`,"comment":`, r.Comment)
	a.raw(`}`)
}

func (a *appender) response(r *Response) {
	a.key(`{"status":`).int(int64(r.Status))
	a.key(`,"statusText":`).str(r.StatusText)
	a.key(`,"httpVersion":`).str(r.HTTPVersion)
	a.key(`,"cookies":`).cookies(r.Cookies)
	a.key(`,"headers":`).nameValues(r.Headers)
	c := &r.Content
	a.key(`,"content":{"size":`).int(c.Size)
	if c.Compression != 0 {
		a.key(`,"compression":`).int(c.Compression)
	}
	a.key(`,"mimeType":`).str(c.MimeType)
	a.optStr(`,"text":`, c.Text)
	a.optStr(`,"encoding":`, c.Encoding)
	a.optStr(`,"comment":`, c.Comment)
	a.raw(`}`)
	a.key(`,"redirectURL":`).str(r.RedirectURL)
	a.key(`,"headersSize":`).int(r.HeadersSize)
	a.key(`,"bodySize":`).int(r.BodySize)
	a.optStr(`,"comment":`, r.Comment)
	a.raw(`}`)
}

func (a *appender) timings(t *Timings) {
	a.key(`{"blocked":`).float(t.Blocked)
	a.key(`,"dns":`).float(t.DNS)
	a.key(`,"connect":`).float(t.Connect)
	a.key(`,"send":`).float(t.Send)
	a.key(`,"wait":`).float(t.Wait)
	a.key(`,"receive":`).float(t.Receive)
	a.key(`,"ssl":`).float(t.SSL)
	a.optStr(`,"comment":`, t.Comment)
	a.raw(`}`)
}

func (a *appender) cookies(cs []Cookie) *appender {
	if cs == nil {
		return a.raw(`null`)
	}
	a.raw(`[`)
	for i := range cs {
		c := &cs[i]
		if i > 0 {
			a.raw(`,`)
		}
		a.key(`{"name":`).str(c.Name)
		a.key(`,"value":`).str(c.Value)
		a.optStr(`,"path":`, c.Path)
		a.optStr(`,"domain":`, c.Domain)
		a.optStr(`,"expires":`, c.Expires)
		if c.HTTPOnly {
			a.raw(`,"httpOnly":true`)
		}
		if c.Secure {
			a.raw(`,"secure":true`)
		}
		a.optStr(`,"comment":`, c.Comment)
		a.raw(`}`)
	}
	return a.raw(`]`)
}

func (a *appender) nameValues(nvs []NameValue) *appender {
	if nvs == nil {
		return a.raw(`null`)
	}
	a.raw(`[`)
	for i := range nvs {
		nv := &nvs[i]
		if i > 0 {
			a.raw(`,`)
		}
		a.key(`{"name":`).str(nv.Name)
		a.key(`,"value":`).str(nv.Value)
		a.optStr(`,"comment":`, nv.Comment)
		a.raw(`}`)
	}
	return a.raw(`]`)
}

// appendString appends s as a JSON string as encoding/json writes it
// without HTML escaping: invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look: no control
		// byte, quote, backslash or non-ASCII byte among them.
		for i+8 <= len(s) && plain8(load8(s[i:i+8])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonesc.NeedsEscape(c) {
				b = append(b, s[start:i]...)
				b = jsonesc.AppendASCII(b, c)
				i++
				start = i
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, "0123456789abcdef"[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 reports whether none of the eight bytes in x is below 0x20, a
// quote, a backslash or 0x80 and above (the bit tricks of "Bit Twiddling
// Hacks": hasless and haszero).
func plain8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	bs := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs|x)&hi == 0
}

// load8 reads the eight bytes of s as a little-endian number (one load).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
