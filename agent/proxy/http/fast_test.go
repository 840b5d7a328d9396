package httpproxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/recordfmt/har"
)

// rawUpstream answers canned bytes, chosen by the last segment of the
// request's path, and keeps every request head it got, each with what
// it got of the body: its length and sha256, or where it was cut.
type rawUpstream struct {
	addr    string
	answers map[string]rawAnswer

	mu    sync.Mutex
	heads []string
}

type rawAnswer struct {
	bytes string // "{{addr}}" stands for the upstream's address
	close bool   // close the connection after answering
}

func newRawUpstream(t *testing.T, answers map[string]rawAnswer) *rawUpstream {
	u := &rawUpstream{answers: answers}
	u.addr = proxytest.ServeTCP(t, u.serve)
	return u
}

func (u *rawUpstream) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" || line == "\n" {
				break
			}
		}
		h := head.String()
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(h)))
		if err != nil {
			u.got(h)
			return
		}
		if req.Header.Get("Expect") == "100-continue" {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		var body io.Reader = io.LimitReader(br, max(req.ContentLength, 0))
		if slices.Equal(req.TransferEncoding, []string{"chunked"}) {
			body = httputil.NewChunkedReader(br)
		}
		hash := sha256.New()
		n, err := io.Copy(hash, body)
		switch {
		case err != nil || (req.TransferEncoding == nil && n < req.ContentLength):
			u.got(fmt.Sprintf("%s[body cut after %d of %d bytes]", h, n, req.ContentLength))
			return
		case req.TransferEncoding != nil:
			if _, err := textproto.NewReader(br).ReadMIMEHeader(); err != nil { // the trailers
				return
			}
			fallthrough
		case n > 0:
			h += fmt.Sprintf("[body %d bytes, sha256 %x]", n, hash.Sum(nil))
		}
		u.got(h)
		p := req.URL.Path
		a, ok := u.answers[p[strings.LastIndexByte(p, '/')+1:]]
		if !ok {
			a = rawAnswer{bytes: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"}
		}
		answer := strings.ReplaceAll(a.bytes, "{{addr}}", u.addr)
		if req.Method == http.MethodHead {
			answer = answer[:respHeadLen([]byte(answer))]
		}
		if _, err := io.WriteString(c, answer); err != nil || a.close {
			return
		}
	}
}

func (u *rawUpstream) got(h string) {
	u.mu.Lock()
	u.heads = append(u.heads, h)
	u.mu.Unlock()
}

// since returns the heads got after the first n.
func (u *rawUpstream) since(n int) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.heads[n:]...)
}

func (u *rawUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.heads)
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.String()
}

