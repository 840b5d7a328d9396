package spool

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/onepam/onepam/pkg/api"
)

// Recording is one spooled recording. Its state is updated by its Writer
// and read by the uploader.
type Recording struct {
	ID     string
	Format api.RecordingFormat

	dataPath string
	metaPath string // legacy recordings only
	legacy   bool   // raw inner-format bytes from an older agent, not a container

	mu      sync.Mutex
	stable  int64   // bytes of the data file readers may read: whole frames
	bounds  []int64 // container: offsets where the file header and each frame start
	tail    []byte  // the open frame's latest snapshot, stored at stable (immutable)
	final   bool
	cut     bool
	writing bool
	changed chan struct{} // closed (and replaced) on every state change
}

// View is a consistent look at a recording: the logical recording is the
// data file's first Stable bytes followed by Tail.
type View struct {
	Stable int64
	// Tail is the open frame as it stands (see container.Writer.Snapshot):
	// it belongs at offset Stable and is replaced by later versions. The
	// slice is never modified.
	Tail    []byte
	Final   bool
	Cut     bool
	Changed <-chan struct{}
}

// Size returns the logical size of the recording.
func (v View) Size() int64 { return v.Stable + int64(len(v.Tail)) }

// View returns the recording's current state.
func (r *Recording) View() View {
	r.mu.Lock()
	defer r.mu.Unlock()
	return View{Stable: r.stable, Tail: r.tail, Final: r.final, Cut: r.cut, Changed: r.changed}
}

// State returns the readable size, whether the recording is final, and a
// channel closed at the next change.
func (r *Recording) State() (size int64, final bool, changed <-chan struct{}) {
	v := r.View()
	return v.Size(), v.Final, v.Changed
}

// Cut reports whether a final recording ended abnormally.
func (r *Recording) Cut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

// Legacy reports whether the recording holds raw inner-format bytes (an
// older agent's spool) rather than a container.
func (r *Recording) Legacy() bool { return r.legacy }

func (r *Recording) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// appended records n bytes written to the data file as one piece (the file
// header, a frame or the trailer): the open frame's snapshot is obsolete.
func (r *Recording) appended(n int) {
	r.mu.Lock()
	r.bounds = append(r.bounds, r.stable)
	r.stable += int64(n)
	r.tail = nil
	r.notifyLocked()
	r.mu.Unlock()
}

// setTail publishes a new snapshot of the open frame.
func (r *Recording) setTail(tail []byte) {
	r.mu.Lock()
	r.tail = tail
	r.notifyLocked()
	r.mu.Unlock()
}

// finish marks the recording final.
func (r *Recording) finish(cut bool) {
	r.mu.Lock()
	r.final, r.cut, r.writing, r.tail = true, cut, false, nil
	r.notifyLocked()
	r.mu.Unlock()
}

// update sets a legacy recording's state.
func (r *Recording) update(size int64, final, cut bool) {
	r.mu.Lock()
	r.stable, r.final, r.cut = size, final, cut
	if final {
		r.writing = false
	}
	r.notifyLocked()
	r.mu.Unlock()
}

// pieceStart returns where the piece (file header, frame, trailer)
// holding byte off starts: off itself for a legacy recording, the tail's
// offset for a byte in the tail.
func (r *Recording) pieceStart(off int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.legacy || off < 0 {
		return max(off, 0)
	}
	if off >= r.stable {
		return r.stable
	}
	i := sort.Search(len(r.bounds), func(i int) bool { return r.bounds[i] > off })
	if i == 0 {
		return 0
	}
	return r.bounds[i-1]
}

// chunkEnd returns the end of the next upload chunk from off (below
// limit, the stable size): as many whole pieces as fit in maxBytes, or
// maxBytes of a piece larger than that (closed pieces never change, so
// splitting them is safe). Legacy recordings are cut at maxBytes.
func (r *Recording) chunkEnd(off, limit, maxBytes int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit-off <= maxBytes {
		return limit
	}
	if r.legacy {
		return off + maxBytes
	}
	end := off + maxBytes // when the next piece alone is larger
	i := sort.Search(len(r.bounds), func(i int) bool { return r.bounds[i] > off })
	for ; i < len(r.bounds) && r.bounds[i] < limit && r.bounds[i]-off <= maxBytes; i++ {
		end = r.bounds[i]
	}
	return end
}

// Reader opens the recording's data file for reading; read only below
// View().Stable.
func (r *Recording) Reader() (io.ReaderAt, io.Closer, error) {
	f, err := os.Open(r.dataPath)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: open recording %s: %w", r.ID, err)
	}
	return f, f, nil
}
