package spool

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/agent/agenttest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// link connects a yamux client (the agent side) to the agenttest server's
// stream handler over a real loopback TCP connection.
func link(t *testing.T, srv *agenttest.Server) *yamux.Session {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc := <-accepted
	server, err := tunnel.Server(sc)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			st, err := server.Accept()
			if err != nil {
				return
			}
			go srv.ServeStream(st)
		}
	}()
	client, err := tunnel.Client(cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client
}

func newTestServer(t *testing.T) *agenttest.Server {
	srv, err := agenttest.NewServer(agenttest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestUploadResumesAtControlsOffset(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	w, err := s.Create("resume", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(3<<20 + 17) // several chunks
	w.Write(data)
	if _, err := w.Finalize(false); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t)
	// Control already holds the first 1.5 MiB from an earlier link.
	srv.SetRecording("resume", agenttest.Recording{Format: api.FormatConnlog, Data: data[:3<<19]})

	u := NewUploader(s, UploaderConfig{})
	rec, _ := s.Get("resume")
	if err := u.Upload(ctxFor(t, 20*time.Second), link(t, srv), rec); err != nil {
		t.Fatal(err)
	}
	got, _ := srv.Recording("resume")
	if !got.Final || !bytes.Equal(got.Data, data) {
		t.Fatalf("control holds %d bytes final=%v, want %d final", len(got.Data), got.Final, len(data))
	}
	if _, ok := s.Get("resume"); ok {
		t.Fatal("recording still spooled after the final ack")
	}
}

func TestUploadStreamsLiveAndDeletesWhenAcknowledged(t *testing.T) {
	s := openSpool(t, t.TempDir())
	srv := newTestServer(t)
	u := NewUploader(s, UploaderConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, link(t, srv)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	w, err := s.Create("live", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	first := []byte(`{"t":0,"event":"open","conn":1}` + "\n")
	w.Write(first)
	// Control sees the bytes while the session still runs.
	if err := srv.WaitFor(ctxFor(t, 10*time.Second), func() bool {
		r, ok := srv.Recording("live")
		return ok && bytes.Equal(r.Data, first) && !r.Final
	}); err != nil {
		t.Fatal("live bytes not uploaded before the end")
	}
	second := []byte(`{"t":1,"event":"close","conn":1}` + "\n")
	w.Write(second)
	if _, err := w.Finalize(false); err != nil {
		t.Fatal(err)
	}
	r, err := srv.WaitRecording(ctxFor(t, 10*time.Second), "live")
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{}, first...), second...); !bytes.Equal(r.Data, want) {
		t.Fatalf("control holds %q, want %q", r.Data, want)
	}
	if err := srv.WaitFor(ctxFor(t, 10*time.Second), func() bool { _, ok := s.Get("live"); return !ok }); err != nil {
		t.Fatal("recording still spooled after the final ack")
	}
}

func TestUploadSurvivesControlGoingAway(t *testing.T) {
	s := openSpool(t, t.TempDir())
	w, _ := s.Create("away", api.FormatConnlog)
	data := randomBytes(2 << 20)
	w.Write(data)
	w.Finalize(true)
	srv := newTestServer(t)
	srv.HoldAcks(true) // control stalls: nothing is acknowledged

	u := NewUploader(s, UploaderConfig{RetryDelay: 10 * time.Millisecond})
	l1 := link(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, l1); close(done) }()
	if err := srv.WaitFor(ctxFor(t, 10*time.Second), func() bool {
		r, ok := srv.Recording("away")
		return ok && r.Uploads >= 1
	}); err != nil {
		t.Fatal("upload never started")
	}
	l1.Close() // the link drops mid-upload
	cancel()
	<-done
	if _, ok := s.Get("away"); !ok {
		t.Fatal("recording deleted without an acknowledgement")
	}

	srv.HoldAcks(false)
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { u.Run(ctx2, link(t, srv)); close(done2) }()
	t.Cleanup(func() { cancel2(); <-done2 })
	r, err := srv.WaitRecording(ctxFor(t, 10*time.Second), "away")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, data) {
		t.Fatalf("control holds %d bytes, want %d", len(r.Data), len(data))
	}
}
