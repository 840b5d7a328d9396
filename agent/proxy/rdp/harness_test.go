package rdp

import (
	"bytes"
	"context"
	"image"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// harness is one open session and a listener that hands every client
// connection to ServeConn the way the agent does.
type harness struct {
	sess   proxy.Session
	rec    *proxytest.Sink
	addr   string // RDP clients connect here
	failed atomic.Value
	errs   chan error // ServeConn results
}

func openSession(t testing.TB, cfg Config, addr string, tc *TargetConfig) (*harness, error) {
	t.Helper()
	h := &harness{rec: &proxytest.Sink{}, errs: make(chan error, 256)}
	logger := proxytest.Logger()
	info := proxytest.Info(
		api.SessionOpen{SessionID: "s-test", Type: api.TypeRDP, Resource: "win", User: "alice"},
		proxy.Target{Name: "win", Address: addr, Options: tc}, nil)
	info.Recorder = record.New(h.rec, record.FailClosed, logger)
	info.Logger = logger
	info.Fail = func(err error) { h.failed.Store(err) }
	sess, err := New(cfg).Open(context.Background(), info)
	if err != nil {
		return nil, err
	}
	h.sess = sess
	f := proxytest.NewFront(t, sess, "s-test")
	f.Ended = func(_ int64, err error) {
		select {
		case h.errs <- err:
		default:
		}
	}
	h.addr = f.Addr
	return h, nil
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
	data := h.rec.Bytes()
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
	proxytest.Poll(t, what, 30*time.Second, cond)
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
