package recordings

import (
	"fmt"
	"io"
	"time"

	"github.com/onepam/onepam/recordfmt/container"
)

// Seek is the inner stream of a stored container from the frame holding a
// session time.
type Seek struct {
	Inner     io.Reader     // the inner stream from RawOffset on
	RawOffset int64         // offset of Inner's first byte in the whole inner stream
	FrameTime time.Duration // session time of that byte
	Frames    int           // frames from there to the end
}

// SeekInner opens the container in blob and returns its inner stream from
// the frame holding session time t. It reads the file header and the
// trailer's index (or, for a recording without trailer, the frame
// headers), then only the frames from there on, as Inner is read: nothing
// before the frame is decompressed.
func SeekInner(blob io.ReaderAt, size int64, t time.Duration) (Seek, error) {
	rd, err := container.Open(blob, size)
	if err != nil {
		return Seek{}, fmt.Errorf("open the recording container: %w", err)
	}
	i := rd.SeekTime(t)
	if i < 0 {
		return Seek{Inner: eof{}}, nil
	}
	f := rd.Frame(i)
	return Seek{Inner: rd.StreamFrom(i), RawOffset: f.RawOffset, FrameTime: f.TFirst, Frames: rd.NumFrames() - i}, nil
}

type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }
