package httpproxy

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// headOf cuts data after its first empty line (the head the fast path
// would parse), adding one when there is none.
func headOf(data []byte) []byte {
	if n := respHeadLen(data); n > 0 {
		return data[:n]
	}
	return append(append([]byte(nil), data...), "\r\n\r\n"...)
}

// FuzzParseRequestHead checks the fast path's request parser against
// net/http: a head it takes is one http.ReadRequest takes too (and that
// net/http's server would not refuse), with the same method, target,
// Host, Connection: close, body length and the same fields but the
// hop-by-hop ones.
func FuzzParseRequestHead(f *testing.F) {
	for _, c := range append(rawCases(), bodyCases()...) {
		for _, r := range c.requests {
			f.Add(headOf([]byte(r)))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		head := headOf(data)
		rq, ok := parseRequestHead(string(head), nil)
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("the fast path takes %q, net/http does not: %v", head, err)
		}
		if req.Method != rq.method || req.RequestURI != rq.target || req.Host != rq.host || req.Close != rq.close || req.ContentLength != rq.length {
			t.Fatalf("%q: fast %+v, net/http %s %s host %q close %v length %d", head, rq, req.Method, req.RequestURI, req.Host, req.Close, req.ContentLength)
		}
		if len(req.TransferEncoding) > 0 || req.Header.Get("Expect") != "" || req.Method == http.MethodConnect {
			t.Fatalf("%q: the fast path takes a request net/http sees as %v, Expect %q", head, req.TransferEncoding, req.Header.Get("Expect"))
		}
		if _, err := url.ParseRequestURI(rq.target); err != nil {
			t.Fatalf("target %q does not parse: %v", rq.target, err)
		}
		want := http.Header{}
		for k, vs := range req.Header {
			if !validToken(k) {
				t.Fatalf("%q: net/http's server refuses the field name %q", head, k)
			}
			if !hopByHop(k) {
				want[k] = vs
			}
		}
		for _, v := range req.Header["Connection"] {
			for _, name := range strings.Split(v, ",") {
				delete(want, http.CanonicalHeaderKey(strings.TrimSpace(name)))
			}
		}
		got := http.Header{}
		for _, fd := range rq.fields {
			got[fd.name] = append(got[fd.name], fd.value)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: fields %v, net/http %v", head, got, want)
		}
		for k, vs := range want {
			if !slices.Equal(got[k], vs) {
				t.Fatalf("%q: field %s: %q, net/http %q", head, k, got[k], vs)
			}
		}
	})
}

// FuzzParseResponseHead checks the fast path's response parser against
// net/http: a head it takes is one http.ReadResponse takes too, with the
// same version, status, fields and framing.
func FuzzParseResponseHead(f *testing.F) {
	for _, a := range rawAnswers() {
		f.Add([]byte(a.bytes), false)
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), true)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		h := headOf(data)
		rh, ok := parseResponseHead(string(h), nil)
		if !ok {
			return
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(h)), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("the fast path takes %q, net/http does not: %v", h, err)
		}
		text := resp.Status[min(4, len(resp.Status)):]
		if text == "" {
			text = http.StatusText(resp.StatusCode)
		}
		if resp.Proto != rh.proto || resp.StatusCode != rh.status || text != rh.text {
			t.Fatalf("%q: fast %s %d %q, net/http %s %d %q", h, rh.proto, rh.status, rh.text, resp.Proto, resp.StatusCode, text)
		}
		if chunked := slices.Equal(resp.TransferEncoding, []string{"chunked"}); chunked != rh.chunked {
			t.Fatalf("%q: chunked %v, net/http %v", h, rh.chunked, resp.TransferEncoding)
		}
		bodyless := head || !bodyAllowed(rh.status)
		switch {
		case bodyless:
		case rh.chunked:
		case rh.length >= 0:
			if resp.ContentLength != rh.length || resp.Close != rh.close {
				t.Fatalf("%q: length %d close %v, net/http %d %v", h, rh.length, rh.close, resp.ContentLength, resp.Close)
			}
		default:
			if resp.ContentLength != -1 || !resp.Close {
				t.Fatalf("%q: a body to the end, net/http length %d close %v", h, resp.ContentLength, resp.Close)
			}
		}
		if rh.length < 0 && !bodyless && !rh.chunked {
			return // net/http marks it Close, the fast path closes it itself
		}
		if resp.Close != rh.close {
			t.Fatalf("%q: close %v, net/http %v", h, rh.close, resp.Close)
		}
		got := http.Header{}
		for _, fd := range rh.fields {
			if fd.name == "Transfer-Encoding" || (fd.name == "Connection" && resp.Close && rh.proto == "HTTP/1.1") {
				continue // net/http takes them out of the header
			}
			got[fd.name] = append(got[fd.name], fd.value)
		}
		if len(got) != len(resp.Header) {
			t.Fatalf("%q: fields %v, net/http %v", h, got, resp.Header)
		}
		for k, vs := range resp.Header {
			if !slices.Equal(got[k], vs) {
				t.Fatalf("%q: field %s: %q, net/http %q", h, k, got[k], vs)
			}
		}
	})
}

// FuzzFastURL checks that the fast path maps a request-target onto the
// upstream as ReverseProxy's SetURL does.
func FuzzFastURL(f *testing.F) {
	for _, s := range []string{"/", "/a/b?c=d", "/a%20b", "/a!b", "/x?", "//x", "/a/%2F/b?q", "/é", "/a;b=c/d"} {
		f.Add(s, "/base")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, target, basePath string) {
		if !fastTarget(target) || (basePath != "" && !strings.HasPrefix(basePath, "/")) || !plainPath(basePath) {
			return
		}
		s := &session{base: &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: basePath}, fast: &fastSession{origin: "http://127.0.0.1:8080"}}
		uri, full, ok := s.fastURL(target)
		in, err := url.ParseRequestURI(target)
		if !ok || err != nil {
			if ok || err == nil {
				t.Fatalf("%q: fast path ok %v, ParseRequestURI %v", target, ok, err)
			}
			return
		}
		out := *s.base
		out.Path, out.RawPath = joinURLPath(s.base, in)
		out.RawQuery, out.ForceQuery = in.RawQuery, in.ForceQuery
		if uri != out.RequestURI() || full != out.String() {
			t.Fatalf("%q under %q: %q %q, ReverseProxy %q %q", target, basePath, uri, full, out.RequestURI(), out.String())
		}
	})
}
