package httpproxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter is an upstream that counts the connections it accepted and
// can close each connection after its response.
type connCounter struct {
	srv   *httptest.Server
	conns atomic.Int64
	// closeAfter makes the upstream drop the connection, without saying
	// so, after each response (an idle connection it timed out).
	closeAfter atomic.Bool
	mu         sync.Mutex
	remotes    map[string]bool
}

func newConnCounter(t *testing.T) *connCounter {
	u := &connCounter{remotes: map[string]bool{}}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.remotes[r.RemoteAddr] = true
		u.mu.Unlock()
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
			return
		case "/hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		body := r.Method + " " + r.URL.Path + "\n"
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
		if u.closeAfter.Load() {
			http.NewResponseController(w).Flush()
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		}
	}))
	u.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

// TestPinnedConnection checks the pinned upstream connection of a person
// connection: reused for body-less requests, dialled again when the
// upstream closed it (the request is sent again), when the upstream says
// Connection: close; requests with a body use it too (on the fast path).
func TestPinnedConnection(t *testing.T) {
	up := newConnCounter(t)
	r := newRig(t, hostOf(up.srv), &TargetConfig{})
	// Open's probe is a connection too: wait until the upstream has
	// counted it (it may accept it after Open returned).
	for deadline := time.Now().Add(10 * time.Second); up.conns.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upstream never saw the probe")
		}
	}
	c := client()
	do := func(t *testing.T, method, path string, body io.Reader) string {
		t.Helper()
		req, _ := http.NewRequest(method, r.url+path, body)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: status %d", method, path, resp.StatusCode)
		}
		return string(b)
	}
	entries := 0
	for _, tc := range []struct {
		name      string
		run       func(t *testing.T)
		requests  int
		newConns  int64
		lastReuse bool // the last entry's request went on a reused connection
	}{
		{"keep-alive GETs share one upstream connection", func(t *testing.T) {
			for range 5 {
				if got := do(t, "GET", "/a", nil); got != "GET /a\n" {
					t.Fatalf("body %q", got)
				}
			}
		}, 5, 1, true},
		{"HEAD and an empty 204 keep it", func(t *testing.T) {
			do(t, "HEAD", "/a", nil)
			do(t, "GET", "/empty", nil)
			do(t, "OPTIONS", "/a", nil)
		}, 3, 0, true},
		{"a 103 before the answer keeps it", func(t *testing.T) {
			if got := do(t, "GET", "/hints", nil); got != "GET /hints\n" {
				t.Fatalf("body %q", got)
			}
		}, 1, 0, true},
		{"the upstream closes idle connections: the GET is sent again on a new one", func(t *testing.T) {
			up.closeAfter.Store(true)
			do(t, "GET", "/a", nil) // on the open connection, which the upstream then drops
			up.closeAfter.Store(false)
			if got := do(t, "GET", "/b", nil); got != "GET /b\n" {
				t.Fatalf("body %q", got)
			}
		}, 2, 1, false},
		{"Connection: close from the upstream", func(t *testing.T) {
			do(t, "GET", "/close", nil)
			do(t, "GET", "/a", nil)
		}, 2, 1, false},
		{"requests with bodies keep it too", func(t *testing.T) {
			for _, m := range []string{"POST", "PUT", "DELETE"} {
				if got := do(t, m, "/p", strings.NewReader("x=1")); got != m+" /p\n" {
					t.Fatalf("body %q", got)
				}
			}
		}, 3, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.conns.Load()
			tc.run(t)
			entries += tc.requests
			es := r.waitEntries(entries)
			if got := up.conns.Load() - before; got != tc.newConns {
				t.Errorf("%d new upstream connections, want %d", got, tc.newConns)
			}
			last := es[entries-1]
			if reused := last.Timings.Connect == -1; reused != tc.lastReuse {
				t.Errorf("last entry reused a connection: %v, want %v (timings %+v)", reused, tc.lastReuse, last.Timings)
			}
			if last.ServerIPAddress != "127.0.0.1" || last.Response.Status/100 != 2 {
				t.Errorf("last entry: server %q status %d", last.ServerIPAddress, last.Response.Status)
			}
		})
	}
	if r.front.Conns() != 1 {
		t.Fatalf("the client used %d connections, want 1", r.front.Conns())
	}
	r.export()
}

// TestPinnedCutDownload checks that a person connection closed in the
// middle of a download closes the pinned upstream connection (it is not
// read to its end: the upstream's writes fail) and that the entry says the
// response was cut.
func TestPinnedCutDownload(t *testing.T) {
	ended := make(chan error, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1073741824")
		buf := make([]byte, 32<<10)
		for n := 0; n < 1<<30; n += len(buf) {
			if _, err := w.Write(buf); err != nil {
				ended <- err
				return
			}
		}
		ended <- nil
	}))
	t.Cleanup(up.Close)
	r := newRig(t, hostOf(up), &TargetConfig{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := io.CopyN(io.Discard, conn, 1<<20); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the upstream sent the whole GiB: the pinned connection was read to its end")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream is still sending 30 s after the person left")
	}
	e := r.waitEntries(1)[0]
	if !strings.Contains(e.Comment, "error") || e.Response.BodySize >= 1<<30 || e.Response.Status != 200 {
		t.Fatalf("cut entry: status %d bodySize %d comment %q", e.Response.Status, e.Response.BodySize, e.Comment)
	}
	r.export()
}
