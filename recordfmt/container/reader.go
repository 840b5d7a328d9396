package container

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// FrameInfo locates one data frame.
type FrameInfo struct {
	Number    int           // frame number (0-based, file order)
	Offset    int64         // file offset of the frame header
	TFirst    time.Duration // session time of the frame's first byte
	TLast     time.Duration // session time of the frame's last byte
	RawOffset int64         // the frame's first byte in the inner stream
	RawLen    int           // bytes the frame decompresses to
	CompLen   int           // payload bytes in the file
}

// end returns the file offset just after the frame.
func (f FrameInfo) end() int64 { return f.Offset + FrameHeaderSize + int64(f.CompLen) }

// Reader gives random access to the frames of a container held in an
// io.ReaderAt. Open reads only the file header and either the trailer
// (index) or the frame headers; frame payloads are read when asked for.
// A Reader is safe for concurrent use if its io.ReaderAt is.
type Reader struct {
	r       io.ReaderAt
	size    int64
	hdr     parsedHeader
	frames  []FrameInfo
	end     int64 // end of the last complete data frame
	trailer *Trailer
	stop    error // why the frame scan ended before the end of the file
}

// readFull reads exactly len(b) bytes at off.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("container: read at offset %d: %w", off, err)
}

// readFileHeader reads and decodes the file header.
func readFileHeader(r io.ReaderAt, size int64) (parsedHeader, error) {
	if size < fileHeaderFixed {
		return parsedHeader{}, fmt.Errorf("%w: %d bytes hold no complete file header: %w", ErrMalformed, size, io.ErrUnexpectedEOF)
	}
	var fixed [fileHeaderFixed]byte
	if err := readFull(r, fixed[:], 0); err != nil {
		return parsedHeader{}, err
	}
	n, err := fileHeaderLen(fixed[:])
	if err != nil {
		return parsedHeader{}, err
	}
	if int64(n) > size {
		return parsedHeader{}, fmt.Errorf("%w: %d bytes hold no complete file header: %w", ErrMalformed, size, io.ErrUnexpectedEOF)
	}
	b := make([]byte, n)
	if err := readFull(r, b, 0); err != nil {
		return parsedHeader{}, err
	}
	return parseFileHeader(b)
}

// Open reads the container's header and frame table. It fails only when
// the file header is missing or malformed, or on a read error; a torn or
// damaged tail just ends the frame table (see Stopped).
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	hdr, err := readFileHeader(r, size)
	if err != nil {
		return nil, err
	}
	rd := &Reader{r: r, size: size, hdr: hdr, end: int64(hdr.size)}
	if t, err := readTrailer(r, size, int64(hdr.size)); err == nil {
		if err := rd.useTrailer(t); err == nil {
			return rd, nil
		}
		rd.frames, rd.trailer, rd.end = nil, nil, int64(hdr.size)
	} else if !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if err := rd.scan(size); err != nil {
		return nil, err
	}
	return rd, nil
}

// Ended reports whether the container of size bytes ends with a trailer
// (the agent finished it; Verify checks its signature) rather than being
// cut short. It reads only the file header, the footer and the trailer.
// A malformed file header is an error wrapping ErrMalformed.
func Ended(r io.ReaderAt, size int64) (bool, error) {
	hdr, err := readFileHeader(r, size)
	if err != nil {
		return false, err
	}
	_, err = readTrailer(r, size, int64(hdr.size))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrMalformed) || errors.Is(err, io.ErrUnexpectedEOF):
		return false, nil
	}
	return false, err
}

// readTrailer finds the trailer through the footer and decodes it.
func readTrailer(r io.ReaderAt, size, hdrEnd int64) (*Trailer, error) {
	if size < hdrEnd+FrameHeaderSize+1+trailerTail {
		return nil, fmt.Errorf("%w: no room for a trailer", ErrMalformed)
	}
	var foot [FooterSize]byte
	if err := readFull(r, foot[:], size-FooterSize); err != nil {
		return nil, err
	}
	toff, ok := parseFooter(foot[:])
	if !ok || toff < hdrEnd || toff > size-FrameHeaderSize-1-trailerTail {
		return nil, fmt.Errorf("%w: no trailer footer", ErrMalformed)
	}
	var hb [FrameHeaderSize]byte
	if err := readFull(r, hb[:], toff); err != nil {
		return nil, err
	}
	h, err := parseFrameHeader(hb[:])
	if err != nil {
		return nil, err
	}
	if h.typ != typeTrailer || toff+FrameHeaderSize+int64(h.compLen)+trailerTail != size {
		return nil, fmt.Errorf("%w: footer does not point at a trailer", ErrMalformed)
	}
	rest := make([]byte, int(h.compLen)+trailerTail)
	if err := readFull(r, rest, toff+FrameHeaderSize); err != nil {
		return nil, err
	}
	return decodeTrailer(h, toff, rest)
}

