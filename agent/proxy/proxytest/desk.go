package proxytest

import (
	"bytes"
	"context"
	"image"
	"io"
	"sync/atomic"
	"testing"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Desk is an open desktop session (a proxy recording deskproto: vnc,
// rdp) behind a Front, as the agent drives it.
type Desk struct {
	Sess proxy.Session
	Rec  *Sink
	Addr string     // clients (viewers) connect here
	Errs chan error // ServeConn results, in order; later ones are dropped past 256 unread

	failed atomic.Value // the error the session reported through Fail
}

// OpenDesk opens a session of p for open and target (recording
// fail-closed into Rec, logging with Logger) and puts a Front before it.
// The Open error is returned as is, for tests of refused sessions.
func OpenDesk(t testing.TB, p proxy.Proxy, open api.SessionOpen, target proxy.Target) (*Desk, error) {
	t.Helper()
	d := &Desk{Rec: &Sink{}, Errs: make(chan error, 256)}
	logger := Logger()
	info := Info(open, target, nil)
	info.Recorder = record.New(d.Rec, record.FailClosed, logger)
	info.Logger = logger
	info.Fail = func(err error) { d.failed.Store(err) }
	sess, err := p.Open(context.Background(), info)
	if err != nil {
		return nil, err
	}
	d.Sess = sess
	f := NewFrontWith(t, sess, open.SessionID, Hooks{Ended: func(_ int64, err error) {
		select {
		case d.Errs <- err:
		default:
		}
	}})
	d.Addr = f.Addr
	return d, nil
}

// Finish closes the session, checks that it did not fail and returns a
// player of its recording, which must be complete.
func (d *Desk) Finish(t testing.TB) *deskproto.Player {
	t.Helper()
	if err := d.Sess.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err, _ := d.failed.Load().(error); err != nil {
		t.Fatalf("the session failed: %v", err)
	}
	data := d.Rec.Bytes()
	p, err := deskproto.NewPlayer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Complete() {
		t.Fatalf("recording incomplete: %v", p.Cut())
	}
	return p
}

// DeskEvents decodes every event of a desktop recording (pixels
// dropped). With live, a decoding error ends the list (a recording cut
// mid-event while it is written); otherwise it fails the test.
func DeskEvents(t testing.TB, data []byte, live bool) []deskproto.Event {
	t.Helper()
	d, err := deskproto.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var evs []deskproto.Event
	for {
		ev, err := d.Next()
		if err == io.EOF || (err != nil && live) {
			return evs
		}
		if err != nil {
			t.Fatal(err)
		}
		ev.Pix = nil
		evs = append(evs, ev)
	}
}

// LastFrame renders the end of a desktop recording.
func LastFrame(t testing.TB, p *deskproto.Player) *image.RGBA {
	t.Helper()
	img, err := p.Frame(p.Duration())
	if err != nil {
		t.Fatal(err)
	}
	return img
}
