package agentgw_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/onepam/onepam/control/agentgw/agentgwtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/container"
)

// recordingData returns n bytes of plausible recording data.
func recordingData(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"t":%d,"event":"open","conn":%d,"peer":"127.0.0.1:%d"}`+"\n", i, i, 40000+i)
	}
	return b.Bytes()[:n]
}

func TestRecordingUploadResumes(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	a := e.connect(e.enroll("rec"))
	sid := e.session("rec")
	data := recordingData(300_000)

	// First stream: two chunks acknowledged, a third sent whose ack is
	// never read, then the stream is dropped.
	u, err := a.OpenRecording(ctx, sid, api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	if u.Offset != 0 {
		t.Fatalf("first ack %d", u.Offset)
	}
	for _, c := range [][2]int{{0, 50_000}, {50_000, 120_000}} {
		if err := u.Send(tunnel.Chunk{Offset: int64(c[0]), Data: data[c[0]:c[1]]}); err != nil {
			t.Fatal(err)
		}
		ack, err := u.Ack()
		if err != nil || ack.Offset != int64(c[1]) || ack.Final {
			t.Fatalf("ack %+v, %v", ack, err)
		}
	}
	if err := u.Send(tunnel.Chunk{Offset: 120_000, Data: data[120_000:150_000]}); err != nil {
		t.Fatal(err)
	}
	u.Close()

	// The agent resumes from what control acknowledges; the last chunk of
	// the first stream may or may not have been stored, and re-sending
	// parts already stored must be harmless.
	waitFor(t, "first stream's receiver to finish", func() bool { return len(e.gw.Stats().Uploads) == 0 })
	s, err := e.store.GetSession(ctx, sid)
	if err != nil || s.Recording.State != api.RecordingRecording || s.Recording.Size < 120_000 || !s.Recording.Available {
		t.Fatalf("recording after the first stream %+v, %v", s.Recording, err)
	}
	u2, err := a.OpenRecording(ctx, sid, api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	if u2.Offset != 120_000 && u2.Offset != 150_000 {
		t.Fatalf("resume offset %d", u2.Offset)
	}
	// Re-send an already acknowledged range (a lost ack) before going on.
	if err := u2.Send(tunnel.Chunk{Offset: 100_000, Data: data[100_000:u2.Offset]}); err != nil {
		t.Fatal(err)
	}
	if ack, err := u2.Ack(); err != nil || ack.Offset != u2.Offset {
		t.Fatalf("re-send ack %+v, %v", ack, err)
	}
	u2.Close()

	end, err := a.UploadAll(ctx, sid, api.FormatConnlog, data, 64<<10, true)
	if err != nil || end != int64(len(data)) {
		t.Fatalf("UploadAll = %d, %v", end, err)
	}
	if got := e.recordingFile(sid); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes differ from the %d uploaded", len(got), len(data))
	}
	s, err = e.store.GetSession(ctx, sid)
	want := api.Recording{Format: api.FormatConnlog, State: api.RecordingComplete, Size: int64(len(data)), Available: true}
	if err != nil || s.Recording != want {
		t.Fatalf("recording %+v, %v; want %+v", s.Recording, err, want)
	}
	e.mu.Lock()
	last := e.recEvents[sid]
	e.mu.Unlock()
	if last != want {
		t.Fatalf("OnRecording last saw %+v", last)
	}
	if st := e.gw.Stats(); st.RecordingBytes < int64(len(data)) || st.RecordingChunks == 0 {
		t.Fatalf("stats %+v", st)
	}

	// A finished recording re-opened (an agent restarted before it saw the
	// final ack) acks the full size and accepts the final chunk again.
	end, err = a.UploadAll(ctx, sid, api.FormatConnlog, data, 64<<10, true)
	if err != nil || end != int64(len(data)) {
		t.Fatalf("re-upload of a complete recording = %d, %v", end, err)
	}
}

func TestRecordingRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	a := e.connect(e.enroll("mine"))
	other := e.session("someone-else")
	mine := e.session("mine")
	tests := []struct {
		name   string
		sid    string
		format api.RecordingFormat
	}{
		{"session of another agent", other, api.FormatConnlog},
		{"unknown session", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", api.FormatConnlog},
		{"path traversal", "../../etc", api.FormatConnlog},
		{"unknown format", mine, "exe"},
		{"format of another session type", mine, api.FormatAsciicast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.OpenRecording(ctx, tt.sid, tt.format); !errors.Is(err, agentgwtest.ErrRefused) {
				t.Fatalf("err %v", err)
			}
		})
	}
	t.Run("gap", func(t *testing.T) {
		u, err := a.OpenRecording(ctx, mine, api.FormatConnlog)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		if err := u.Send(tunnel.Chunk{Offset: 10, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if ack, err := u.Ack(); !errors.Is(err, agentgwtest.ErrRefused) || ack.Offset != 0 {
			t.Fatalf("ack %+v, %v", ack, err)
		}
	})
}

// TestMalformedStreamIsolated: bad bytes on one stream close that stream
// only; the agent, its control stream and its other streams keep working.
func TestMalformedStreamIsolated(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	id := e.enroll("mixed")
	a := e.connect(id)
	sid := e.session("mixed")
	good, err := a.OpenRecording(ctx, sid, api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	oversizedChunk := make([]byte, 13)
	binary.BigEndian.PutUint32(oversizedChunk[9:], tunnel.MaxChunkSize+1)
	oversizedHeader := []byte("OPS1\x05\xff\xff\xff\xff")
	tests := []struct {
		name string
		// open writes the bad bytes on a fresh stream.
		open func(st net.Conn) error
	}{
		{"bad header magic", func(st net.Conn) error { _, err := st.Write([]byte("XXXX\x05\x00\x00\x00\x02{}")); return err }},
		{"unknown stream kind", func(st net.Conn) error { _, err := st.Write([]byte("OPS1\x63\x00\x00\x00\x02{}")); return err }},
		{"oversized header", func(st net.Conn) error { _, err := st.Write(oversizedHeader); return err }},
		{"hostile header JSON", func(st net.Conn) error { _, err := st.Write([]byte("OPS1\x05\x00\x00\x00\x05[[[[[")); return err }},
		{"unexpected stream kind", func(st net.Conn) error {
			return tunnel.WriteHeader(st, api.StreamConn, api.ConnOpen{SessionID: sid})
		}},
		{"oversized chunk", func(st net.Conn) error {
			if err := tunnel.WriteHeader(st, api.StreamRecording, api.RecordingOpen{SessionID: sid, Format: api.FormatConnlog}); err != nil {
				return err
			}
			var ack api.RecordingAck
			if err := tunnel.ReadFrame(st, &ack); err != nil {
				return err
			}
			_, err := st.Write(oversizedChunk)
			return err
		}},
		{"bad chunk flags", func(st net.Conn) error {
			if err := tunnel.WriteHeader(st, api.StreamRecording, api.RecordingOpen{SessionID: sid, Format: api.FormatConnlog}); err != nil {
				return err
			}
			var ack api.RecordingAck
			if err := tunnel.ReadFrame(st, &ack); err != nil {
				return err
			}
			_, err := st.Write([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
			return err
		}},
	}
	var off int64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The good upload is replaced by the bad recording streams of
			// the same session (one writer per recording): re-open it after.
			st, err := a.Session.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if err := tt.open(st); err != nil {
				t.Fatal(err)
			}
			// Control closes the bad stream: reading ends without data
			// beyond acks.
			var ack api.RecordingAck
			for {
				if err := tunnel.ReadFrame(st, &ack); err != nil {
					break
				}
			}
			if !e.gw.Online(id.AgentID) {
				t.Fatal("agent dropped")
			}
			if err := a.Heartbeat(ctx); err != nil {
				t.Fatalf("control stream broken: %v", err)
			}
			u, err := a.OpenRecording(ctx, sid, api.FormatConnlog)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			if u.Offset != off {
				t.Fatalf("stored %d bytes, want %d", u.Offset, off)
			}
			chunk := []byte(tt.name + "\n")
			if err := u.Send(tunnel.Chunk{Offset: off, Data: chunk}); err != nil {
				t.Fatal(err)
			}
			if ack, err := u.Ack(); err != nil || ack.Offset != off+int64(len(chunk)) {
				t.Fatalf("ack %+v, %v", ack, err)
			}
			off += int64(len(chunk))
		})
	}
	// The first upload, opened before any bad stream, was replaced by the
	// later streams of the same recording; an upload of another session
	// opened alongside bad streams is untouched.
	sid2 := e.session("mixed")
	u2, err := a.OpenRecording(ctx, sid2, api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	defer u2.Close()
	bad, err := a.Session.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	bad.Write([]byte("garbage that is no header at all"))
	if err := u2.Send(tunnel.Chunk{Offset: 0, Data: []byte("ok\n"), Final: true}); err != nil {
		t.Fatal(err)
	}
	if ack, err := u2.Ack(); err != nil || ack.Offset != 3 || !ack.Final {
		t.Fatalf("ack %+v, %v", ack, err)
	}
	bad.Close()
}

// TestRecordingFinalState: a container that ends with the agent's signed
// trailer is stored complete; one cut short (the agent was killed and its
// spool recovered what was durable: no trailer, maybe a torn last frame
// cut) is stored partial, so `sessions show` and verify say it was cut.
func TestRecordingFinalState(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(t *testing.T, sid string, finish bool) []byte {
		var buf bytes.Buffer
		w, err := container.NewWriter(&buf, container.Header{SessionID: sid, Format: api.FormatConnlog}, container.Config{FrameSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(0, recordingData(20_000))
		if finish {
			err = w.Finish(key)
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tests := []struct {
		name   string
		finish bool
		want   api.RecordingState
	}{
		{"signed by the agent", true, api.RecordingComplete},
		{"cut short", false, api.RecordingPartial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := ctxTimeout(t)
			a := e.connect(e.enroll("rec"))
			sid := e.session("rec")
			data := build(t, sid, tt.finish)
			end, err := a.UploadAll(ctx, sid, api.FormatConnlog, data, 4096, true)
			if err != nil || end != int64(len(data)) {
				t.Fatalf("UploadAll = %d, %v", end, err)
			}
			s, err := e.store.GetSession(ctx, sid)
			want := api.Recording{Format: api.FormatConnlog, State: tt.want, Size: int64(len(data)), Available: true}
			if err != nil || s.Recording != want {
				t.Fatalf("recording %+v, %v; want %+v", s.Recording, err, want)
			}
			e.mu.Lock()
			last := e.recEvents[sid]
			e.mu.Unlock()
			if last != want {
				t.Fatalf("OnRecording last saw %+v, want %+v", last, want)
			}
		})
	}
}

// TestRecordingStateSavedWhenStreamBreaks: sizes between two saves of the
// recording state are written when the stream ends, so the database holds
// the last acknowledged size.
func TestRecordingStateSavedWhenStreamBreaks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	a := e.connect(e.enroll("rec"))
	sid := e.session("rec")
	data := recordingData(100_000)
	u, err := a.OpenRecording(ctx, sid, api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 10_000 { // many chunks within a second
		if err := u.Send(tunnel.Chunk{Offset: int64(off), Data: data[off : off+10_000]}); err != nil {
			t.Fatal(err)
		}
		if ack, err := u.Ack(); err != nil || ack.Offset != int64(off+10_000) {
			t.Fatalf("ack %+v, %v", ack, err)
		}
	}
	u.Close()
	waitFor(t, "the receiver to finish", func() bool { return len(e.gw.Stats().Uploads) == 0 })
	s, err := e.store.GetSession(ctx, sid)
	want := api.Recording{Format: api.FormatConnlog, State: api.RecordingRecording, Size: int64(len(data)), Available: true}
	if err != nil || s.Recording != want {
		t.Fatalf("recording %+v, %v; want %+v", s.Recording, err, want)
	}
}
