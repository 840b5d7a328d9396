package container

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Frame is one decoded data frame.
type Frame struct {
	FrameInfo
	// Data is the frame's raw bytes not returned before: all of them, or,
	// for a newer version of the last frame (see Snapshot), only the bytes
	// it added. It is valid until the next call to Decoder.Next.
	Data []byte
}

// Decoder reads a container from a stream as it arrives (a live
// recording: a file being appended to, chunks received from an upload). It
// checks each frame's header, sequence and hash chain. When the stream
// holds no complete frame yet, Next returns ErrNeedMore and keeps what it
// has; a later call continues once the reader has more. A malformed or
// altered stream makes every later call return the same error. A Decoder
// is not safe for concurrent use.
type Decoder struct {
	r      io.Reader
	buf    []byte // unconsumed bytes are buf[start:]
	start  int
	off    int64 // file offset of buf[start]
	hdr    *parsedHeader
	prev   [32]byte
	num    uint32
	rawOff int64
	tLast  int64
	sha    *chainer
	out    []byte
	tr     *Trailer
	err    error

	// For re-sent frames (see Snapshot): the chain hash of every data
	// frame so far, the last frame's raw bytes, raw offset and first time.
	hdrBytes   []byte
	hashes     [][32]byte
	offsets    []int64
	last       []byte
	lastStart  int64
	lastTFirst int64
	// lastEnd is the file offset after the version of the last frame
	// returned (where the trailer follows it), and trBytes the trailer's
	// bytes: a live stream may deliver a copy of it.
	lastEnd int64
	trBytes []byte
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder { return &Decoder{r: r, sha: newChainer()} }

// need makes sure at least n unconsumed bytes are buffered, reading from
// the stream; ErrNeedMore when the stream has no more for now. Memory grows
// with the bytes actually received, never with a length field.
func (d *Decoder) need(n int) error {
	for len(d.buf)-d.start < n {
		if d.start > 0 && d.start >= len(d.buf)/2 {
			d.buf = d.buf[:copy(d.buf, d.buf[d.start:])]
			d.start = 0
		}
		if cap(d.buf)-len(d.buf) < 4096 {
			want := min(max(2*cap(d.buf), 32<<10), len(d.buf)+max(n-(len(d.buf)-d.start), 64<<10))
			want = max(want, len(d.buf)+4096)
			grown := make([]byte, len(d.buf), want)
			copy(grown, d.buf)
			d.buf = grown
		}
		m, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		if m > 0 {
			continue
		}
		if err == nil || errors.Is(err, io.EOF) {
			return ErrNeedMore
		}
		return fmt.Errorf("container: read stream: %w", err)
	}
	return nil
}

func (d *Decoder) consume(n int) {
	d.start += n
	d.off += int64(n)
}

func (d *Decoder) fail(err error) error {
	d.err = err
	return err
}

// Header reads the file header if needed and returns it.
func (d *Decoder) Header() (Header, error) {
	if d.hdr != nil {
		return d.hdr.Header, nil
	}
	if d.err != nil {
		return Header{}, d.err
	}
	if err := d.need(fileHeaderFixed); err != nil {
		return Header{}, err
	}
	n, err := fileHeaderLen(d.buf[d.start:])
	if err != nil {
		return Header{}, d.fail(err)
	}
	if err := d.need(n); err != nil {
		return Header{}, err
	}
	ph, err := parseFileHeader(d.buf[d.start : d.start+n])
	if err != nil {
		return Header{}, d.fail(err)
	}
	d.hdr, d.prev = &ph, ph.digest
	d.hdrBytes = append([]byte(nil), d.buf[d.start:d.start+n]...)
	d.consume(n)
	return ph.Header, nil
}

// Next returns the next data frame. It returns ErrNeedMore (which wraps
// io.ErrUnexpectedEOF) when no complete frame is buffered yet, and io.EOF
// after the trailer, which is then available from Trailer.
func (d *Decoder) Next() (Frame, error) {
	if _, err := d.Header(); err != nil {
		return Frame{}, err
	}
	if d.err != nil {
		return Frame{}, d.err
	}
	if d.tr != nil {
		return d.afterTrailer()
	}
	if err := d.need(1); err != nil {
		return Frame{}, err
	}
	if d.buf[d.start] == Magic[0] {
		// The file header again (a stream re-sent from its start).
		if err := d.need(len(d.hdrBytes)); err != nil {
			return Frame{}, err
		}
		if !bytes.Equal(d.buf[d.start:d.start+len(d.hdrBytes)], d.hdrBytes) {
			return Frame{}, d.fail(fmt.Errorf("%w: a different file header at offset %d", ErrMalformed, d.off))
		}
		d.start += len(d.hdrBytes)
		d.off = int64(len(d.hdrBytes))
		return d.Next()
	}
	if err := d.need(FrameHeaderSize); err != nil {
		return Frame{}, err
	}
	h, err := parseFrameHeader(d.buf[d.start:])
	if err != nil {
		return Frame{}, d.fail(fmt.Errorf("frame %d at offset %d: %w", d.num, d.off, err))
	}
	resent := h.typ == typeData && h.num < d.num
	if h.num != d.num && !resent {
		return Frame{}, d.fail(fmt.Errorf("%w: frame at offset %d is numbered %d, want %d", ErrMalformed, d.off, h.num, d.num))
	}
	if h.typ == typeData && !resent && h.tFirst < d.tLast {
		return Frame{}, d.fail(fmt.Errorf("%w: frame %d at offset %d starts before the previous frame ends", ErrMalformed, h.num, d.off))
	}
	total := FrameHeaderSize + int(h.compLen)
	if h.typ == typeTrailer {
		total += trailerTail
	}
	if err := d.need(total); err != nil {
		return Frame{}, err
	}
	b := d.buf[d.start : d.start+total]
	payload := b[FrameHeaderSize : FrameHeaderSize+int(h.compLen)]
	if resent {
		d.off = d.offsets[h.num] // the frame's place in the file
		f, ok, err := d.resent(h, b, payload)
		if err != nil {
			return Frame{}, d.fail(err)
		}
		d.consume(total)
		if !ok {
			return d.Next()
		}
		return f, nil
	}
	if d.sha.next(&d.prev, b, payload) != h.hash {
		return Frame{}, d.fail(fmt.Errorf("%w: frame %d at offset %d", ErrChain, h.num, d.off))
	}
	if h.typ == typeTrailer {
		if d.num > 0 {
			// After re-sent versions of the last frame the stream offset
			// is not the file's: the trailer follows the version returned.
			d.off = d.lastEnd
		}
		t, err := decodeTrailer(h, d.off, b[FrameHeaderSize:])
		if err != nil {
			return Frame{}, d.fail(fmt.Errorf("trailer at offset %d: %w", d.off, err))
		}
		if t.HeaderDigest != d.hdr.digest || t.ChainHead != d.prev || t.RawSize != d.rawOff {
			return Frame{}, d.fail(fmt.Errorf("%w: trailer at offset %d does not match the frames before it", ErrMalformed, d.off))
		}
		d.tr = t
		d.trBytes = append([]byte(nil), b...)
		d.prev = h.hash
		d.consume(total)
		return d.Next()
	}
	out, err := decompress(d.out[:0], payload, int(h.rawLen))
	if err != nil {
		return Frame{}, d.fail(fmt.Errorf("frame %d at offset %d: %w", h.num, d.off, err))
	}
	// The two buffers alternate: the last frame's raw bytes stay available
	// to check a newer version of it against.
	d.out, d.last = d.last, out
	f := Frame{FrameInfo: FrameInfo{Number: int(h.num), Offset: d.off, TFirst: dur(h.tFirst), TLast: dur(h.tLast),
		RawOffset: d.rawOff, RawLen: int(h.rawLen), CompLen: int(h.compLen)}, Data: out}
	d.hashes = append(d.hashes, h.hash)
	d.offsets = append(d.offsets, d.off)
	d.lastStart, d.lastTFirst = d.rawOff, h.tFirst
	d.prev, d.num, d.tLast = h.hash, d.num+1, h.tLast
	d.rawOff += int64(h.rawLen)
	d.consume(total)
	d.lastEnd = d.off
	return f, nil
}

// afterTrailer skips what a live stream may still deliver after the
// trailer — the file header again, copies of the trailer, copies and
// older versions of data frames (a watcher caught up from storage while older chunks were still
// queued) — and returns io.EOF once nothing more is buffered. Anything
// else after the trailer (a new frame, a newer version of one) is
// malformed. Offset stays at the end of the trailer.
func (d *Decoder) afterTrailer() (Frame, error) {
	end := d.off
	defer func() { d.off = end }()
	for {
		if err := d.need(1); err != nil {
			return Frame{}, io.EOF
		}
		malformed := func() (Frame, error) {
			return Frame{}, d.fail(fmt.Errorf("%w: bytes after the trailer at offset %d", ErrMalformed, end))
		}
		if d.buf[d.start] == Magic[0] {
			if err := d.need(len(d.hdrBytes)); err != nil {
				return Frame{}, err
			}
			if !bytes.Equal(d.buf[d.start:d.start+len(d.hdrBytes)], d.hdrBytes) {
				return malformed()
			}
			d.consume(len(d.hdrBytes))
			continue
		}
		if d.buf[d.start] == typeTrailer {
			if err := d.need(len(d.trBytes)); err != nil {
				return Frame{}, err
			}
			if !bytes.Equal(d.buf[d.start:d.start+len(d.trBytes)], d.trBytes) {
				return malformed()
			}
			d.consume(len(d.trBytes))
			continue
		}
		if d.buf[d.start] != typeData {
			return malformed()
		}
		if err := d.need(FrameHeaderSize); err != nil {
			return Frame{}, err
		}
		h, err := parseFrameHeader(d.buf[d.start:])
		if err != nil || h.typ != typeData || h.num >= d.num {
			return malformed()
		}
		total := FrameHeaderSize + int(h.compLen)
		if err := d.need(total); err != nil {
			return Frame{}, err
		}
		b := d.buf[d.start : d.start+total]
		d.off = d.offsets[h.num]
		_, newer, err := d.resent(h, b, b[FrameHeaderSize:])
		if err != nil {
			return Frame{}, d.fail(err)
		}
		if newer {
			return malformed()
		}
		d.consume(total)
	}
}

// Trailer returns the trailer once Next has returned io.EOF. (Its
// signature is checked by Verify.)
func (d *Decoder) Trailer() (Trailer, bool) {
	if d.tr == nil {
		return Trailer{}, false
	}
	return *d.tr, true
}

// resent checks a frame numbered below the next expected number, which
// must link to the chain where its number says. A live stream may deliver
// versions of a frame out of order (a watcher catching up from storage
// while older chunks are still queued), so a copy of a frame, a version of
// a closed frame (closed frames are final: any other version is an older
// snapshot) and an older version of the last frame (its raw bytes a
// prefix of the version returned) are skipped: ok false. A newer version
// of the last frame must extend the version returned; f holds the added
// bytes. (Verify, not the Decoder, is the integrity check of a stored
// recording.)
func (d *Decoder) resent(h frameHeader, b, payload []byte) (f Frame, ok bool, err error) {
	j := int(h.num)
	prev := d.hdr.digest
	if j > 0 {
		prev = d.hashes[j-1]
	}
	hash := d.sha.next(&prev, b, payload)
	if hash != h.hash {
		return f, false, fmt.Errorf("%w: re-sent frame %d at offset %d", ErrChain, j, d.off)
	}
	if hash == d.hashes[j] || j != len(d.hashes)-1 {
		return f, false, nil
	}
	if h.tFirst != d.lastTFirst {
		return f, false, fmt.Errorf("%w: frame %d at offset %d is not a version of the frame returned", ErrMalformed, j, d.off)
	}
	out, err := decompress(d.out[:0], payload, int(h.rawLen))
	if err != nil {
		return f, false, fmt.Errorf("frame %d at offset %d: %w", j, d.off, err)
	}
	d.out = out
	if len(out) <= len(d.last) {
		if !bytes.Equal(out, d.last[:len(out)]) {
			return f, false, fmt.Errorf("%w: frame %d at offset %d changes bytes of the version returned", ErrMalformed, j, d.off)
		}
		return f, false, nil // an older version
	}
	if !bytes.Equal(out[:len(d.last)], d.last) || h.tLast < d.tLast {
		return f, false, fmt.Errorf("%w: frame %d at offset %d changes bytes of the version returned", ErrMalformed, j, d.off)
	}
	added := out[len(d.last):]
	d.out, d.last = d.last, out
	f = Frame{FrameInfo: FrameInfo{Number: j, Offset: d.off, TFirst: dur(h.tFirst), TLast: dur(h.tLast),
		RawOffset: d.lastStart, RawLen: int(h.rawLen), CompLen: int(h.compLen)}, Data: added}
	d.hashes[j], d.prev, d.tLast = hash, hash, h.tLast
	d.rawOff = d.lastStart + int64(h.rawLen)
	d.lastEnd = d.off + int64(len(b))
	return f, true, nil
}

// Offset returns the file offset of the end of the last decoded frame: the
// number of stream bytes consumed, unless frames were re-sent.
func (d *Decoder) Offset() int64 { return d.off }
