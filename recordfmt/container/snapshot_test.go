package container

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// growingUpload simulates the spool and uploader: closed frames go to the
// store, the open frame's latest snapshot is stored after them (replacing
// the previous one), and every change is appended to the upload stream
// the way a live watcher receives it (re-sent frames included).
type growingUpload struct {
	closed bytes.Buffer // what the Writer wrote
	sent   int          // closed bytes already in the stream
	stream []byte       // concatenated chunks as a watcher sees them
	store  []byte       // closed frames + latest snapshot
	volat  int          // stream position where the last snapshot was appended, -1 none
}

func (u *growingUpload) tick(t *testing.T, w *Writer) {
	t.Helper()
	off, snap, err := w.Snapshot(nil)
	if err != nil {
		t.Fatal(err)
	}
	if off != int64(u.closed.Len()) {
		t.Fatalf("snapshot offset %d, closed bytes %d", off, u.closed.Len())
	}
	// Re-send from the start of the previously sent open frame.
	from := u.sent
	if u.volat >= 0 {
		from = u.volat
	}
	u.stream = append(u.stream, u.closed.Bytes()[from:]...)
	u.sent = u.closed.Len()
	u.volat = -1
	if len(snap) > 0 {
		u.volat = u.closed.Len()
		u.stream = append(u.stream, snap...)
	}
	u.store = append(append(u.store[:0], u.closed.Bytes()...), snap...)
}

func TestSnapshotGrowingFrame(t *testing.T) {
	ws := terminalStream(5, 200<<10)
	u := &growingUpload{volat: -1}
	w, err := NewWriter(&u.closed, testHeader(), Config{FrameSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var inner []byte
	period := time.Duration(-1)
	for _, wr := range ws {
		if wr.at/time.Second != period {
			u.tick(t, w)
			period = wr.at / time.Second
		}
		w.Write(wr.at, wr.data)
		inner = append(inner, wr.data...)
	}
	// A store that held only closed frames and the latest snapshot is a
	// valid (cut) container with every byte written so far.
	u.tick(t, w)
	rd, err := Open(bytes.NewReader(u.store), int64(len(u.store)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rd.StreamFrom(0))
	if err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("stored container: %d bytes, want %d (%v)", len(got), len(inner), err)
	}
	pub, priv := testKey()
	if err := w.Finish(priv); err != nil {
		t.Fatal(err)
	}
	u.tick(t, w)
	if rep, err := Verify(bytes.NewReader(u.store), int64(len(u.store)), pub); err != nil || rep.Status != StatusOK {
		t.Fatalf("verify %+v %v", rep, err)
	}
	if got := rd.NumFrames(); got > len(inner)/(64<<10)+1 {
		t.Errorf("%d frames for %d bytes: frames did not grow", got, len(inner))
	}

	// The live stream holds re-sent frames; the decoder returns each
	// byte once.
	dec := NewDecoder(bytes.NewReader(u.stream))
	var live []byte
	for {
		f, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.RawOffset+int64(f.RawLen)-int64(len(f.Data)) != int64(len(live)) {
			t.Fatalf("frame %d adds %d bytes at %d, have %d", f.Number, len(f.Data), f.RawOffset+int64(f.RawLen)-int64(len(f.Data)), len(live))
		}
		live = append(live, f.Data...)
	}
	if !bytes.Equal(live, inner) {
		t.Fatalf("live stream decoded to %d bytes, want %d", len(live), len(inner))
	}
}

func TestDecoderResentFrames(t *testing.T) {
	hdrW := func() (*Writer, *bytes.Buffer) {
		var b bytes.Buffer
		w, err := NewWriter(&b, testHeader(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		return w, &b
	}
	snap := func(w *Writer) []byte {
		_, s, err := w.Snapshot(nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// v1 and v2 of frame 0, then frame 0 closed and frame 1.
	w, b := hdrW()
	w.Write(0, []byte("hello "))
	v1 := snap(w)
	w.Write(time.Millisecond, []byte("world"))
	v2 := snap(w)
	w.Flush()
	hdrLen := b.Len() - len(v2)
	hdr := append([]byte(nil), b.Bytes()[:hdrLen]...)
	f0 := append([]byte(nil), b.Bytes()[hdrLen:]...)
	w.Write(2*time.Millisecond, []byte("!"))
	w.Flush()
	f1 := append([]byte(nil), b.Bytes()[hdrLen+len(f0):]...)

	// A different frame 0 that does not extend v1.
	wx, _ := hdrW()
	wx.Write(0, []byte("HELLO world"))
	other := snap(wx)

	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		stream []byte
		want   string
		err    error
	}{
		{"versions then closed", cat(hdr, v1, v2, f0, f1), "hello world!", nil},
		{"closed frame re-sent", cat(hdr, f0, f1, f0, f1), "hello world!", nil},
		{"older version after newer (skipped)", cat(hdr, v2, v1, f0, f1), "hello world!", nil},
		{"file header re-sent", cat(hdr, v1, hdr, v2, f0, f1), "hello world!", nil},
		{"version that does not extend", cat(hdr, v1, other), "", ErrMalformed},
		{"older version of a closed frame (skipped)", cat(hdr, f0, f1, v1), "hello world!", nil},
		{"not linked to the chain", cat(hdr, f0, f1, f1[:len(f1)-1], []byte{f1[len(f1)-1] ^ 1}), "", ErrChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := NewDecoder(bytes.NewReader(tt.stream))
			var got []byte
			var err error
			for {
				var f Frame
				f, err = dec.Next()
				if err != nil {
					break
				}
				got = append(got, f.Data...)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if !errors.Is(err, ErrNeedMore) && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
