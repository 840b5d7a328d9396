package container

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// fuzzSeeds are built in code as well as committed under testdata/fuzz.
func fuzzSeeds(f *testing.F) [][]byte { return fuzzSeedsT(f) }

func fuzzSeedsT(f testing.TB) [][]byte {
	var ws []write
	for i := range 30 {
		ws = append(ws, write{time.Duration(i) * 300 * time.Millisecond, []byte("$ ls -l\r\n-rw-r--r-- 1 alice staff 1234 file.go\r\n")})
	}
	finished := build(f, ws, time.Second, 0, true).bytes()
	cut := build(f, ws, time.Second, 0, false).bytes()
	return [][]byte{finished, cut, cut[:len(cut)-7], build(f, nil, 0, 0, true).bytes(), build(f, nil, 0, 0, false).bytes()}
}

// FuzzOpen checks that Open, ReadFrame, SeekTime, Verify and TruncateTorn
// never panic on hostile bytes, and that what they say is consistent.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	pub := mustPub()
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		rep, err := Verify(bytes.NewReader(data), size, pub)
		if err != nil {
			t.Fatalf("verify of in-memory bytes failed: %v", err)
		}
		switch rep.Status {
		case StatusOK, StatusUnsignedCut, StatusTampered, StatusBadSignature:
		default:
			t.Fatalf("unknown status %q", rep.Status)
		}
		rd, err := Open(bytes.NewReader(data), size)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Open error does not wrap ErrMalformed: %v", err)
			}
			if rep.Status == StatusOK {
				t.Fatal("Verify says ok, Open fails")
			}
		} else {
			var raw int64
			for i := range rd.NumFrames() {
				fi := rd.Frame(i)
				if fi.Number != i || fi.RawOffset != raw || fi.end() > rd.End() || rd.End() > size {
					t.Fatalf("frame %d: %+v (end %d, size %d)", i, fi, rd.End(), size)
				}
				raw += int64(fi.RawLen)
				b, err := rd.ReadFrame(i)
				if err != nil {
					if rep.Status == StatusOK {
						t.Fatalf("Verify says ok, frame %d unreadable: %v", i, err)
					}
					continue
				}
				if len(b) != fi.RawLen {
					t.Fatalf("frame %d: %d bytes, want %d", i, len(b), fi.RawLen)
				}
			}
			for _, at := range []time.Duration{-1, 0, time.Second, time.Hour} {
				if i := rd.SeekTime(at); i < -1 || i >= rd.NumFrames() || (i == -1) != (rd.NumFrames() == 0) {
					t.Fatalf("SeekTime(%v) = %d of %d frames", at, i, rd.NumFrames())
				}
			}
			if rep.Status == StatusOK {
				if _, ok := rd.Trailer(); !ok || rd.NumFrames() != rep.Frames || rd.RawSize() != rep.RawSize {
					t.Fatalf("Verify ok with %d frames, reader %d frames (trailer %v)", rep.Frames, rd.NumFrames(), ok)
				}
			}
		}
		keep, err := TruncateTorn(bytes.NewReader(data), size)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("TruncateTorn error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if keep < 0 || keep > size {
			t.Fatalf("TruncateTorn = %d of %d", keep, size)
		}
		if keep > 0 {
			rep2, err := Verify(bytes.NewReader(data[:keep]), keep, pub)
			if err != nil || rep2.Status == StatusTampered {
				t.Fatalf("after TruncateTorn to %d: %+v, %v", keep, rep2, err)
			}
		}
	})
}

// FuzzDecoder feeds hostile bytes to the streaming decoder in chunks: it
// never panics, fails only with the package's errors, and the frames it
// accepts are the ones the random-access reader gives.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint16(1))
		f.Add(s, uint16(300))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		step := int(chunk) + 1
		var frames [][]byte
		var final error
		g := &growing{}
		dec := NewDecoder(g)
		for off := 0; ; {
			fr, err := dec.Next()
			if err == nil {
				frames = append(frames, append([]byte(nil), fr.Data...))
				continue
			}
			if errors.Is(err, ErrNeedMore) && off < len(data) {
				n := min(step, len(data)-off)
				g.data = append(g.data, data[off:off+n]...)
				off += n
				continue
			}
			final = err
			break
		}
		if !errors.Is(final, io.EOF) && !errors.Is(final, ErrNeedMore) && !errors.Is(final, ErrMalformed) && !errors.Is(final, ErrChain) {
			t.Fatalf("unexpected error %v", final)
		}
		rd, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for i, want := range frames {
			if i >= rd.NumFrames() {
				break
			}
			got, err := rd.ReadFrame(i)
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("frame %d: decoder and reader disagree", i)
			}
		}
	})
}
