package httpproxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/pkg/api"
)

// countingUpstream reads each request's body, counting its bytes as they
// come (received) and hashing them, and answers with the count and the
// hash; a body cut short is reported on cut.
type countingUpstream struct {
	addr     string
	received atomic.Int64
	cut      chan string
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{cut: make(chan string, 10)}
	u.addr = proxytest.ServeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			h := sha256.New()
			buf := make([]byte, 64<<10)
			var n int64
			for n < req.ContentLength {
				k, err := req.Body.Read(buf)
				h.Write(buf[:k])
				n += int64(k)
				u.received.Add(int64(k))
				if err != nil {
					break
				}
			}
			if n < req.ContentLength {
				u.cut <- fmt.Sprintf("%s %s: %d of %d bytes", req.Method, req.URL.Path, n, req.ContentLength)
				return
			}
			answer := fmt.Sprintf("%d %x", n, h.Sum(nil))
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
		}
	})
	return u
}

// dialRig opens a person connection to r.
func dialRig(t *testing.T, r *rig) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return conn, bufio.NewReader(conn)
}

// readAnswer reads one response and its body.
func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	return resp, string(b)
}

// TestFastPathStreamsBody checks that a 10 MiB request body streams
// through the fast path: the upstream gets its first MiB while the person
// has sent only 2, the whole body arrives unchanged, the entry keeps the
// capped capture, and the connection stays on the fast path.
func TestFastPathStreamsBody(t *testing.T) {
	up := newCountingUpstream(t)
	r := newRigTo(t, up.addr, &TargetConfig{}, &proxytest.Sink{})
	conn, br := dialRig(t, r)
	body := make([]byte, 10<<20)
	for i := range body {
		body[i] = byte(i * 7 % 251)
	}
	io.WriteString(conn, "PUT /upload HTTP/1.1\r\nHost: app.local\r\nContent-Type: application/octet-stream\r\nContent-Length: 10485760\r\n\r\n")
	if _, err := conn.Write(body[:2<<20]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); up.received.Load() < 1<<20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream got %d bytes of the body while the person sent 2 MiB: it is not streamed", up.received.Load())
		}
	}
	if _, err := conn.Write(body[2<<20:]); err != nil {
		t.Fatal(err)
	}
	resp, got := readAnswer(t, br, "PUT")
	if want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body)); resp.StatusCode != 200 || got != want {
		t.Fatalf("upstream answered %d %q, want %q", resp.StatusCode, got, want)
	}
	io.WriteString(conn, withBody("POST", "/next", "a=1", "Content-Type: application/x-www-form-urlencoded\r\n"))
	if _, got := readAnswer(t, br, "POST"); got != fmt.Sprintf("3 %x", sha256.Sum256([]byte("a=1"))) {
		t.Fatalf("next request: %q", got)
	}
	es := r.waitEntries(2)
	e := es[0]
	p := e.Request.PostData
	if e.Request.BodySize != 10<<20 || p == nil || p.Comment != "body truncated: 65536 of 10485760 bytes recorded" ||
		e.Comment != "request body truncated: 65536 of 10485760 bytes recorded" {
		t.Fatalf("entry: bodySize %d postData %v comment %q", e.Request.BodySize, p != nil, e.Comment)
	}
	if kept, err := base64.StdEncoding.DecodeString(p.Text); p.Encoding != "base64" || err != nil || !bytes.Equal(kept, body[:64<<10]) {
		t.Fatalf("postData: encoding %q, %d bytes (%v), not the body's first 64 KiB", p.Encoding, len(kept), err)
	}
	if p := es[1].Request.PostData; p == nil || len(p.Params) != 1 || p.Params[0].Name != "a" || p.Params[0].Value != "1" {
		t.Fatalf("second entry's postData %+v", p)
	}
	if n := r.sess.(*session).fallbacks.Load(); n != 0 {
		t.Fatalf("%d connections fell back to net/http", n)
	}
	r.export()
}

