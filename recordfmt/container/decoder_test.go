package container

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// growing is a stream that holds what has arrived so far and reports
// io.EOF when a reader has caught up, like a file being appended to.
type growing struct {
	data []byte
	pos  int
}

func (g *growing) Read(p []byte) (int, error) {
	if g.pos == len(g.data) {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.pos:])
	g.pos += n
	return n, nil
}

func TestDecoderLiveChunks(t *testing.T) {
	ws := terminalStream(21, 300<<10)
	rec := build(t, ws, time.Second, 16<<10, true)
	full := rec.bytes()
	rng := rand.New(rand.NewPCG(8, 9))
	for _, maxChunk := range []int{1, 7, 100, 4096, 1 << 20} {
		g := &growing{}
		dec := NewDecoder(g)
		var got []byte
		var frames, needMore int
		for off := 0; off < len(full); {
			n := min(1+rng.IntN(maxChunk), len(full)-off)
			g.data = append(g.data, full[off:off+n]...)
			off += n
			for {
				f, err := dec.Next()
				if errors.Is(err, ErrNeedMore) {
					needMore++
					break
				}
				if errors.Is(err, io.EOF) {
					if off != len(full) {
						t.Fatalf("chunk %d: io.EOF at %d of %d bytes", maxChunk, off, len(full))
					}
					break
				}
				if err != nil {
					t.Fatalf("chunk %d: %v", maxChunk, err)
				}
				if f.Number != frames || f.RawOffset != int64(len(got)) {
					t.Fatalf("chunk %d: frame %d at raw offset %d, want %d at %d", maxChunk, f.Number, f.RawOffset, frames, len(got))
				}
				frames++
				got = append(got, f.Data...)
			}
		}
		if !bytes.Equal(got, rec.inner) {
			t.Fatalf("chunk %d: decoded %d bytes, want %d", maxChunk, len(got), len(rec.inner))
		}
		tr, ok := dec.Trailer()
		if !ok || tr.Frames != frames || tr.RawSize != int64(len(got)) || dec.Offset() != int64(len(full)) {
			t.Fatalf("chunk %d: trailer %v %+v, offset %d", maxChunk, ok, tr.Frames, dec.Offset())
		}
		if _, err := dec.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the trailer: %v", err)
		}
		if maxChunk < 4096 && needMore < frames {
			t.Fatalf("chunk %d: only %d need-more answers for %d frames", maxChunk, needMore, frames)
		}
	}
}

// TestDecoderFollowsFile watches a recording file while the writer appends
// to it, as a live watcher does.
func TestDecoderFollowsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.oprec")
	wf, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	rf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	w, err := NewWriter(wf, testHeader(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder(rf)
	if _, err := dec.Header(); err != nil {
		t.Fatal(err)
	}
	for s := range 5 {
		line := []byte("second " + time.Duration(s*int(time.Second)).String() + "\n")
		w.Write(time.Duration(s)*time.Second, line)
		if _, err := dec.Next(); !errors.Is(err, ErrNeedMore) {
			t.Fatalf("before the flush: %v", err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f, err := dec.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, line) || f.Number != s {
			t.Fatalf("frame %d: %q", f.Number, f.Data)
		}
	}
	_, priv := testKey()
	if err := w.Finish(priv); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after finish: %v", err)
	}
}

func TestDecoderRejects(t *testing.T) {
	l := smallRecording(t)
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"altered payload", flip(l.data, l.frames[2].Offset+FrameHeaderSize+3), ErrChain},
		{"altered header field, CRC recomputed", func() []byte {
			c := flip(l.data, l.frames[1].Offset+27)
			fixFrameCRC(c, l.frames[1].Offset)
			return c
		}(), ErrChain},
		{"altered frame header", flip(l.data, l.frames[1].Offset+5), ErrMalformed},
		{"frame deleted", append(append([]byte(nil), l.data[:l.frames[2].Offset]...), l.data[l.frames[2].end():]...), ErrMalformed},
		{"not a container", []byte("{\"t\":0.5,\"event\":\"open\"}\n"), ErrMalformed},
		{"bytes after the trailer", append(append([]byte(nil), l.data...), 0), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := NewDecoder(bytes.NewReader(tc.data))
			var err error
			for err == nil {
				_, err = dec.Next()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, again := dec.Next(); !errors.Is(again, tc.want) {
				t.Fatalf("error not sticky: %v", again)
			}
		})
	}
}

// TestDecoderAfterTrailer: a live stream may deliver, after the trailer,
// copies of the file header, of frames and of the trailer itself (a
// watcher caught up from storage while older chunks were still queued);
// they are skipped. A frame that was not sent before is malformed.
func TestDecoderAfterTrailer(t *testing.T) {
	l := smallRecording(t)
	trailer := l.data[l.trailer.Offset:]
	frame := func(i int) []byte { return l.data[l.frames[i].Offset:l.frames[i].end()] }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		data []byte
		want error // nil: decodes like the recording alone
	}{
		{"trailer again", cat(l.data, trailer), nil},
		{"frames and trailer again", cat(l.data, frame(3), frame(4), trailer), nil},
		{"the whole stream again", cat(l.data, l.data), nil},
		{"a different trailer", cat(l.data, flip(trailer, 40)), ErrMalformed},
		{"not a frame", cat(l.data, []byte{0}), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := NewDecoder(bytes.NewReader(tc.data))
			var raw []byte
			var err error
			for {
				var f Frame
				if f, err = dec.Next(); err != nil {
					break
				}
				raw = append(raw, f.Data...)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				return
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("got %v, want io.EOF", err)
			}
			if tr, ok := dec.Trailer(); !ok || tr.Offset != l.trailer.Offset {
				t.Fatalf("trailer %+v %v, want at offset %d", tr, ok, l.trailer.Offset)
			}
			if dec.Offset() != int64(len(l.data)) {
				t.Fatalf("offset %d after the trailer, want %d", dec.Offset(), len(l.data))
			}
			if len(raw) != int(l.trailer.RawSize) {
				t.Fatalf("%d raw bytes, want %d", len(raw), l.trailer.RawSize)
			}
		})
	}
}
