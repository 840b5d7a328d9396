package container

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ws []write
	at := time.Duration(0)
	for range 5000 {
		at += time.Duration(rng.IntN(50)) * time.Millisecond
		b := make([]byte, rng.IntN(700))
		for i := range b {
			b[i] = "abcdefgh \r\n\x1b[0m"[rng.IntN(15)]
		}
		ws = append(ws, write{at, b})
	}
	for _, tc := range []struct {
		name       string
		flushEvery time.Duration
		frameSize  int
		finish     bool
	}{
		{"flush-every-second/finished", time.Second, 0, true},
		{"flush-every-second/cut", time.Second, 0, false},
		{"small-frames/finished", 10 * time.Second, 4096, true},
		{"frame-size-only/finished", 0, 64 << 10, true},
		{"tiny-frames-many-flushes/cut", 100 * time.Millisecond, 600, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := build(t, ws, tc.flushEvery, tc.frameSize, tc.finish)
			data := rec.bytes()
			rd, err := Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if rd.Header() != testHeader() {
				t.Fatalf("header %+v, want %+v", rd.Header(), testHeader())
			}
			if _, ok := rd.Trailer(); ok != tc.finish {
				t.Fatalf("trailer present %v, want %v", ok, tc.finish)
			}
			if rd.Stopped() != nil {
				t.Fatalf("stopped: %v", rd.Stopped())
			}
			got, err := io.ReadAll(rd.StreamFrom(0))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, rec.inner) {
				t.Fatalf("inner stream differs: %d bytes, want %d", len(got), len(rec.inner))
			}
			if rd.RawSize() != int64(len(rec.inner)) {
				t.Fatalf("RawSize %d, want %d", rd.RawSize(), len(rec.inner))
			}
			if rd.Duration() != ws[len(ws)-1].at.Truncate(time.Microsecond) {
				t.Fatalf("Duration %v, want %v", rd.Duration(), ws[len(ws)-1].at)
			}
			// One Write for the header, one per frame, one for the trailer.
			want := 1 + rd.NumFrames()
			if tc.finish {
				want++
			}
			if rec.writes != want {
				t.Fatalf("%d Write calls for %d frames, want %d", rec.writes, rd.NumFrames(), want)
			}
			var prevLast time.Duration
			for i, f := range rd.Frames() {
				if f.TFirst < prevLast || f.TLast < f.TFirst {
					t.Fatalf("frame %d times [%v, %v] after %v", i, f.TFirst, f.TLast, prevLast)
				}
				if tc.frameSize > 0 && f.RawLen > tc.frameSize {
					t.Fatalf("frame %d holds %d raw bytes, frame size %d", i, f.RawLen, tc.frameSize)
				}
				prevLast = f.TLast
			}
			// The streaming decoder gives the same bytes.
			dec := NewDecoder(bytes.NewReader(data))
			var streamed []byte
			for {
				f, err := dec.Next()
				if err != nil {
					if tc.finish && errors.Is(err, io.EOF) || !tc.finish && errors.Is(err, ErrNeedMore) {
						break
					}
					t.Fatal(err)
				}
				streamed = append(streamed, f.Data...)
			}
			if !bytes.Equal(streamed, rec.inner) {
				t.Fatalf("decoder stream differs")
			}
			rep, err := Verify(bytes.NewReader(data), int64(len(data)), mustPub())
			if err != nil {
				t.Fatal(err)
			}
			wantStatus := StatusOK
			if !tc.finish {
				wantStatus = StatusUnsignedCut
			}
			if rep.Status != wantStatus || rep.Frames != rd.NumFrames() || rep.RawSize != int64(len(rec.inner)) {
				t.Fatalf("verify: %+v", rep)
			}
		})
	}
}

func mustPub() []byte { pub, _ := testKey(); return pub }

func TestReadFrameRandomAccess(t *testing.T) {
	ws := terminalStream(3, 2<<20)
	for _, finish := range []bool{true, false} {
		rec := build(t, ws, time.Second, 32<<10, finish)
		data := rec.bytes()
		rd, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if rd.NumFrames() < 50 {
			t.Fatalf("only %d frames", rd.NumFrames())
		}
		rng := rand.New(rand.NewPCG(4, 5))
		for _, i := range rng.Perm(rd.NumFrames()) {
			f := rd.Frame(i)
			got, err := rd.ReadFrame(i)
			if err != nil {
				t.Fatal(err)
			}
			if want := rec.inner[f.RawOffset : f.RawOffset+int64(f.RawLen)]; !bytes.Equal(got, want) {
				t.Fatalf("frame %d differs", i)
			}
		}
		// A stream from the middle is the tail of the inner stream.
		mid := rd.NumFrames() / 2
		got, err := io.ReadAll(rd.StreamFrom(mid))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, rec.inner[rd.Frame(mid).RawOffset:]) {
			t.Fatal("stream from the middle differs")
		}
		if _, err := rd.ReadFrame(rd.NumFrames()); err == nil {
			t.Fatal("ReadFrame past the end succeeded")
		}
	}
}