// decodeTrailer decodes a trailer frame from its header and the bytes that
// follow it (payload, signature, footer).
func decodeTrailer(h frameHeader, off int64, rest []byte) (*Trailer, error) {
	payload := rest[:h.compLen]
	body, err := decompress(nil, payload, int(h.rawLen))
	if err != nil {
		return nil, err
	}
	t, err := parseTrailerBody(body)
	if err != nil {
		return nil, err
	}
	t.Offset, t.TFirst, t.TLast, t.hash = off, dur(h.tFirst), dur(h.tLast), h.hash
	t.Signature = append([]byte(nil), rest[h.compLen:int(h.compLen)+SignatureSize]...)
	if int(h.num) != t.Frames {
		return nil, fmt.Errorf("%w: trailer is frame %d but counts %d data frames", ErrMalformed, h.num, t.Frames)
	}
	if foot, ok := parseFooter(rest[int(h.compLen)+SignatureSize:]); !ok || foot != off {
		return nil, fmt.Errorf("%w: trailer footer does not point at the trailer", ErrMalformed)
	}
	return &t, nil
}

// useTrailer builds the frame table from the trailer's index (or by
// scanning up to the trailer when the index was left out).
func (rd *Reader) useTrailer(t *Trailer) error {
	hdrEnd := int64(rd.hdr.size)
	if len(t.Index) == 0 {
		if t.Frames == 0 && t.Offset != hdrEnd {
			return fmt.Errorf("%w: empty recording with bytes before its trailer", ErrMalformed)
		}
		if err := rd.scan(t.Offset); err != nil {
			return err
		}
		if len(rd.frames) != t.Frames || rd.end != t.Offset {
			return fmt.Errorf("%w: trailer counts %d frames, %d found", ErrMalformed, t.Frames, len(rd.frames))
		}
		rd.trailer, rd.stop = t, nil
		return nil
	}
	frames := make([]FrameInfo, len(t.Index))
	for i, e := range t.Index {
		next, nextRaw := t.Offset, t.RawSize
		if i+1 < len(t.Index) {
			next, nextRaw = t.Index[i+1].Offset, t.Index[i+1].RawOffset
		}
		f := FrameInfo{Number: i, Offset: e.Offset, TFirst: e.TFirst, TLast: e.TLast, RawOffset: e.RawOffset,
			RawLen: int(nextRaw - e.RawOffset), CompLen: int(next - e.Offset - FrameHeaderSize)}
		prevEnd, prevLast, prevRaw := hdrEnd, time.Duration(0), int64(0)
		if i > 0 {
			prevEnd, prevLast, prevRaw = frames[i-1].end(), frames[i-1].TLast, frames[i-1].RawOffset+int64(frames[i-1].RawLen)
		}
		if f.Offset != prevEnd || f.RawOffset != prevRaw || f.TFirst < prevLast || f.TLast < f.TFirst ||
			f.RawLen < 1 || f.RawLen > MaxFrameSize || f.CompLen < 1 || f.CompLen > MaxFrameSize {
			return fmt.Errorf("%w: trailer index entry %d is inconsistent", ErrMalformed, i)
		}
		frames[i] = f
	}
	rd.frames, rd.trailer, rd.end = frames, t, t.Offset
	return nil
}

// scan reads frame headers from the end of the known frames up to limit,
// skipping payloads, and stops at the first frame that is torn, damaged or
// out of sequence, or at a trailer.
func (rd *Reader) scan(limit int64) error {
	var hb [FrameHeaderSize]byte
	off := rd.end
	for {
		if off == limit {
			return nil
		}
		if limit-off < FrameHeaderSize {
			rd.stop = fmt.Errorf("torn frame header at offset %d (%d bytes): %w", off, limit-off, io.ErrUnexpectedEOF)
			return nil
		}
		if err := readFull(rd.r, hb[:], off); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				rd.stop = fmt.Errorf("frame header at offset %d: %w", off, err)
				return nil
			}
			return err
		}
		h, err := parseFrameHeader(hb[:])
		if err != nil {
			rd.stop = fmt.Errorf("frame %d at offset %d: %w", len(rd.frames), off, err)
			return nil
		}
		if int(h.num) != len(rd.frames) {
			rd.stop = fmt.Errorf("%w: frame at offset %d is numbered %d, want %d", ErrMalformed, off, h.num, len(rd.frames))
			return nil
		}
		if h.typ == typeTrailer {
			if end := off + FrameHeaderSize + int64(h.compLen) + trailerTail; end > limit {
				rd.stop = fmt.Errorf("torn trailer at offset %d: %d of %d bytes present: %w", off, limit-off, end-off, io.ErrUnexpectedEOF)
			} else {
				rd.stop = fmt.Errorf("%w: unreadable trailer at offset %d", ErrMalformed, off)
			}
			return nil
		}
		f := FrameInfo{Number: int(h.num), Offset: off, TFirst: dur(h.tFirst), TLast: dur(h.tLast), RawLen: int(h.rawLen), CompLen: int(h.compLen)}
		if n := len(rd.frames); n > 0 {
			last := rd.frames[n-1]
			f.RawOffset = last.RawOffset + int64(last.RawLen)
			if f.TFirst < last.TLast {
				rd.stop = fmt.Errorf("%w: frame %d at offset %d starts before the previous frame ends", ErrMalformed, f.Number, off)
				return nil
			}
		}
		if f.end() > limit {
			rd.stop = fmt.Errorf("torn frame %d at offset %d: %d of %d bytes present: %w", f.Number, off, limit-off, f.end()-off, io.ErrUnexpectedEOF)
			return nil
		}
		rd.frames = append(rd.frames, f)
		off = f.end()
		rd.end = off
	}
}

