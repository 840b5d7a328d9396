package asciicast

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// recorderBufferSize is the Recorder's write buffer. Writes at least this
// large go straight to the underlying writer.
const recorderBufferSize = 64 << 10

// ErrClosed is returned by a Recorder used after Close.
var ErrClosed = errors.New("asciicast: recorder closed")

// Recorder writes a terminal session in the stored form (see the package
// comment). It is safe for concurrent use: output and input usually come from
// different goroutines. Data is buffered; call Flush to push it to the
// underlying writer (at least once a second for live watchers) and Close at
// the end. The Recorder does not close the underlying writer.
//
// After a write error every further call returns that error.
type Recorder struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	last   uint64 // time of the previous event, microseconds
	err    error
	closed bool
	hdr    [1 + 3*binary.MaxVarintLen64]byte
}

// NewRecorder writes the stored-form preamble and header h to w and returns
// a Recorder appending events to it.
func NewRecorder(w io.Writer, h Header) (*Recorder, error) {
	js, err := json.Marshal(h.stored())
	if err != nil {
		return nil, fmt.Errorf("asciicast: encode header: %w", err)
	}
	if len(js) > MaxHeaderSize {
		return nil, fmt.Errorf("asciicast: header is %d bytes, more than %d", len(js), MaxHeaderSize)
	}
	r := &Recorder{bw: bufio.NewWriterSize(w, recorderBufferSize)}
	r.bw.WriteString(Magic)
	r.bw.WriteByte(Version)
	n := binary.PutUvarint(r.hdr[:], uint64(len(js)))
	r.bw.Write(r.hdr[:n])
	if _, err := r.bw.Write(js); err != nil {
		return nil, fmt.Errorf("asciicast: write header: %w", err)
	}
	return r, nil
}

// Output records terminal output p (target → person) at time at since the
// session start. p is copied; the caller may reuse it. An empty p records
// nothing.
func (r *Recorder) Output(at time.Duration, p []byte) error {
	return r.data(TypeOutput, at, p)
}

// Input records input p (person → target) at time at since the session start.
func (r *Recorder) Input(at time.Duration, p []byte) error {
	return r.data(TypeInput, at, p)
}

// Resize records a terminal size change to cols×rows.
func (r *Recorder) Resize(at time.Duration, cols, rows int) error {
	if cols < 0 || rows < 0 {
		return fmt.Errorf("asciicast: resize to %dx%d: negative size", cols, rows)
	}
	var pl [2 * binary.MaxVarintLen64]byte
	n := binary.PutUvarint(pl[:], uint64(cols))
	n += binary.PutUvarint(pl[n:], uint64(rows))
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.event(TypeResize, at, pl[:n])
}

// Marker records a marker event with the given label (for example
// "session terminated by an administrator").
func (r *Recorder) Marker(at time.Duration, label string) error {
	if len(label) > MaxEventSize {
		label = label[:MaxEventSize]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.eventString(TypeMarker, at, label)
}

// Flush writes buffered events to the underlying writer.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.closed {
		return ErrClosed
	}
	if err := r.bw.Flush(); err != nil {
		r.err = fmt.Errorf("asciicast: flush: %w", err)
	}
	return r.err
}

// Close flushes buffered events. Further calls other than Close return
// ErrClosed; a second Close returns nil (or the earlier write error).
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		r.closed = true
		return r.err
	}
	r.closed = true
	if err := r.bw.Flush(); err != nil {
		r.err = fmt.Errorf("asciicast: flush: %w", err)
	}
	return r.err
}

func (r *Recorder) data(typ byte, at time.Duration, p []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(p) == 0 {
		if r.closed && r.err == nil {
			return ErrClosed
		}
		return r.err
	}
	for len(p) > MaxEventSize {
		if err := r.event(typ, at, p[:MaxEventSize]); err != nil {
			return err
		}
		p = p[MaxEventSize:]
	}
	return r.event(typ, at, p)
}

// prefix writes the type, delta and length of an event. r.mu is held.
func (r *Recorder) prefix(typ byte, at time.Duration, size int) error {
	if r.err != nil {
		return r.err
	}
	if r.closed {
		return ErrClosed
	}
	now := micros(at)
	if now < r.last {
		now = r.last
	}
	r.hdr[0] = typ
	n := 1 + binary.PutUvarint(r.hdr[1:], now-r.last)
	n += binary.PutUvarint(r.hdr[n:], uint64(size))
	r.last = now
	if _, err := r.bw.Write(r.hdr[:n]); err != nil {
		r.err = fmt.Errorf("asciicast: write event: %w", err)
	}
	return r.err
}

func (r *Recorder) event(typ byte, at time.Duration, p []byte) error {
	if err := r.prefix(typ, at, len(p)); err != nil {
		return err
	}
	if _, err := r.bw.Write(p); err != nil {
		r.err = fmt.Errorf("asciicast: write event: %w", err)
	}
	return r.err
}

func (r *Recorder) eventString(typ byte, at time.Duration, s string) error {
	if err := r.prefix(typ, at, len(s)); err != nil {
		return err
	}
	if _, err := r.bw.WriteString(s); err != nil {
		r.err = fmt.Errorf("asciicast: write event: %w", err)
	}
	return r.err
}
