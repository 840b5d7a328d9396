package asciicast

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// maxMicros bounds event times so that they fit a time.Duration.
const maxMicros = math.MaxInt64 / int64(time.Microsecond)

// Record is one event of the stored form.
type Record struct {
	Type byte          // TypeOutput, TypeInput, TypeResize or TypeMarker
	Time time.Duration // since the session start, microsecond resolution
	// Data is the payload of output, input and marker events. It is valid
	// only until the next call to Next.
	Data       []byte
	Cols, Rows int // the new size, for TypeResize
}

// Reader reads the stored form written by a Recorder.
type Reader struct {
	br  *bufio.Reader
	hdr Header
	off int64 // bytes consumed so far
	n   int   // events returned so far
	now uint64
	buf []byte
	err error
}

// NewReader reads the preamble and header from r. A stream that is not the
// stored form, or whose header is malformed, is an error wrapping
// ErrMalformed (or ErrTruncated when it ends inside the header).
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10)}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

func (rd *Reader) readHeader() error {
	var pre [len(Magic) + 1]byte
	n, err := io.ReadFull(rd.br, pre[:])
	rd.off += int64(n)
	switch {
	case err == io.EOF:
		return fmt.Errorf("%w: empty stream, want the stored form", ErrMalformed)
	case err == io.ErrUnexpectedEOF:
		if string(pre[:n]) == Magic[:min(n, len(Magic))] {
			return fmt.Errorf("%w: stream ends inside the preamble", ErrTruncated)
		}
		return fmt.Errorf("%w: not the stored form (no %q magic)", ErrMalformed, Magic)
	case err != nil:
		return fmt.Errorf("asciicast: read preamble: %w", err)
	}
	if string(pre[:len(Magic)]) != Magic {
		return fmt.Errorf("%w: not the stored form (no %q magic)", ErrMalformed, Magic)
	}
	if v := pre[len(Magic)]; v != Version {
		return fmt.Errorf("%w: stored form version %d, this reader knows %d", ErrMalformed, v, Version)
	}
	size, err := rd.uvarint("header length")
	if err != nil {
		return err
	}
	if size > MaxHeaderSize {
		return fmt.Errorf("%w: header length %d exceeds %d", ErrMalformed, size, MaxHeaderSize)
	}
	js := make([]byte, size)
	if err := rd.full(js, "header"); err != nil {
		return err
	}
	var sh storedHeader
	if err := json.Unmarshal(js, &sh); err != nil {
		return fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if sh.Width < 0 || sh.Height < 0 {
		return fmt.Errorf("%w: header: negative size %dx%d", ErrMalformed, sh.Width, sh.Height)
	}
	rd.hdr = sh.header()
	return nil
}

// Header returns the recording's header.
func (rd *Reader) Header() Header { return rd.hdr }

// Next returns the next event, io.EOF after the last one, an error wrapping
// ErrTruncated when the stream ends inside an event, or an error wrapping
// ErrMalformed naming the event and byte offset. Events of unknown types are
// skipped. After an error every further call returns the same error.
func (rd *Reader) Next() (Record, error) {
	if rd.err != nil {
		return Record{}, rd.err
	}
	rec, err := rd.next()
	if err != nil {
		rd.err = err
	}
	return rec, err
}

func (rd *Reader) next() (Record, error) {
	for {
		start := rd.off
		typ, err := rd.br.ReadByte()
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, fmt.Errorf("asciicast: read event %d: %w", rd.n+1, err)
		}
		rd.off++
		delta, err := rd.uvarint("event time")
		if err != nil {
			return Record{}, err
		}
		if delta > uint64(maxMicros) || rd.now+delta > uint64(maxMicros) {
			return Record{}, rd.malformed(start, "time overflows")
		}
		size, err := rd.uvarint("event length")
		if err != nil {
			return Record{}, err
		}
		if size > MaxEventSize {
			return Record{}, rd.malformed(start, fmt.Sprintf("length %d exceeds %d", size, MaxEventSize))
		}
		if uint64(cap(rd.buf)) < size {
			rd.buf = make([]byte, size, max(size, 4096))
		}
		rd.buf = rd.buf[:size]
		if err := rd.full(rd.buf, "event payload"); err != nil {
			return Record{}, err
		}
		rd.now += delta
		rec := Record{Type: typ, Time: time.Duration(rd.now) * time.Microsecond}
		switch typ {
		case TypeOutput, TypeInput, TypeMarker:
			rec.Data = rd.buf
		case TypeResize:
			cols, n := binary.Uvarint(rd.buf)
			if n <= 0 || cols > math.MaxInt32 {
				return Record{}, rd.malformed(start, "resize: bad column count")
			}
			rows, m := binary.Uvarint(rd.buf[n:])
			if m <= 0 || rows > math.MaxInt32 {
				return Record{}, rd.malformed(start, "resize: bad row count")
			}
			if n+m != len(rd.buf) {
				return Record{}, rd.malformed(start, "resize: trailing bytes")
			}
			rec.Cols, rec.Rows = int(cols), int(rows)
		default:
			continue // a later version's event type: skip
		}
		rd.n++
		return rec, nil
	}
}

func (rd *Reader) malformed(at int64, what string) error {
	return fmt.Errorf("%w: event %d at byte %d: %s", ErrMalformed, rd.n+1, at, what)
}

func (rd *Reader) uvarint(what string) (uint64, error) {
	var v uint64
	for i := 0; ; i++ {
		b, err := rd.br.ReadByte()
		if err == io.EOF {
			return 0, fmt.Errorf("%w: stream ends inside the %s at byte %d", ErrTruncated, what, rd.off)
		}
		if err != nil {
			return 0, fmt.Errorf("asciicast: read %s: %w", what, err)
		}
		rd.off++
		if i == binary.MaxVarintLen64-1 && b > 1 || i >= binary.MaxVarintLen64 {
			return 0, fmt.Errorf("%w: %s at byte %d: varint overflows 64 bits", ErrMalformed, what, rd.off)
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
}

func (rd *Reader) full(p []byte, what string) error {
	n, err := io.ReadFull(rd.br, p)
	rd.off += int64(n)
	switch {
	case err == nil:
		return nil
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: stream ends inside the %s at byte %d", ErrTruncated, what, rd.off)
	default:
		return fmt.Errorf("asciicast: read %s: %w", what, err)
	}
}
