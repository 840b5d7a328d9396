package httpproxy

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/har"
	"github.com/onepam/onepam/recordfmt/har/hartest"
)

// rig is one open HTTP session with a local port in front of it, wired the
// way the CLI and control are: every local connection becomes a
// ServeConn on a fresh loopback connection whose ConnOpenResult frame is
// read before the bytes are spliced.
type rig struct {
	t     testing.TB
	sess  proxy.Session
	rec   *proxytest.Sink
	front *proxytest.Front
	url   string // http://127.0.0.1:PORT
	errs  chan error
}

func newRig(t testing.TB, address string, tc *TargetConfig) *rig {
	t.Helper()
	return newRigTo(t, address, tc, &proxytest.Sink{})
}

// countingSink keeps nothing (benchmarks record without holding it all).
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Write(p []byte) (int, error)  { c.n.Add(int64(len(p))); return len(p), nil }
func (c *countingSink) Finalize(bool) (int64, error) { return c.n.Load(), nil }

func newRigTo(t testing.TB, address string, tc *TargetConfig, sk record.Sink) *rig {
	t.Helper()
	return newRigOf(t, New(Config{Version: "test"}), address, tc, sk)
}

// newRigOf is newRigTo for the proxy p.
func newRigOf(t testing.TB, p *Proxy, address string, tc *TargetConfig, sk record.Sink) *rig {
	t.Helper()
	rec, _ := sk.(*proxytest.Sink)
	info := proxytest.Info(
		api.SessionOpen{SessionID: "sess-1", Type: api.TypeHTTP, Resource: "app", User: "ann", ClientIP: "192.0.2.7:5555"},
		proxy.Target{Name: "app", Address: address, Options: tc}, sk)
	info.Fail = func(err error) { t.Errorf("session failed: %v", err) }
	sess, err := p.Open(context.Background(), info)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	r := &rig{t: t, sess: sess, rec: rec, errs: make(chan error, 100)}
	r.front = proxytest.NewFrontWith(t, sess, "sess-1", proxytest.Hooks{
		Refused: func(_ int64, res api.ConnOpenResult, err error) {
			r.errs <- errors.Join(err, errors.New(res.Error))
		},
		Ended: func(_ int64, err error) {
			if err != nil {
				r.errs <- err
			}
		},
	})
	r.url = "http://" + r.front.Addr
	return r
}

func (r *rig) close() { r.front.Close() }

// entries decodes the recording so far.
func (r *rig) entries() []*har.Entry {
	r.t.Helper()
	h, es, err := har.ReadAll(bytes.NewReader(r.rec.Bytes()))
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
	if err := har.Export(&out, bytes.NewReader(r.rec.Bytes())); err != nil {
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
	return proxytest.Info(
		api.SessionOpen{SessionID: "sess-1", Type: api.TypeHTTP, Resource: "app", User: "ann"},
		proxy.Target{Name: "app", Address: address, Options: tc}, nil)
}