func rawAnswers() map[string]rawAnswer {
	big := strings.Repeat("0123456789abcdef", 100<<10/16)
	gz := gzipped("hello, gzip")
	chunks := ""
	for i := range 3 {
		c := strings.Repeat(string(rune('a'+i)), 40000)
		chunks += fmt.Sprintf("%x\r\n%s\r\n", len(c), c)
	}
	return map[string]rawAnswer{
		"plain":         {bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nhello"},
		"sniff":         {bytes: "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n<html>hi</html>"},
		"chunked":       {bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
		"chunked-empty": {bytes: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		"trailers":      {bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"},
		"announced":     {bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"},
		"eof":           {bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", close: true},
		"http10":        {bytes: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
		"204":           {bytes: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nX-A: b\r\n\r\n"},
		"304":           {bytes: "HTTP/1.1 304 Not Modified\r\nContent-Type: text/plain\r\nEtag: \"x\"\r\n\r\n"},
		"103":           {bytes: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nContent-Length: 7\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		"redirect":      {bytes: "HTTP/1.1 302 Found\r\nLocation: http://{{addr}}/base/x?y=1\r\nLocation: /second\r\nContent-Location: /base/c\r\nContent-Length: 0\r\n\r\n"},
		"cookie":        {bytes: "HTTP/1.1 200 OK\r\nSet-Cookie: a=secret1; Path=/base/p; Domain=127.0.0.1; HttpOnly\r\nSet-Cookie: b=2; Path=/other\r\nContent-Length: 0\r\n\r\n"},
		"hop":           {bytes: "HTTP/1.1 200 OK\r\nConnection: X-Private, keep-alive\r\nX-Private: p\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nContent-Length: 1\r\n\r\nx"},
		"close":         {bytes: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", close: true},
		"fold":          {bytes: "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 1\r\n\r\nx"},
		"lf":            {bytes: "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok"},
		"reason":        {bytes: "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n"},
		"599":           {bytes: "HTTP/1.1 599\r\nContent-Length: 0\r\n\r\n"},
		"gzip":          {bytes: "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz},
		"badcl":         {bytes: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", close: true},
		"garbage":       {bytes: "NOT HTTP\r\n\r\n", close: true},
		"json":          {bytes: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n{\"token\":\"t-1\",\"a\":1}\r\n"},
		"short":         {bytes: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close: true},
		"empty-cl":      {bytes: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		"big":           {bytes: "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big},
		"bigchunked":    {bytes: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n"},
	}
}

// rawCase is one person connection: the bytes sent (all at once, or one
// request at a time) and the methods of the requests, to read the
// answers.
type rawCase struct {
	name     string
	requests []string
	pipeline bool
	// cut: the connection ends in the middle of an answer; on the fast
	// path the person gets the part streamed so far, net/http drops what
	// it buffered: the answers are not compared, only the entries.
	cut bool
	// entries is how many entries the connection makes when not one per
	// request.
	entries int
	// cutBody: the person's sending side ends after the last request
	// (whose body is short).
	cutBody bool
	// upstream is how many requests the upstream has to have got before
	// its view is compared (0: once the entries are recorded).
	upstream int
	// fast: the fast path serves all of it (no fallback to net/http).
	fast bool
	// errorWords: the paths word an error differently (the net/http
	// path's comes from http.Transport): error pages and comments are
	// compared as "an error".
	errorWords bool
}

func get(path string, fields ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: app.local\r\n" + strings.Join(fields, "") + "\r\n"
}

func rawCases() []rawCase {
	var seq []string
	for _, p := range []string{"plain", "sniff", "chunked", "chunked-empty", "trailers", "announced", "204", "304", "103", "redirect",
		"cookie", "hop", "lf", "reason", "599", "gzip", "json", "empty-cl", "big", "bigchunked", "fold"} {
		seq = append(seq, get("/"+p, "User-Agent: t/1\r\n", "Accept: */*\r\n"))
	}
	seq = append(seq, "HEAD /plain HTTP/1.1\r\nHost: app.local\r\n\r\n", "HEAD /chunked HTTP/1.1\r\nHost: app.local\r\n\r\n",
		"OPTIONS /plain HTTP/1.1\r\nHost: app.local\r\n\r\n", "TRACE /plain HTTP/1.1\r\nHost: app.local\r\n\r\n")
	post := "POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc"
	return []rawCase{
		{name: "keep-alive sequence", requests: seq},
		{name: "pipelined", requests: seq, pipeline: true},
		{name: "upstream closes", requests: []string{get("/close"), get("/plain"), get("/http10"), get("/plain")}},
		{name: "body until the upstream closes", requests: []string{get("/eof"), get("/plain")}},
		{name: "bad upstream answers", requests: []string{get("/badcl"), get("/garbage"), get("/plain")}},
		{name: "upstream cuts the body", requests: []string{get("/short")}, cut: true},
		{name: "targets", requests: []string{get("/plain?q=1&api_key=secret"), get("/a%20b/plain?x"), get("/a!b/plain"), get("/plain?"),
			get("//plain"), get("/a/%2F/plain"), get("/plain?a=%zz"), get("/plain?a;b")}},
		{name: "fields", requests: []string{
			get("/plain", "X-OnePAM-User: mallory\r\n", "x-forwarded-for: 6.6.6.6\r\n", "Forwarded: for=x\r\n", "X-Forwarded-Proto: https\r\n", "X-Forwarded-Host: evil\r\n"),
			get("/plain", "Te: trailers, deflate\r\n", "Accept-Encoding: gzip\r\n", "Cookie: sid=cookie-secret; a=b\r\n", "Authorization: Bearer person-secret\r\n"),
			get("/plain", "Accept: a\r\n", "accept: b\r\n", "User-Agent: one\r\n", "User-Agent: two\r\n", "x-lower-case: v\r\n"),
			get("/plain", "Connection: X-Foo, keep-alive\r\n", "X-Foo: bar\r\n", "Keep-Alive: 300\r\n", "Proxy-Connection: keep-alive\r\n", "Proxy-Authorization: Basic eA==\r\n", "Trailer: X\r\n"),
			get("/plain", "X-Empty:\r\n", "X-Spaces:   padded \t \r\n", "X-Utf8: caf\xc3\xa9\r\n"),
			"GET /plain HTTP/1.1\r\nHost:\r\n\r\n",
			"GET /plain HTTP/1.1\r\nHost: App.Local:8080\r\n\r\n",
		}},
		{name: "person closes", requests: []string{get("/plain", "Connection: close\r\n")}},
		{name: "falls back to net/http", requests: []string{get("/plain"), post, get("/plain"), get("/chunked")}},
		{name: "upgrade falls back", requests: []string{get("/plain"), get("/plain", "Connection: Upgrade\r\n", "Upgrade: h2c\r\n"), get("/plain")}},
		{name: "head too big", requests: []string{get("/plain", "Cookie: c="+strings.Repeat("x", 10<<10)+"\r\n"), get("/plain")}},
		{name: "HTTP/1.0 person", requests: []string{"GET /plain HTTP/1.0\r\nHost: app.local\r\n\r\n"}},
		{name: "no Host", requests: []string{"GET /plain HTTP/1.1\r\n\r\n"}},
		{name: "two Hosts", requests: []string{"GET /plain HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}},
		{name: "malformed field", requests: []string{get("/plain"), "GET /plain HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"}},
		{name: "bare LF", requests: []string{"GET /plain HTTP/1.1\nHost: app.local\n\n"}},
		{name: "Expect", requests: []string{get("/plain", "Expect: 100-continue\r\n")}},
		{name: "odd method", requests: []string{"DELETE /plain HTTP/1.1\r\nHost: app.local\r\n\r\n", get("/plain")}},
		{name: "absolute target", requests: []string{"GET http://app.local/plain HTTP/1.1\r\nHost: app.local\r\n\r\n"}},
	}
}

// withBody is a request with this body and Content-Length.
func withBody(method, path, body string, fields ...string) string {
	return method + " " + path + " HTTP/1.1\r\nHost: app.local\r\n" + strings.Join(fields, "") +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// binaryBody is every byte value, twice.
func binaryBody() string {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

// tenMiB is a 10 MiB body that is not one byte repeated.
var tenMiB = sync.OnceValue(func() string {
	var b strings.Builder
	for i := 0; b.Len() < 10<<20; i++ {
		fmt.Fprintf(&b, "%08x", i)
	}
	return b.String()[:10<<20]
})

// bodyCases are requests with bodies (and the ones without that may have
// one).
func bodyCases() []rawCase {
	form := "Content-Type: application/x-www-form-urlencoded\r\n"
	json := "Content-Type: application/json\r\n"
	big := strings.Repeat("a line of text the capture cuts somewhere. ", 100<<10/40)
	return []rawCase{
		{name: "form post", fast: true, requests: []string{
			withBody("POST", "/plain", "user=ann&password=hunter2&note=two+words%21", form, "User-Agent: t/1\r\n"),
			withBody("POST", "/plain?next=/x", "broken=%zz&a=1", form),
			get("/plain"),
		}},
		{name: "JSON", fast: true, requests: []string{
			withBody("POST", "/json", `{"user":"ann","token":"t-secret","n":[1,2]}`, json, "Accept: application/json\r\n"),
			withBody("PATCH", "/json", `{"op":"replace"}`, "Content-Type: application/merge-patch+json\r\n"),
		}},
		{name: "binary body", fast: true, requests: []string{
			withBody("PUT", "/plain", binaryBody(), "Content-Type: application/octet-stream\r\n"),
			withBody("POST", "/plain", "\x00\x01 no type"),
			withBody("POST", "/gzip", gzipped("hello, gzip"), "Content-Type: text/plain\r\n", "Content-Encoding: gzip\r\n"),
		}},
		{name: "body larger than the cap", fast: true, requests: []string{
			withBody("POST", "/plain", big, "Content-Type: text/plain\r\n"),
			withBody("POST", "/plain", "caf\xc3\xa9 "+big, json),
		}},
		{name: "10 MiB body", fast: true, requests: []string{withBody("PUT", "/big", tenMiB(), "Content-Type: application/octet-stream\r\n"), get("/plain")}},
		{name: "no body", fast: true, requests: []string{
			withBody("POST", "/plain", ""), "POST /plain HTTP/1.1\r\nHost: app.local\r\n\r\n",
			withBody("PUT", "/plain", ""), withBody("PATCH", "/plain", ""), withBody("DELETE", "/plain", ""),
			"DELETE /plain HTTP/1.1\r\nHost: app.local\r\n\r\n", withBody("GET", "/plain", ""), withBody("OPTIONS", "/plain", ""),
			"Post /plain HTTP/1.1\r\nHost: app.local\r\n\r\n",
		}},
		{name: "bodies on other methods", fast: true, requests: []string{
			withBody("DELETE", "/json", `{"id":7}`, json), withBody("GET", "/plain", "q=1", form),
			withBody("PROPFIND", "/plain", "<propfind/>", "Content-Type: application/xml\r\n", "Depth: 1\r\n"),
			"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: 005\r\nContent-Type: text/plain\r\n\r\n12345",
		}},
		{name: "Connection names the body's fields", fast: true, requests: []string{
			withBody("POST", "/plain", "a=1", form, "Connection: Content-Length, Content-Type\r\n"),
			get("/plain"),
		}},
		{name: "person cuts the body", fast: true, errorWords: true, cutBody: true, upstream: 2, requests: []string{
			withBody("POST", "/plain", "whole", "Content-Type: text/plain\r\n"),
			"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly this",
		}},
		{name: "person cuts the body in the head's read", fast: true, errorWords: true, cutBody: true, upstream: 1, requests: []string{
			"PUT /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: 1\r\n\r\n",
		}},
		{name: "pipelined after bodies", fast: true, pipeline: true, requests: []string{
			withBody("POST", "/plain", "first=1", form), get("/json"), withBody("PUT", "/plain", binaryBody()),
			withBody("POST", "/chunked", ""), get("/plain", "Connection: close\r\n"),
		}},
		{name: "upstream closes after a body", fast: true, requests: []string{
			withBody("POST", "/close", "x=1", form), withBody("POST", "/plain", "x=2", form), withBody("POST", "/http10", "x=3", form),
			withBody("POST", "/plain", "x=4", form),
		}},
		{name: "upstream fails a body request", fast: true, errorWords: true, requests: []string{
			withBody("POST", "/garbage", "x=1", form), withBody("POST", "/plain", "x=2", form),
		}},
		{name: "negative Content-Length", requests: []string{get("/plain"), "POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: -1\r\n\r\n"}},
		{name: "non-numeric Content-Length", requests: []string{"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: 1e3\r\n\r\n"}},
		{name: "empty Content-Length", requests: []string{"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length:\r\n\r\nx"}},
		{name: "two different Content-Lengths", requests: []string{"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"}},
		{name: "Content-Length and chunked", requests: []string{"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"}},
		{name: "two equal Content-Lengths fall back", requests: []string{
			"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", withBody("POST", "/plain", "x"),
		}},
		{name: "chunked body falls back", requests: []string{
			withBody("POST", "/plain", "x=1", form),
			"POST /plain HTTP/1.1\r\nHost: app.local\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			withBody("POST", "/plain", "x=2", form),
		}},
		{name: "Expect: 100-continue falls back", requests: []string{
			withBody("POST", "/plain", "x=1", form, "Expect: 100-continue\r\n"), withBody("POST", "/plain", "x=2", form),
		}},
	}
}

// transcript sends c on a new connection to r and writes what came back.
func transcript(t *testing.T, r *rig, c rawCase) string {
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	var out strings.Builder
	if c.pipeline {
		io.WriteString(conn, strings.Join(c.requests, ""))
	}
	if c.pipeline && c.cutBody {
		conn.(*net.TCPConn).CloseWrite()
	}
	for i, req := range c.requests {
		if !c.pipeline {
			io.WriteString(conn, req)
			if c.cutBody && i == len(c.requests)-1 {
				conn.(*net.TCPConn).CloseWrite()
			}
		}
		method, _, _ := strings.Cut(req, " ")
		for {
			resp, err := http.ReadResponse(br, &http.Request{Method: method})
			if err != nil {
				fmt.Fprintf(&out, "no response: %v\n", err != nil)
				return out.String()
			}
			fmt.Fprintf(&out, "%s %s\n", resp.Proto, resp.Status)
			keys := make([]string, 0, len(resp.Header))
			for k := range resp.Header {
				keys = append(keys, k)
			}
			// An empty body of unknown length goes as "Content-Length: 0"
			// or as chunks: net/http's choice depends on whether
			// ReverseProxy's first flush runs before its handler ends.
			emptyCL := resp.ContentLength == 0 && resp.Header.Get("Content-Length") == "0" && method != http.MethodHead
			if emptyCL {
				resp.Header.Del("Content-Length")
				resp.ContentLength = -1
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range resp.Header[k] {
					if k == "Date" || (c.errorWords && resp.StatusCode == http.StatusBadGateway && k == "Content-Length") {
						v = "(now)"
					}
					fmt.Fprintf(&out, "%s: %s\n", k, v)
				}
			}
			if resp.StatusCode < 200 {
				continue
			}
			body, err := io.ReadAll(resp.Body)
			if len(body) == 0 && resp.ContentLength == -1 {
				resp.TransferEncoding = nil // see emptyCL
			}
			shown := fmt.Sprintf("%q", body)
			if c.errorWords && resp.StatusCode == http.StatusBadGateway {
				shown = errorPageHash
			} else if len(body) > 100 {
				shown = fmt.Sprintf("%d bytes, sha256 %s", len(body), sum(body))
			}
			if c.errorWords && resp.StatusCode == http.StatusBadGateway {
				resp.ContentLength = 0
			}
			fmt.Fprintf(&out, "length %d te %v close %v body %s cut %v trailer %v\n", resp.ContentLength, resp.TransferEncoding, resp.Close, shown, err != nil, resp.Trailer)
			if err != nil || resp.Close {
				return out.String()
			}
			break
		}
	}
	return out.String()
}

// errorPageHash stands for a 502 page in transcripts of cases whose
// paths word errors differently.
const errorPageHash = "(an error page)"

// normalized is e without its times and connection number, timings
// reduced to whether they are measured, as JSON. anyConnect: whether a
// new upstream connection was made is not compared (a case with requests
// the net/http path sends through the session's shared transport: it
// reuses other connections than the fast path, which sends everything on
// the person connection's own upstream connection; TestPinnedConnection
// checks that reuse). errorWords: as rawCase.errorWords.
func normalized(e *har.Entry, anyConnect, errorWords bool) string {
	c := *e
	if errorWords {
		if strings.HasPrefix(c.Comment, "error: ") {
			c.Comment = "error: (worded by each path)"
		}
		if c.Response.Status == http.StatusBadGateway {
			c.Response.Content.Text, c.Response.Content.Size, c.Response.BodySize = errorPageHash, 0, 0
		}
	}
	c.StartedDateTime, c.Time, c.T = "", 0, 0
	c.Connection, c.Conn = "", 0 // the rigs number their connections each
	sign := func(v float64) float64 {
		if v < 0 {
			return -1
		}
		return 0
	}
	tm := &c.Timings
	tm.Blocked, tm.DNS, tm.Connect, tm.SSL, tm.Send, tm.Wait, tm.Receive =
		sign(tm.Blocked), sign(tm.DNS), sign(tm.Connect), sign(tm.SSL), sign(tm.Send), sign(tm.Wait), sign(tm.Receive)
	if anyConnect {
		tm.Connect = 0
	}
	b, _ := json.MarshalIndent(&c, "", " ")
	return string(b)
}

// viaSharedTransport reports whether the net/http path sends the request
// of e through the session's shared http.Transport (session.pinnable).
func viaSharedTransport(e *har.Entry) bool {
	if e.Request.BodySize > 0 {
		return true
	}
	for _, h := range e.Request.Headers {
		if h.Name == "Expect" {
			return true
		}
	}
	switch e.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// TestFastPathMatchesNetHTTP sends the same bytes through a session on
// the fast path and one on net/http only, to the same upstream, and checks
// that the upstream got the same bytes, the person the same answers and
// the recording the same entries (but times).
func TestFastPathMatchesNetHTTP(t *testing.T) {
	up := newRawUpstream(t, rawAnswers())
	for _, tc := range []struct {
		name string
		cfg  TargetConfig
	}{
		{"base path and a header", TargetConfig{BasePath: "/base", Headers: map[string]string{"Authorization": "Bearer agent-secret", "X-Forwarded-Proto": "dropped"}}},
		{"host header, basic auth, no user header", TargetConfig{HostHeader: "wiki.example", UserHeader: "-", BasicAuth: &BasicAuth{Username: "svc", Password: "pw"}, BodyCap: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			fast := newRigOf(t, New(Config{Version: "test"}), up.addr, &cfg, &proxytest.Sink{})
			// The same with the person's connection watched from the
			// start of every exchange.
			watched := New(Config{Version: "test"})
			watched.watchAfter = time.Nanosecond
			watching := newRigOf(t, watched, up.addr, &cfg, &proxytest.Sink{})
			// Each against a session of its own on net/http only (the
			// shared transport's pool of idle connections is the
			// session's).
			var slow [2]*rig
			for i := range slow {
				p := New(Config{Version: "test"})
				p.noFast = true
				slow[i] = newRigOf(t, p, up.addr, &cfg, &proxytest.Sink{})
			}
			if fast.sess.(*session).fast == nil || slow[0].sess.(*session).fast != nil {
				t.Fatal("the fast path is not on in one session and off in the other")
			}
			for _, c := range append(rawCases(), bodyCases()...) {
				t.Run(c.name, func(t *testing.T) { compareRigs(t, up, c, fast, slow[0]) })
				t.Run(c.name+" (watched)", func(t *testing.T) { compareRigs(t, up, c, watching, slow[1]) })
			}
			// The fast path's recordings export to valid HAR (the
			// net/http path's are checked by the other tests).
			fast.export()
			watching.export()
		})
	}
}

// compareRigs runs c on fast and on slow and compares the upstream's
// view, the person's and the entries.
func compareRigs(t *testing.T, up *rawUpstream, c rawCase, fast, slow *rig) {
	var gotHeads [2][]string
	var gotText [2]string
	var gotEntries [2][]string
	for i, r := range []*rig{fast, slow} {
		n, before := up.count(), len(r.entries())
		fallbacks := r.sess.(*session).fallbacks.Load()
		gotText[i] = transcript(t, r, c)
		want := len(c.requests)
		if c.entries != 0 {
			want = c.entries
		}
		es := r.waitEntries(before + want)
		// The upstream's reads of this case are done once its entries
		// are, or once it got as many requests as it has to.
		for deadline := time.Now().Add(10 * time.Second); up.count() < n+c.upstream; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the upstream got %d requests, want %d", up.count()-n, c.upstream)
			}
		}
		gotHeads[i] = up.since(n)
		if r == fast && c.fast && r.sess.(*session).fallbacks.Load() != fallbacks {
			t.Errorf("the connection fell back to net/http")
		}
		anyConnect := false
		for _, e := range es[before:] {
			anyConnect = anyConnect || viaSharedTransport(e)
		}
		for _, e := range es[before:] {
			gotEntries[i] = append(gotEntries[i], normalized(e, anyConnect, c.errorWords))
		}
	}
	if gotText[0] != gotText[1] && !c.cut {
		t.Errorf("the person's answers differ:\n%s", firstDiff(gotText[0], gotText[1]))
	}
	if strings.Join(gotHeads[0], "|") != strings.Join(gotHeads[1], "|") {
		t.Errorf("the upstream got\n%q\nfrom the fast path, and\n%q\nfrom net/http", gotHeads[0], gotHeads[1])
	}
	if len(gotEntries[0]) != len(gotEntries[1]) {
		t.Fatalf("%d entries on the fast path, %d on net/http", len(gotEntries[0]), len(gotEntries[1]))
	}
	for j := range gotEntries[0] {
		if gotEntries[0][j] != gotEntries[1][j] {
			t.Errorf("entry %d differs:\n%s", j, firstDiff(gotEntries[0][j], gotEntries[1][j]))
		}
	}
}

// firstDiff shows where the lines of a (fast path) and b (net/http) part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	from := max(i-4, 0)
	part := func(l []string) string { return strings.Join(l[from:min(i+4, len(l))], "\n") }
	return fmt.Sprintf("line %d; fast path:\n%s\nnet/http:\n%s", i+1, part(al), part(bl))
}
