package httpproxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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
// request's path, and keeps every request head it got.
type rawUpstream struct {
	ln      net.Listener
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, addr: ln.Addr().String(), answers: answers}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				u.serve(c)
			}()
		}
	}()
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
		u.mu.Lock()
		u.heads = append(u.heads, h)
		u.mu.Unlock()
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(h)))
		if err != nil {
			return
		}
		if req.ContentLength > 0 {
			io.CopyN(io.Discard, br, req.ContentLength)
		}
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
	for _, req := range c.requests {
		if !c.pipeline {
			io.WriteString(conn, req)
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
					if k == "Date" {
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
			if len(body) > 100 {
				shown = fmt.Sprintf("%d bytes, sha256 %s", len(body), sum(body))
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

// normalized is e without its times and connection number, timings
// reduced to whether they are measured, as JSON.
func normalized(e *har.Entry) string {
	c := *e
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
	b, _ := json.MarshalIndent(&c, "", " ")
	return string(b)
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
			for _, c := range rawCases() {
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
		gotText[i] = transcript(t, r, c)
		want := len(c.requests)
		if c.entries != 0 {
			want = c.entries
		}
		es := r.waitEntries(before + want)
		// The upstream's reads of this case are done once
		// its entries are.
		gotHeads[i] = up.since(n)
		for _, e := range es[before:] {
			gotEntries[i] = append(gotEntries[i], normalized(e))
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
