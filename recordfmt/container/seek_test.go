package container

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestSeekTimeHour(t *testing.T) {
	finished, cut := hourRecordings(t)
	for name, data := range map[string][]byte{"finished": finished, "cut": cut} {
		t.Run(name, func(t *testing.T) {
			rd, err := Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if rd.NumFrames() != 3600 {
				t.Fatalf("%d frames, want 3600 (one per second)", rd.NumFrames())
			}
			for _, tc := range []struct {
				at    time.Duration
				frame int
				line  int // first line the frame must hold
			}{
				{0, 0, 0},
				{-time.Second, 0, 0},
				{950 * time.Millisecond, 1, 10}, // between frames: the later one
				{time.Second, 1, 10},
				{59 * time.Minute, 3540, 35400},
				{59*time.Minute + 300*time.Millisecond, 3540, 35400},
				{59*time.Minute + 900*time.Millisecond, 3540, 35400},
				{time.Hour - 100*time.Millisecond, 3599, 35990},
				{2 * time.Hour, 3599, 35990},
			} {
				i := rd.SeekTime(tc.at)
				if i != tc.frame {
					t.Fatalf("SeekTime(%v) = %d, want %d", tc.at, i, tc.frame)
				}
				b, err := rd.ReadFrame(i)
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("line %06d ", tc.line); !bytes.HasPrefix(b, []byte(want)) {
					t.Fatalf("frame %d starts %q, want %q", i, b[:20], want)
				}
			}
			// Every second of the hour lands in the frame recorded then.
			for s := range 3600 {
				at := time.Duration(s)*time.Second + 500*time.Millisecond
				i := rd.SeekTime(at)
				f := rd.Frame(i)
				if at < f.TFirst || at > f.TLast {
					t.Fatalf("SeekTime(%v) = frame %d covering [%v, %v]", at, i, f.TFirst, f.TLast)
				}
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		rec := build(t, nil, 0, 0, true)
		rd, err := Open(bytes.NewReader(rec.bytes()), int64(rec.buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if i := rd.SeekTime(time.Second); i != -1 {
			t.Fatalf("SeekTime on an empty recording = %d", i)
		}
	})
}

// TestSeekReadsOnlyWhatItNeeds proves that jumping to the 59th minute of a
// one-hour recording reads nothing of the first 58 minutes but frame
// headers (no trailer) or the index (trailer): no earlier payload byte.
func TestSeekReadsOnlyWhatItNeeds(t *testing.T) {
	finished, cut := hourRecordings(t)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"with trailer index", finished}, {"without trailer (frame headers only)", cut}} {
		t.Run(tc.name, func(t *testing.T) {
			src := &readAtLog{data: tc.data}
			rd, err := Open(src, int64(len(tc.data)))
			if err != nil {
				t.Fatal(err)
			}
			i := rd.SeekTime(59 * time.Minute)
			b, err := rd.ReadFrame(i)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("line 035400 ")) {
				t.Fatalf("frame %d starts %q", i, b[:20])
			}
			target := rd.Frame(i)
			hdrEnd := rd.Frame(0).Offset
			headers := map[int64]bool{}
			for _, f := range rd.Frames() {
				headers[f.Offset] = true
			}
			tr, hasTrailer := rd.Trailer()
			var payloadRead, headerReads int64
			for _, r := range src.reads {
				end := r.off + r.n
				switch {
				case end <= hdrEnd: // the file header
				case !hasTrailer && r.n == FrameHeaderSize && headers[r.off]: // a frame header
					headerReads++
				case r.off >= target.Offset && end <= target.end(): // the target frame
					payloadRead += r.n
				case hasTrailer && r.off >= tr.Offset: // the trailer with the index
				case r.off == int64(len(tc.data))-FooterSize && r.n == FooterSize: // the probe for a footer
				default:
					t.Fatalf("read of %d bytes at offset %d is outside the header, the index, frame headers and frame %d [%d, %d)", r.n, r.off, i, target.Offset, target.end())
				}
			}
			if payloadRead != int64(FrameHeaderSize+target.CompLen) {
				t.Fatalf("read %d bytes of the target frame, want %d", payloadRead, FrameHeaderSize+target.CompLen)
			}
			if hasTrailer && headerReads != 0 || !hasTrailer && headerReads < int64(i) {
				t.Fatalf("%d frame header reads (trailer %v)", headerReads, hasTrailer)
			}
			var total int64
			for _, r := range src.reads {
				total += r.n
			}
			t.Logf("read %d of %d bytes (%.2f%%) in %d reads to play minute 59", total, len(tc.data), 100*float64(total)/float64(len(tc.data)), len(src.reads))
		})
	}
}
