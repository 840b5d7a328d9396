package httpproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
)

// heldUpstream reads one request head per connection and answers it only
// when release is closed; gotten gets each head, ended each connection's
// end.
type heldUpstream struct {
	addr    string
	gotten  chan string
	ended   chan struct{}
	release chan struct{}
}

func newHeldUpstream(t *testing.T) *heldUpstream {
	u := &heldUpstream{gotten: make(chan string, 10), ended: make(chan struct{}, 10), release: make(chan struct{})}
	u.addr = proxytest.ServeTCP(t, func(c net.Conn) {
		defer func() {
			c.Close()
			u.ended <- struct{}{}
		}()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			u.gotten <- req.URL.Path
			select {
			case <-u.release:
			case <-t.Context().Done():
				return
			}
			body := "answer to " + req.URL.Path
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body); err != nil {
				return
			}
		}
	})
	return u
}

func itoa(n int) string { return formatInt(int64(n)) }

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
	}
	panic("unreachable")
}

// TestFastPathPersonLeaves checks that a person closing the connection
// while the upstream has not answered yet cuts the exchange: its upstream
// connection is closed and the entry says why.
func TestFastPathPersonLeaves(t *testing.T) {
	up := newHeldUpstream(t)
	r := newRigTo(t, up.addr, &TargetConfig{}, &proxytest.Sink{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	receive(t, up.gotten, "request upstream")
	conn.Close()
	receive(t, up.ended, "end of the upstream connection")
	e := r.waitEntries(1)[0]
	if e.Response.Status != 0 || !strings.Contains(e.Comment, errPersonGone.Error()) {
		t.Fatalf("entry: status %d comment %q", e.Response.Status, e.Comment)
	}
	r.export()
}

// TestFastPathNextRequestDuringSlowAnswer checks that a request sent
// while the previous answer is slow (the connection is being watched) is
// served after it.
func TestFastPathNextRequestDuringSlowAnswer(t *testing.T) {
	up := newHeldUpstream(t)
	p := New(Config{Version: "test"})
	p.watchAfter = time.Nanosecond
	r := newRigOf(t, p, up.addr, &TargetConfig{}, &proxytest.Sink{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	receive(t, up.gotten, "first request upstream")
	io.WriteString(conn, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	close(up.release)
	br := bufio.NewReader(conn)
	for _, want := range []string{"answer to /first", "answer to /second"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Fatalf("answer %q, want %q", b, want)
		}
	}
	if path := receive(t, up.gotten, "second request upstream"); path != "/second" {
		t.Fatalf("second request for %s", path)
	}
	es := r.waitEntries(2)
	if es[0].Comment != "" || es[1].Comment != "" || es[1].Timings.Connect != -1 {
		t.Fatalf("entries: %q %q, second connect %v", es[0].Comment, es[1].Comment, es[1].Timings.Connect)
	}
}

// TestFastPathIdleTimeout checks that a connection idle between requests
// for IdleTimeout is closed.
func TestFastPathIdleTimeout(t *testing.T) {
	up := newRawUpstream(t, rawAnswers())
	r := newRigOf(t, New(Config{Version: "test", IdleTimeout: 200 * time.Millisecond}), up.addr, &TargetConfig{}, &proxytest.Sink{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, get("/plain"))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read on an idle connection: %v, want EOF", err)
	}
}