// TestFastPathBodyCut checks a person connection that ends inside a
// request body: the upstream gets a short request (its connection ends),
// the entry records the error and what was sent, and another person
// connection of the session goes on.
func TestFastPathBodyCut(t *testing.T) {
	up := newCountingUpstream(t)
	r := newRigTo(t, up.addr, &TargetConfig{}, &proxytest.Sink{})
	other, otherBr := dialRig(t, r)
	io.WriteString(other, get("/first"))
	readAnswer(t, otherBr, "GET")

	conn, _ := dialRig(t, r)
	io.WriteString(conn, "POST /cut HTTP/1.1\r\nHost: app.local\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789")
	// The upstream has the start of the body before the person leaves.
	for deadline := time.Now().Add(10 * time.Second); up.received.Load() < 10; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upstream never got the start of the body")
		}
	}
	conn.Close()
	if got := receive(t, up.cut, "short request upstream"); got != "POST /cut: 10 of 100 bytes" {
		t.Fatalf("upstream got %s", got)
	}
	es := r.waitEntries(2) // in either order: the GET's is recorded after its answer
	e := es[1]
	if e.Request.Method != http.MethodPost {
		e = es[0]
	}
	if e.Request.Method != http.MethodPost || e.Response.Status != 0 || !strings.Contains(e.Comment, errBodyCut.Error()) || e.Request.BodySize != 10 ||
		e.Request.PostData == nil || e.Request.PostData.Text != "0123456789" {
		t.Fatalf("entry: status %d comment %q bodySize %d postData %+v", e.Response.Status, e.Comment, e.Request.BodySize, e.Request.PostData)
	}
	io.WriteString(other, get("/second"))
	if resp, _ := readAnswer(t, otherBr, "GET"); resp.StatusCode != 200 {
		t.Fatalf("the other connection got %d", resp.StatusCode)
	}
	r.export()
}

// TestPinnedStale checks the peek at an idle upstream connection: fresh
// while the upstream is quiet, stale once it sent something unasked or
// closed it.
func TestPinnedStale(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name string
		do   func(net.Conn)
	}{
		{"unasked bytes", func(c net.Conn) { io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\n\r\n") }},
		{"closed", func(c net.Conn) { c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{p: New(Config{}), info: testInfo(ln.Addr().String(), &TargetConfig{})}
			cc := newClientConn(s, nil, api.ConnOpen{}, func() {})
			p := &cc.pin
			if err := p.open(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer p.drop()
			peer, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			if p.stale() {
				t.Fatal("a quiet connection is stale")
			}
			tc.do(peer)
			for deadline := time.Now().Add(10 * time.Second); !p.stale(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("never stale")
				}
			}
		})
	}
}

// TestFastPathEarlyAnswer checks an upstream that answers before it read
// the body and closes the connection: the person gets its answer with
// Connection: close (the rest of the body is not read), and the entry
// records it.
func TestFastPathEarlyAnswer(t *testing.T) {
	addr := proxytest.ServeTCP(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n")
	})
	r := newRigTo(t, addr, &TargetConfig{}, &proxytest.Sink{})
	conn, br := dialRig(t, r)
	io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: app.local\r\nContent-Length: 104857600\r\n\r\n")
	// The person sends until the proxy stops reading (it answered and
	// closed the connection).
	sent := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for n := 0; n < 100<<20; n += len(chunk) {
			if _, err := conn.Write(chunk); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	resp, got := readAnswer(t, br, "POST")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || got != "too big\n" || !resp.Close {
		t.Fatalf("answer %d %q close %v", resp.StatusCode, got, resp.Close)
	}
	if err := receive(t, sent, "end of the upload"); err == nil {
		t.Fatal("the proxy read all 100 MiB of a body the upstream did not want")
	}
	e := r.waitEntries(1)[0]
	if e.Response.Status != http.StatusRequestEntityTooLarge || e.Request.BodySize >= 100<<20 {
		t.Fatalf("entry: status %d bodySize %d comment %q", e.Response.Status, e.Request.BodySize, e.Comment)
	}
	r.export()
}