func TestWriterBehaviour(t *testing.T) {
	t.Run("empty flush writes nothing", func(t *testing.T) {
		var buf bytes.Buffer
		calls := 0
		w, err := NewWriter(countingWriter{&buf, &calls}, testHeader(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if calls != 1 || w.Stats().Frames != 0 {
			t.Fatalf("%d writes, %d frames after empty flushes", calls, w.Stats().Frames)
		}
		w.Write(time.Second, []byte("x"))
		w.Flush()
		w.Flush()
		if calls != 2 || w.Stats().Frames != 1 {
			t.Fatalf("%d writes, %d frames after one write and two flushes", calls, w.Stats().Frames)
		}
	})
	t.Run("large write is split into frames", func(t *testing.T) {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, testHeader(), Config{FrameSize: 1000})
		big := bytes.Repeat([]byte("0123456789"), 1050)
		if n, err := w.Write(5*time.Second, big); err != nil || n != len(big) {
			t.Fatalf("write: %d, %v", n, err)
		}
		w.Close()
		rd, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if rd.NumFrames() != 11 || rd.Frame(10).RawLen != 500 {
			t.Fatalf("%d frames, last %d bytes", rd.NumFrames(), rd.Frame(rd.NumFrames()-1).RawLen)
		}
		for _, f := range rd.Frames() {
			if f.TFirst != 5*time.Second || f.TLast != 5*time.Second {
				t.Fatalf("frame %d times [%v, %v]", f.Number, f.TFirst, f.TLast)
			}
		}
	})
	t.Run("times never go backwards", func(t *testing.T) {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, testHeader(), Config{})
		w.Write(3*time.Second, []byte("a"))
		w.Flush()
		w.Write(2*time.Second, []byte("b"))
		w.Write(-time.Second, []byte("c"))
		w.Flush()
		w.Close()
		rd, _ := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if f := rd.Frame(1); f.TFirst != 3*time.Second || f.TLast != 3*time.Second {
			t.Fatalf("frame 1 times [%v, %v], want both 3s", f.TFirst, f.TLast)
		}
	})
	t.Run("nothing after finish", func(t *testing.T) {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, testHeader(), Config{})
		_, priv := testKey()
		if err := w.Finish(priv[:10]); err == nil {
			t.Fatal("finish with a short key succeeded")
		}
		if err := w.Finish(priv); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(0, []byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after finish: %v", err)
		}
		if err := w.Finish(priv); !errors.Is(err, ErrClosed) {
			t.Fatalf("second finish: %v", err)
		}
		rep, err := Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()), mustPub())
		if err != nil || rep.Status != StatusOK || rep.Frames != 0 {
			t.Fatalf("empty finished recording: %+v, %v", rep, err)
		}
	})
	t.Run("write error is sticky and leaves a readable prefix", func(t *testing.T) {
		fw := &failingWriter{failAfter: 3}
		w, err := NewWriter(fw, testHeader(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		var errs int
		for i := range 6 {
			if _, err := w.Write(time.Duration(i)*time.Second, []byte("data data data")); err != nil {
				errs++
			}
			if err := w.Flush(); err != nil {
				errs++
			}
		}
		if errs == 0 {
			t.Fatal("no error reported")
		}
		rd, err := Open(bytes.NewReader(fw.buf.Bytes()), int64(fw.buf.Len()))
		if err != nil || rd.NumFrames() != 2 {
			t.Fatalf("prefix: %v frames, %v", rd.NumFrames(), err)
		}
	})
	t.Run("bad headers are refused", func(t *testing.T) {
		for _, h := range []Header{{Format: "connlog"}, {SessionID: "x"}} {
			if _, err := NewWriter(io.Discard, h, Config{}); !errors.Is(err, ErrMalformed) {
				t.Fatalf("header %+v: %v", h, err)
			}
		}
	})
	t.Run("created_at from the clock", func(t *testing.T) {
		h := testHeader()
		h.CreatedAt = time.Time{}
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		w, err := NewWriter(io.Discard, h, Config{Now: func() time.Time { return now }})
		if err != nil || !w.Header().CreatedAt.Equal(now) {
			t.Fatalf("created_at %v, %v", w.Header().CreatedAt, err)
		}
	})
}

// failingWriter accepts failAfter writes, then fails.
type failingWriter struct {
	buf       bytes.Buffer
	failAfter int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.failAfter == 0 {
		return 0, errors.New("disk full")
	}
	f.failAfter--
	return f.buf.Write(p)
}
