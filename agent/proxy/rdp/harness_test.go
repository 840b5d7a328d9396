package rdp

import (
	"bytes"
	"context"
	"image"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// requirePeer skips the test when prog is missing (fails under CI=true).
func requirePeer(t testing.TB, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("peer program %s is missing", prog)
		}
		t.Skipf("peer program %s is missing", prog)
	}
	return p
}

// sink is an in-memory recording sink.
type sink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *sink) Finalize(bool) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.buf.Len()), nil
}

func (s *sink) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.buf.Bytes()...)
}

// harness is one open session and a listener that hands every client
// connection to ServeConn the way the agent does.
type harness struct {
	sess   proxy.Session
	rec    *sink
	addr   string // RDP clients connect here
	failed atomic.Value
	errs   chan error // ServeConn results
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func openSession(t testing.TB, cfg Config, addr string, tc *TargetConfig) (*harness, error) {
	t.Helper()
	h := &harness{rec: &sink{}, errs: make(chan error, 16)}
	logger := testLogger()
	info := &proxy.SessionInfo{
		Open:     api.SessionOpen{SessionID: "s-test", Type: api.TypeRDP, Resource: "win", User: "alice"},
		Target:   proxy.Target{Name: "win", Type: api.TypeRDP, Address: addr, Options: tc},
		Recorder: record.New(h.rec, record.FailClosed, logger),
		Logger:   logger,
		Clock:    time.Now,
		Dial:     (&net.Dialer{}).DialContext,
		Fail:     func(err error) { h.failed.Store(err) },
	}
	sess, err := New(cfg).Open(context.Background(), info)
	if err != nil {
		return nil, err
	}
	h.sess = sess
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = l.Addr().String()
	var id atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go h.carry(t, c, id.Add(1))
		}
	}()
	t.Cleanup(func() { l.Close(); sess.Close() })
	return h, nil
}

// carry connects a client to a ServeConn call through a loopback pair.
func (h *harness) carry(t testing.TB, client net.Conn, id int64) {
	a, b := tcpPair(t)
	go func() {
		err := h.sess.ServeConn(context.Background(), a, api.ConnOpen{SessionID: "s-test", ConnID: id, ClientAddr: client.RemoteAddr().String()})
		a.Close()
		h.errs <- err
	}()
	var res api.ConnOpenResult
	if err := tunnel.ReadFrame(b, &res); err != nil || !res.OK {
		client.Close()
		b.Close()
		return
	}
	relay.Splice(client, b, nil, nil)
}

func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return a, <-ch
}

// finish closes the session and returns a player of its recording.
func (h *harness) finish(t testing.TB) *deskproto.Player {
	t.Helper()
	if err := h.sess.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err, _ := h.failed.Load().(error); err != nil {
		t.Fatalf("the session failed: %v", err)
	}
	data := h.rec.bytes()
	p, err := deskproto.NewPlayer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Complete() {
		t.Fatalf("recording incomplete: %v", p.Cut())
	}
	return p
}

// events decodes every event of a recording so far.
func events(t testing.TB, data []byte) []deskproto.Event {
	t.Helper()
	d, err := deskproto.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var evs []deskproto.Event
	for {
		ev, err := d.Next()
		if err != nil {
			return evs // io.EOF, or a cut in the middle of a live recording
		}
		ev.Pix = nil
		evs = append(evs, ev)
	}
}

// lastFrame renders the end of a recording.
func lastFrame(t testing.TB, p *deskproto.Player) *image.RGBA {
	t.Helper()
	img, err := p.Frame(p.Duration())
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// poll waits for cond, failing after 30 s.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
