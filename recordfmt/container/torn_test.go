package container

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// TestTornTail cuts a recording at every byte offset of its last frame (or
// of its trailer): every earlier frame stays readable, the torn rest is
// ignored, TruncateTorn says where to cut, and Verify calls it cut short.
func TestTornTail(t *testing.T) {
	ws := terminalStream(11, 24<<10)
	for _, finish := range []bool{false, true} {
		rec := build(t, ws, 2*time.Second, 4<<10, finish)
		full := rec.bytes()
		rd, err := Open(bytes.NewReader(full), int64(len(full)))
		if err != nil {
			t.Fatal(err)
		}
		n := rd.NumFrames()
		// The last whole thing: the trailer, or the last data frame.
		from, keepFrames := rd.Frame(n-1).Offset, n-1
		if finish {
			tr, _ := rd.Trailer()
			from, keepFrames = tr.Offset, n
		}
		var want []byte
		if keepFrames > 0 {
			last := rd.Frame(keepFrames - 1)
			want = rec.inner[:last.RawOffset+int64(last.RawLen)]
		}
		name := "cut"
		if finish {
			name = "finished"
		}
		t.Run(name, func(t *testing.T) {
			for size := from; size < int64(len(full)); size++ {
				data := full[:size]
				rd, err := Open(bytes.NewReader(data), size)
				if err != nil {
					t.Fatalf("size %d: %v", size, err)
				}
				if rd.NumFrames() != keepFrames {
					t.Fatalf("size %d: %d frames, want %d", size, rd.NumFrames(), keepFrames)
				}
				if size > from && !errors.Is(rd.Stopped(), io.ErrUnexpectedEOF) {
					t.Fatalf("size %d: Stopped() = %v, want a torn frame", size, rd.Stopped())
				}
				got, err := io.ReadAll(rd.StreamFrom(0))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("size %d: stream of %d bytes (%v), want %d", size, len(got), err, len(want))
				}
				keep, err := TruncateTorn(bytes.NewReader(data), size)
				if err != nil || keep != from {
					t.Fatalf("size %d: TruncateTorn = %d, %v; want %d", size, keep, err, from)
				}
				rep, err := Verify(bytes.NewReader(data), size, mustPub())
				if err != nil || rep.Status != StatusUnsignedCut || rep.Frames != keepFrames || rep.Frame != keepFrames-1 || rep.Offset != from {
					t.Fatalf("size %d: verify %+v, %v", size, rep, err)
				}
				// The streaming decoder gives the same frames, then asks for more.
				dec := NewDecoder(bytes.NewReader(data))
				var frames int
				for {
					_, err := dec.Next()
					if err != nil {
						if !errors.Is(err, ErrNeedMore) || !errors.Is(err, io.ErrUnexpectedEOF) {
							t.Fatalf("size %d: decoder: %v", size, err)
						}
						break
					}
					frames++
				}
				if frames != keepFrames {
					t.Fatalf("size %d: decoder gave %d frames, want %d", size, frames, keepFrames)
				}
			}
		})
	}
	t.Run("zero-filled tail", func(t *testing.T) {
		rec := build(t, ws, 2*time.Second, 4<<10, false)
		clean := rec.bytes()
		data := append(append([]byte(nil), clean...), make([]byte, 5000)...)
		keep, err := TruncateTorn(bytes.NewReader(data), int64(len(data)))
		if err != nil || keep != int64(len(clean)) {
			t.Fatalf("TruncateTorn = %d, %v; want %d", keep, err, len(clean))
		}
		rep, _ := Verify(bytes.NewReader(data), int64(len(data)), mustPub())
		if rep.Status != StatusUnsignedCut {
			t.Fatalf("verify: %+v", rep)
		}
	})
	t.Run("torn file header", func(t *testing.T) {
		rec := build(t, nil, 0, 0, false)
		hdr := rec.bytes()
		for size := range int64(len(hdr)) {
			keep, err := TruncateTorn(bytes.NewReader(hdr[:size]), size)
			if err != nil || keep != 0 {
				t.Fatalf("size %d: TruncateTorn = %d, %v", size, keep, err)
			}
			rep, err := Verify(bytes.NewReader(hdr[:size]), size, mustPub())
			if err != nil || rep.Status != StatusUnsignedCut || rep.Frame != -1 {
				t.Fatalf("size %d: verify %+v, %v", size, rep, err)
			}
			if _, err := Open(bytes.NewReader(hdr[:size]), size); !errors.Is(err, ErrMalformed) {
				t.Fatalf("size %d: Open: %v", size, err)
			}
		}
	})
	t.Run("not a container", func(t *testing.T) {
		junk := []byte(`{"t":0.5,"event":"open","conn":1}` + "\n")
		if _, err := TruncateTorn(bytes.NewReader(junk), int64(len(junk))); !errors.Is(err, ErrMalformed) {
			t.Fatalf("TruncateTorn: %v", err)
		}
	})
}
