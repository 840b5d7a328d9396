package spool

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/agent/agenttest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/container"
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

// innerOf decodes what control holds (a cut container decodes its complete
// frames).
func innerOf(t *testing.T, r agenttest.Recording) []byte {
	t.Helper()
	b, err := r.Inner()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadResumesAtControlsOffset(t *testing.T) {
	tests := []struct {
		name    string
		control func(file []byte) []byte // what control already holds
	}{
		{"a piece boundary", func(f []byte) []byte { return f[:pieceEnd(t, f, 3<<19)] }},
		{"inside a piece", func(f []byte) []byte { return f[:3<<19] }},
		{"an older version of the last frame", func(f []byte) []byte {
			b := append([]byte(nil), f[:3<<19]...)
			b[len(b)-1] ^= 1
			return b
		}},
		{"more than the spool", func(f []byte) []byte { return append(append([]byte(nil), f...), "junk"...) }},
		{"everything", func(f []byte) []byte { return f }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
			file, err := os.ReadFile(filepath.Join(dir, "resume.connlog.oprec"))
			if err != nil {
				t.Fatal(err)
			}
			srv := newTestServer(t)
			srv.SetRecording("resume", agenttest.Recording{Format: api.FormatConnlog, Data: tt.control(file)})

			u := NewUploader(s, UploaderConfig{})
			rec, _ := s.Get("resume")
			if err := u.Upload(ctxFor(t, 20*time.Second), link(t, srv), rec); err != nil {
				t.Fatal(err)
			}
			got, _ := srv.Recording("resume")
			if !got.Final || !bytes.Equal(got.Data, file) {
				t.Fatalf("control holds %d bytes final=%v, want %d final", len(got.Data), got.Final, len(file))
			}
			if _, ok := s.Get("resume"); ok {
				t.Fatal("recording still spooled after the final ack")
			}
		})
	}
}

// pieceEnd returns the end of the container piece holding byte off-1.
func pieceEnd(t *testing.T, file []byte, off int) int {
	t.Helper()
	rd, err := container.Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rd.Frames() {
		if end := int(f.Offset) + container.FrameHeaderSize + f.CompLen; end >= off {
			return end
		}
	}
	t.Fatal("offset beyond the frames")
	return 0
}

func TestUploadStreamsLiveAndDeletesWhenAcknowledged(t *testing.T) {
	s := openSpool(t, t.TempDir())
	srv := newTestServer(t)
	u := NewUploader(s, UploaderConfig{TailInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, link(t, srv)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	w, err := s.Create("live", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 5 {
		line := []byte(`{"t":` + string(rune('0'+i)) + `,"event":"open","conn":1}` + "\n")
		w.Write(line)
		want = append(want, line...)
		// Control sees the bytes while the session still runs: the open
		// frame is re-sent as it grows.
		if err := srv.WaitFor(ctxFor(t, 10*time.Second), func() bool {
			r, ok := srv.Recording("live")
			return ok && !r.Final && bytes.Equal(innerOf(t, r), want)
		}); err != nil {
			t.Fatalf("line %d not uploaded before the end", i)
		}
	}
	if _, err := w.Finalize(false); err != nil {
		t.Fatal(err)
	}
	r, err := srv.WaitRecording(ctxFor(t, 10*time.Second), "live")
	if err != nil {
		t.Fatal(err)
	}
	if got := innerOf(t, r); !bytes.Equal(got, want) {
		t.Fatalf("control holds %q, want %q", got, want)
	}
	rep, err := container.Verify(bytes.NewReader(r.Data), int64(len(r.Data)), testSigner.Public().(ed25519.PublicKey))
	if err != nil || rep.Status != container.StatusOK {
		t.Fatalf("verify %+v %v", rep, err)
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
	if got := innerOf(t, r); !bytes.Equal(got, data) {
		t.Fatalf("control holds %d bytes, want %d", len(got), len(data))
	}
}

// TestUploadGathersSmallFrames: a bulk session closes many small frames
// (64 KiB of NUL bytes compresses to a few bytes) in quick succession; the
// uploader gathers them into chunks at most every ChunkInterval instead of
// sending one chunk per frame, and control still gets every byte.
func TestUploadGathersSmallFrames(t *testing.T) {
	s := openSpool(t, t.TempDir())
	srv := newTestServer(t)
	u := NewUploader(s, UploaderConfig{ChunkInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx, link(t, srv)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	w, err := s.Create("bulk", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 16<<10)
	const frames = 400 // 64 KiB each
	start := time.Now()
	for range frames * 4 {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	writing := time.Since(start)
	if _, err := w.Finalize(false); err != nil {
		t.Fatal(err)
	}
	r, err := srv.WaitRecording(ctxFor(t, 10*time.Second), "bulk")
	if err != nil {
		t.Fatal(err)
	}
	if got := innerOf(t, r); len(got) != frames*64<<10 || !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatalf("control holds %d inner bytes, want %d NUL bytes", len(got), frames*64<<10)
	}
	// At most one chunk per interval while writing, plus the ones at the
	// end (remaining frames, the trailer, the final mark).
	if most := int(writing/(200*time.Millisecond)) + 4; r.Chunks > most {
		t.Fatalf("%d frames went up in %d chunks over %s of writing, want at most %d", frames, r.Chunks, writing, most)
	}
}
