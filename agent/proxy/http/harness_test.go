package httpproxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/har"
	"github.com/onepam/onepam/recordfmt/har/hartest"
)

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

// rig is one open HTTP session with a local port in front of it, wired the
// way the CLI and control are: every local connection becomes a
// ServeConn on a fresh loopback connection whose ConnOpenResult frame is
// read before the bytes are spliced.
type rig struct {
	t       testing.TB
	sess    proxy.Session
	rec     *sink
	ln      net.Listener
	url     string // http://127.0.0.1:PORT
	conns   atomic.Int64
	serveWG sync.WaitGroup
	errs    chan error
}

func newRig(t testing.TB, address string, tc *TargetConfig) *rig {
	t.Helper()
	return newRigTo(t, address, tc, &sink{})
}

// countingSink keeps nothing (benchmarks record without holding it all).
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Write(p []byte) (int, error)  { c.n.Add(int64(len(p))); return len(p), nil }
func (c *countingSink) Finalize(bool) (int64, error) { return c.n.Load(), nil }

func newRigTo(t testing.TB, address string, tc *TargetConfig, sk record.Sink) *rig {
	t.Helper()
	rec, _ := sk.(*sink)
	info := &proxy.SessionInfo{
		Open:     api.SessionOpen{SessionID: "sess-1", Type: api.TypeHTTP, Resource: "app", User: "ann", ClientIP: "192.0.2.7:5555"},
		Target:   proxy.Target{Name: "app", Type: api.TypeHTTP, Address: address, Options: tc},
		Recorder: record.New(sk, record.FailClosed, nil),
		Logger:   slog.New(slog.DiscardHandler),
		Clock:    time.Now,
		Dial:     (&net.Dialer{}).DialContext,
		Fail:     func(err error) { t.Errorf("session failed: %v", err) },
	}
	sess, err := New(Config{Version: "test"}).Open(context.Background(), info)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, sess: sess, rec: rec, ln: ln, url: "http://" + ln.Addr().String(), errs: make(chan error, 100)}
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *rig) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		id := r.conns.Add(1)
		r.serveWG.Add(1)
		go func() {
			defer r.serveWG.Done()
			r.carry(c, id)
		}()
	}
}

// carry plays control's part for one connection.
func (r *rig) carry(client net.Conn, id int64) {
	a, b, err := tcpPair()
	if err != nil {
		r.errs <- err
		client.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := r.sess.ServeConn(context.Background(), b, api.ConnOpen{SessionID: "sess-1", ConnID: id, ClientAddr: client.RemoteAddr().String()})
		if err != nil {
			r.errs <- err
		}
		b.Close()
	}()
	var res api.ConnOpenResult
	if err := tunnel.ReadFrame(a, &res); err != nil || !res.OK {
		r.errs <- errors.Join(err, errors.New(res.Error))
		client.Close()
		a.Close()
		<-done
		return
	}
	relay.Splice(client, a, nil, nil)
	<-done
}

func tcpPair() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		a.Close()
		return nil, nil, r.err
	}
	return a, r.c, nil
}

func (r *rig) close() {
	r.ln.Close()
	r.sess.Close()
	r.serveWG.Wait()
}

// entries decodes the recording so far.
func (r *rig) entries() []*har.Entry {
	r.t.Helper()
	h, es, err := har.ReadAll(bytes.NewReader(r.rec.bytes()))
	if err != nil {
		r.t.Fatalf("decode recording: %v", err)
	}
	if h.SessionID != "sess-1" || h.Version != har.StoredVersion {
		r.t.Fatalf("header %+v", h)
	}
	return es
}

// waitEntries polls until the recording holds n entries.
func (r *rig) waitEntries(n int) []*har.Entry {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		es := r.entries()
		if len(es) >= n {
			return es
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("recording has %d entries, want %d", len(es), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// export exports the recording and checks it with har-validator.
func (r *rig) export() []byte {
	r.t.Helper()
	var out bytes.Buffer
	if err := har.Export(&out, bytes.NewReader(r.rec.bytes())); err != nil {
		r.t.Fatalf("export: %v", err)
	}
	hartest.Validate(r.t, out.Bytes())
	return out.Bytes()
}

// client is a Go HTTP client that never follows redirects.
func client() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}
}

func testInfo(address string, tc *TargetConfig) *proxy.SessionInfo {
	return &proxy.SessionInfo{
		Open:     api.SessionOpen{SessionID: "sess-1", Type: api.TypeHTTP, Resource: "app", User: "ann"},
		Target:   proxy.Target{Name: "app", Type: api.TypeHTTP, Address: address, Options: tc},
		Recorder: record.Discard(),
		Logger:   slog.New(slog.DiscardHandler),
		Clock:    time.Now,
		Dial:     (&net.Dialer{}).DialContext,
		Fail:     func(error) {},
	}
}