// Header returns the file header.
func (rd *Reader) Header() Header { return rd.hdr.Header }

// NumFrames returns the number of complete data frames.
func (rd *Reader) NumFrames() int { return len(rd.frames) }

// Frame returns the location of data frame i.
func (rd *Reader) Frame(i int) FrameInfo { return rd.frames[i] }

// Frames returns a copy of the frame table.
func (rd *Reader) Frames() []FrameInfo { return append([]FrameInfo(nil), rd.frames...) }

// Trailer returns the trailer, if the container has a readable one. (Its
// signature is checked by Verify, not here.)
func (rd *Reader) Trailer() (Trailer, bool) {
	if rd.trailer == nil {
		return Trailer{}, false
	}
	return *rd.trailer, true
}

// End returns the file offset just after the last complete data frame.
func (rd *Reader) End() int64 { return rd.end }

// Stopped says why the frame table ends before the end of the file (a
// torn or damaged frame; it wraps io.ErrUnexpectedEOF for a torn one), or
// nil when it does not.
func (rd *Reader) Stopped() error { return rd.stop }

// RawSize returns the length of the inner stream in the complete frames.
func (rd *Reader) RawSize() int64 {
	if n := len(rd.frames); n > 0 {
		return rd.frames[n-1].RawOffset + int64(rd.frames[n-1].RawLen)
	}
	return 0
}

// Duration returns the session time of the last recorded byte.
func (rd *Reader) Duration() time.Duration {
	if n := len(rd.frames); n > 0 {
		return rd.frames[n-1].TLast
	}
	return 0
}

// SeekTime returns the index of the frame holding session time t: the
// first frame whose last byte was recorded at or after t (so a t between
// two frames gives the later one), the last frame for a t after the end,
// and -1 when there are no frames. It reads nothing.
func (rd *Reader) SeekTime(t time.Duration) int {
	n := len(rd.frames)
	if n == 0 {
		return -1
	}
	i := sort.Search(n, func(i int) bool { return rd.frames[i].TLast >= t })
	return min(i, n-1)
}

// ReadFrame returns the raw bytes of data frame i.
func (rd *Reader) ReadFrame(i int) ([]byte, error) { return rd.AppendFrame(nil, i) }

// AppendFrame appends the raw bytes of data frame i to dst. It reads only
// that frame, checks its header against the frame table and its payload
// against the zstd content checksum (not the hash chain: see Verify).
func (rd *Reader) AppendFrame(dst []byte, i int) ([]byte, error) {
	if i < 0 || i >= len(rd.frames) {
		return dst, fmt.Errorf("container: frame %d out of range [0, %d)", i, len(rd.frames))
	}
	f := rd.frames[i]
	bp := getBuf(FrameHeaderSize + f.CompLen)
	defer putBuf(bp)
	b := (*bp)[:FrameHeaderSize+f.CompLen]
	if err := readFull(rd.r, b, f.Offset); err != nil {
		return dst, fmt.Errorf("container: frame %d at offset %d: %w", i, f.Offset, err)
	}
	h, err := parseFrameHeader(b)
	if err != nil {
		return dst, fmt.Errorf("container: frame %d at offset %d: %w", i, f.Offset, err)
	}
	if h.typ != typeData || int(h.num) != i || dur(h.tFirst) != f.TFirst || dur(h.tLast) != f.TLast ||
		int(h.rawLen) != f.RawLen || int(h.compLen) != f.CompLen {
		return dst, fmt.Errorf("%w: frame %d at offset %d does not match the index", ErrMalformed, i, f.Offset)
	}
	out, err := decompress(dst, b[FrameHeaderSize:], f.RawLen)
	if err != nil {
		return dst, fmt.Errorf("container: frame %d at offset %d: %w", i, f.Offset, err)
	}
	return out, nil
}

// StreamFrom returns the inner stream from the first byte of data frame
// from to the end of the last complete frame, decoding one frame at a time.
func (rd *Reader) StreamFrom(from int) io.Reader {
	return &streamReader{rd: rd, next: max(from, 0)}
}

type streamReader struct {
	rd   *Reader
	next int
	buf  []byte
	pos  int
	err  error
}

func (s *streamReader) Read(p []byte) (int, error) {
	for s.pos == len(s.buf) {
		if s.err != nil {
			return 0, s.err
		}
		if s.next >= len(s.rd.frames) {
			s.err = io.EOF
			return 0, io.EOF
		}
		b, err := s.rd.AppendFrame(s.buf[:0], s.next)
		if err != nil {
			s.err = err
			return 0, err
		}
		s.buf, s.pos = b, 0
		s.next++
	}
	n := copy(p, s.buf[s.pos:])
	s.pos += n
	return n, nil
}
