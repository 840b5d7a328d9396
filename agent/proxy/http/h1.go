package httpproxy

import (
	"net/http"
	"strconv"
	"strings"
)

// The HTTP/1.1 heads the fast path (fast.go) reads itself. The parsers are
// strict on purpose: a request head they do not take is served by
// net/http instead (the fallback), a response head they do not take is
// read by http.ReadResponse; they never have to produce net/http's errors.

// hfield is one header field: its canonical name and its value (leading
// and trailing blanks removed).
type hfield struct{ name, value string }

// reqHead is a request head the fast path serves: an HTTP/1.1 request in
// origin form, without a body or with one of the length its one
// Content-Length gives.
type reqHead struct {
	method string
	target string // the request-target as sent (starts with "/")
	host   string
	// fields are the header fields in order but Host and the hop-by-hop
	// ones (Connection and those it names, Keep-Alive, Proxy-*, Te,
	// Trailer); Content-Length is one of them (unless Connection names
	// it, as net/http keeps it in the request's header).
	fields     []hfield
	length     int64 // the body's length (Content-Length; 0: none)
	close      bool  // Connection: close
	teTrailers bool  // Te names trailers: the upstream gets Te: trailers
}

// replayable reports whether the request may be sent again when a reused
// upstream connection fails before any answer (http.Transport's rule: no
// body, and a method without side effects).
func (rq *reqHead) replayable() bool {
	if rq.length != 0 {
		return false
	}
	switch rq.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// hopByHop are the fields a proxy does not pass on (RFC 9110 §7.6.1, and
// the older ones ReverseProxy removes too).
func hopByHop(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// maxConnTokens bounds the names one head's Connection fields may list.
const maxConnTokens = 8

// connTokens collects the names listed in Connection fields.
type connTokens struct {
	n     int
	names [maxConnTokens]string
	over  bool
}

func (c *connTokens) add(v string) {
	for len(v) > 0 {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if t = trimOWS(t); t == "" {
			continue
		}
		if c.n == maxConnTokens || !validToken(t) {
			c.over = true
			return
		}
		c.names[c.n] = canonicalKey(t)
		c.n++
	}
}

func (c *connTokens) has(name string) bool {
	for _, t := range c.names[:c.n] {
		if t == name {
			return true
		}
	}
	return false
}

// parseRequestHead parses head, a request head ending in "\r\n\r\n".
// fields is reused for the result's fields. ok is false for anything the
// fast path leaves to net/http: CONNECT and PRI, other versions or target
// forms, Transfer-Encoding (a chunked body), a Content-Length that is not
// one field of digits (net/http refuses the invalid ones with 400, and
// merges equal ones), Expect, Upgrade, more than one Host, bare LF line
// ends, folded or invalid fields, query strings ReverseProxy would
// re-encode.
func parseRequestHead(head string, fields []hfield) (rq reqHead, ok bool) {
	line, rest, ok := cutLine(head)
	if !ok {
		return rq, false
	}
	method, line, _ := strings.Cut(line, " ")
	target, proto, _ := strings.Cut(line, " ")
	if !validToken(method) || method == http.MethodConnect || method == "PRI" {
		return rq, false
	}
	if proto != "HTTP/1.1" || !fastTarget(target) {
		return rq, false
	}
	rq.method, rq.target = method, target
	var conn connTokens
	haveHost, haveLength := false, false
	fields = fields[:0]
	for {
		if line, rest, ok = cutLine(rest); !ok {
			return rq, false
		}
		if line == "" {
			break
		}
		f, ok := parseField(line)
		if !ok {
			return rq, false
		}
		switch f.name {
		case "Host":
			if haveHost || !fastHost(f.value) {
				return rq, false
			}
			rq.host, haveHost = f.value, true
			continue
		case "Content-Length":
			n, ok := parseLength(f.value)
			if haveLength || !ok {
				return rq, false
			}
			rq.length, haveLength = n, true
		case "Transfer-Encoding", "Expect", "Upgrade":
			return rq, false
		case "Connection":
			conn.add(f.value)
			if hasToken(f.value, "close") {
				rq.close = true
			}
			continue
		case "Te":
			if hasToken(f.value, "trailers") {
				rq.teTrailers = true
			}
			continue
		}
		if hopByHop(f.name) {
			continue
		}
		fields = append(fields, f)
	}
	if rest != "" || !haveHost || conn.over {
		return rq, false
	}
	if conn.n > 0 {
		// Drop the fields Connection names (ReverseProxy does).
		kept := fields[:0]
		for _, f := range fields {
			if !conn.has(f.name) {
				kept = append(kept, f)
			}
		}
		fields = kept
	}
	rq.fields = fields
	return rq, true
}

// parseLength parses a Content-Length value of digits only, as net/http
// does (strconv.ParseUint, 63 bits).
func parseLength(v string) (int64, bool) {
	if v == "" || v[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 63)
	return int64(n), err == nil
}

// respHead is a response head as the upstream sent it.
type respHead struct {
	proto  string // "HTTP/1.1" or "HTTP/1.0"
	status int
	text   string // the reason phrase, or the status's usual text
	// fields are all the header fields, in order.
	fields []hfield
	// length is the Content-Length (-1: none).
	length  int64
	chunked bool
	// close: the upstream closes the connection after this response
	// (Connection: close, or HTTP/1.0 without keep-alive).
	close bool
	conn  connTokens
}

// parseResponseHead parses head, a response head ending in "\r\n\r\n"
// (or "\n\n"). ok is false for heads http.ReadResponse has to read: other
// versions, codes below 100, folded or invalid fields, a Trailer field,
// any Transfer-Encoding but chunked alone, more than one Content-Length or
// one next to chunked.
func parseResponseHead(head string, fields []hfield) (rh respHead, ok bool) {
	line, rest, ok := cutLineLF(head)
	if !ok {
		return rh, false
	}
	proto, status, ok := strings.Cut(line, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") {
		return rh, false
	}
	status = strings.TrimLeft(status, " ")
	code, text, _ := strings.Cut(status, " ")
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || !isDigit(code[1]) || !isDigit(code[2]) {
		return rh, false
	}
	rh.proto = proto
	rh.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	rh.text = text
	if text == "" {
		rh.text = http.StatusText(rh.status)
	}
	rh.length = -1
	keepAlive, te, cl := false, 0, 0
	fields = fields[:0]
	for {
		if line, rest, ok = cutLineLF(rest); !ok {
			return rh, false
		}
		if line == "" {
			break
		}
		f, ok := parseField(line)
		if !ok {
			return rh, false
		}
		switch f.name {
		case "Transfer-Encoding":
			if te++; te > 1 || proto != "HTTP/1.1" || !strings.EqualFold(f.value, "chunked") {
				return rh, false
			}
			rh.chunked = true
		case "Content-Length":
			n, ok := parseLength(f.value)
			if cl++; cl > 1 || !ok {
				return rh, false
			}
			rh.length = n
		case "Trailer":
			return rh, false
		case "Connection":
			rh.conn.add(f.value)
			if hasToken(f.value, "close") {
				rh.close = true
			}
			if hasToken(f.value, "keep-alive") {
				keepAlive = true
			}
		}
		fields = append(fields, f)
	}
	if rest != "" || rh.conn.over || (rh.chunked && cl > 0) {
		return rh, false
	}
	if proto == "HTTP/1.0" && !keepAlive {
		rh.close = true
	}
	rh.fields = fields
	return rh, true
}

// bodyAllowed reports whether a response of this status may have a body.
func bodyAllowed(status int) bool {
	return (status < 100 || status > 199) && status != http.StatusNoContent && status != http.StatusNotModified
}

// cutLine cuts the first CRLF-ended line off s; false when s has no CRLF
// or a bare LF comes first.
func cutLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 1 || s[i-1] != '\r' {
		return "", "", false
	}
	return s[:i-1], s[i+1:], true
}

// cutLineLF is cutLine accepting a bare LF as well (as net/http does for
// responses).
func cutLineLF(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", "", false
	}
	line, rest = s[:i], s[i+1:]
	return strings.TrimSuffix(line, "\r"), rest, true
}

