package recordings

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// readLog is an io.ReaderAt that records the ranges read.
type readLog struct {
	r     io.ReaderAt
	mu    sync.Mutex
	reads [][2]int64
}

func (l *readLog) ReadAt(p []byte, off int64) (int, error) {
	l.mu.Lock()
	l.reads = append(l.reads, [2]int64{off, off + int64(len(p))})
	l.mu.Unlock()
	return l.r.ReadAt(p, off)
}

// hourRecording is a signed one-hour connlog-like recording with one line
// every 100 ms.
func hourRecording(t testing.TB, finish bool) ([]byte, []byte) {
	t.Helper()
	var b bytes.Buffer
	w, err := container.NewWriter(&b, container.Header{SessionID: sid, Format: api.FormatConnlog}, container.Config{FrameSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var inner []byte
	for i := range 36000 {
		at := time.Duration(i) * 100 * time.Millisecond
		l := fmt.Sprintf(`{"t":%.1f,"event":"open","conn":%d,"peer":"10.0.%d.%d:5000"}`+"\n", at.Seconds(), i+1, i%256, i*7%256)
		w.Write(at, []byte(l))
		inner = append(inner, l...)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	if finish {
		w.Finish(priv)
	} else {
		w.Close()
	}
	return b.Bytes(), inner
}

func TestSeekReadsOnlyTheFramesNeeded(t *testing.T) {
	for _, signed := range []bool{true, false} {
		t.Run(fmt.Sprintf("signed %v", signed), func(t *testing.T) {
			file, inner := hourRecording(t, signed)
			rd, err := container.Open(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatal(err)
			}
			log := &readLog{r: bytes.NewReader(file)}
			sk, err := SeekInner(log, int64(len(file)), 59*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			opened := len(log.reads)
			// Read the first frame's worth of the stream: 59:00 is in it.
			first := rd.Frame(rd.SeekTime(59 * time.Minute))
			buf := make([]byte, first.RawLen)
			if _, err := io.ReadFull(sk.Inner, buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, inner[sk.RawOffset:sk.RawOffset+int64(len(buf))]) || sk.FrameTime > 59*time.Minute || sk.RawOffset != first.RawOffset {
				t.Fatalf("seek gave raw offset %d at %s, want frame %d", sk.RawOffset, sk.FrameTime, first.Number)
			}
			if !bytes.Contains(buf, []byte(`"t":3540.0,`)) {
				t.Fatal("the frame read does not hold 59:00")
			}
			// Reads: the header and index (or frame headers) to open, then
			// only the frame needed, nothing of the 58 minutes before.
			var payload int64
			for _, r := range log.reads[opened:] {
				if r[0] < first.Offset {
					t.Fatalf("read [%d,%d) before the frame at %d", r[0], r[1], first.Offset)
				}
				payload += r[1] - r[0]
			}
			if payload > int64(container.FrameHeaderSize+first.CompLen) {
				t.Fatalf("read %d bytes for a frame of %d", payload, container.FrameHeaderSize+first.CompLen)
			}
			// Opening reads no frame payload before the target.
			sort.Slice(log.reads, func(i, j int) bool { return log.reads[i][0] < log.reads[j][0] })
			var opening int64
			for _, r := range log.reads {
				if r[1] <= first.Offset {
					opening += r[1] - r[0]
				}
			}
			if opening > first.Offset/10 {
				t.Fatalf("opening read %d of the %d bytes before the frame", opening, first.Offset)
			}
			t.Logf("%d frames; to play from 59:00 read %d bytes before the frame (of %d) and %d of the frame", rd.NumFrames(), opening, first.Offset, payload)
		})
	}
}