// parseField parses "Name: value"; false for invalid names (a space
// before the colon included), folded lines and control bytes in values.
func parseField(line string) (hfield, bool) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || !validToken(name) {
		return hfield{}, false
	}
	value = trimOWS(value)
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return hfield{}, false
		}
	}
	return hfield{name: canonicalKey(name), value: value}, true
}

// fastTarget reports whether t is an origin-form request-target the fast
// path maps itself: printable ASCII without "#", valid percent escapes,
// and a query ReverseProxy would pass on unchanged (no ";", not too many
// parameters).
func fastTarget(t string) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	amps := 0
	inQuery := false
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c <= ' ' || c >= 0x7f || c == '#':
			return false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
		case c == '?':
			inQuery = true
		case c == ';' && inQuery:
			return false
		case c == '&':
			amps++
		}
	}
	return amps < 1000
}

// fastHost reports whether h is a Host value of plain name or address
// bytes (net/http accepts more; those go the fallback way).
func fastHost(h string) bool {
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

// validToken reports whether s is an HTTP token (RFC 9110 §5.6.2).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// canonicalKey is textproto.CanonicalMIMEHeaderKey for a token, without
// allocating when s is canonical already.
func canonicalKey(s string) string {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (upper && c >= 'a' && c <= 'z') || (!upper && c >= 'A' && c <= 'Z') {
			return canonicalCopy(s)
		}
		upper = c == '-'
	}
	return s
}

func canonicalCopy(s string) string {
	b := []byte(s)
	upper := true
	for i, c := range b {
		if upper && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	return string(b)
}

// hasToken reports whether the comma-separated list v names token
// (case-insensitively), as httpguts.HeaderValuesContainsToken.
func hasToken(v, token string) bool {
	for len(v) > 0 {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(trimOWS(t), token) {
			return true
		}
	}
	return false
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// sortFields sorts fs by name, keeping the order of equal names (the
// order http.Header.Write gives).
func sortFields(fs []hfield) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].name < fs[j-1].name; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}
