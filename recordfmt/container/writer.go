package container

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// Frame sizes a Writer accepts.
const (
	DefaultFrameSize = 256 << 10
	MaxWriterFrame   = 4 << 20 // keeps the compressed size far below MaxFrameSize
	minWriterFrame   = 512
)

// Config tunes a Writer. The zero value is usable.
type Config struct {
	// FrameSize is the raw size at which a frame is closed without waiting
	// for Flush; default DefaultFrameSize, between 512 bytes and
	// MaxWriterFrame.
	FrameSize int
	// Now stamps Header.CreatedAt when it is zero; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.FrameSize <= 0 {
		c.FrameSize = DefaultFrameSize
	}
	c.FrameSize = min(max(c.FrameSize, minWriterFrame), MaxWriterFrame)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Writer writes one recording container. It is safe for concurrent use.
// Every frame reaches the destination in exactly one Write call. The first
// error is sticky.
type Writer struct {
	cfg Config
	dst io.Writer

	mu       sync.Mutex
	hdr      parsedHeader
	raw      []byte // the open frame's raw bytes
	tFirst   int64  // µs, of the open frame
	tLast    int64  // µs, the latest write so far (never decreases)
	num      uint32 // the next frame number
	prev     [32]byte
	off      int64 // bytes written to dst
	rawOff   int64 // raw bytes in closed frames
	index    []byte
	firstT   int64
	sha      *chainer
	err      error
	finished bool
}

// NewWriter writes the file header for h to dst and returns a Writer for
// the frames.
func NewWriter(dst io.Writer, h Header, cfg Config) (*Writer, error) {
	cfg = cfg.withDefaults()
	if h.CreatedAt.IsZero() {
		h.CreatedAt = cfg.Now()
	}
	h.CreatedAt = h.CreatedAt.UTC()
	b, err := encodeFileHeader(h)
	if err != nil {
		return nil, err
	}
	ph, err := parseFileHeader(b)
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(b); err != nil {
		return nil, fmt.Errorf("container: write file header: %w", err)
	}
	return &Writer{cfg: cfg, dst: dst, hdr: ph, prev: ph.digest, off: int64(len(b)), sha: newChainer()}, nil
}

// Header returns the file header as written.
func (w *Writer) Header() Header { return w.hdr.Header }

// Write appends p, recorded at session time at, to the inner stream. Times
// never go backwards in a container: an earlier at than a previous write's
// counts as that write's time (and a negative one as 0). A write larger
// than the room left in the open frame is split across frames.
func (w *Writer) Write(at time.Duration, p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	t := max(us(at), 0, w.tLast)
	w.tLast = t
	n := 0
	for len(p) > 0 {
		if len(w.raw) == 0 {
			w.tFirst = t
		}
		take := min(w.cfg.FrameSize-len(w.raw), len(p))
		w.raw = append(w.raw, p[:take]...)
		p, n = p[take:], n+take
		if len(w.raw) >= w.cfg.FrameSize {
			if err := w.emitLocked(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Flush closes the open frame, writing it to the destination. A Flush with
// nothing buffered writes nothing.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.emitLocked()
}

func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return ErrClosed
	}
	return nil
}

// emitLocked writes the open frame, if any, as one data frame.
func (w *Writer) emitLocked() error {
	if len(w.raw) == 0 {
		return nil
	}
	h := frameHeader{typ: typeData, num: w.num, tFirst: w.tFirst, tLast: w.tLast, rawLen: uint32(len(w.raw))}
	if err := w.writeFrameLocked(&h, w.raw, nil); err != nil {
		return err
	}
	if w.num == 0 {
		w.firstT = h.tFirst
	}
	w.index = appendIndexEntry(w.index, w.off, h.tFirst, h.tLast, w.rawOff)
	w.num++
	w.prev = h.hash
	w.off += int64(FrameHeaderSize) + int64(h.compLen)
	w.rawOff += int64(len(w.raw))
	w.raw = w.raw[:0]
	return nil
}

// encodeFrameLocked appends to out the frame of body (header with h's
// lengths and chain hash filled in, compressed payload) and tail.
func (w *Writer) encodeFrameLocked(out []byte, h *frameHeader, body, tail []byte) ([]byte, error) {
	start := len(out)
	out = append(out, make([]byte, FrameHeaderSize)...)
	out, err := compress(out, body)
	if err != nil {
		return out, err
	}
	clen := len(out) - start - FrameHeaderSize
	if clen > MaxFrameSize {
		return out, fmt.Errorf("container: frame compressed to %d bytes, over the %d byte limit", clen, MaxFrameSize)
	}
	hdr := out[start : start+FrameHeaderSize]
	h.compLen = uint32(clen)
	h.put(hdr)
	h.hash = w.sha.next(&w.prev, hdr, out[start+FrameHeaderSize:])
	h.put(hdr)
	return append(out, tail...), nil
}

// writeFrameLocked compresses body, fills in h's lengths and chain hash,
// and writes header, payload and tail with one Write call.
func (w *Writer) writeFrameLocked(h *frameHeader, body, tail []byte) error {
	bp := getBuf(FrameHeaderSize + len(body) + len(body)/64 + 64 + len(tail))
	defer putBuf(bp)
	out, err := w.encodeFrameLocked((*bp)[:0], h, body, tail)
	*bp = out
	if err != nil {
		w.err = err
		return err
	}
	if _, err := w.dst.Write(out); err != nil {
		w.err = fmt.Errorf("container: write frame %d: %w", h.num, err)
		return w.err
	}
	return nil
}

// Finish flushes the open frame and writes the trailer: the chain head,
// the totals, the time index and the Ed25519 signature by signer (see the
// package comment). The Writer accepts nothing afterwards.
func (w *Writer) Finish(signer ed25519.PrivateKey) error {
	if len(signer) != ed25519.PrivateKeySize {
		return fmt.Errorf("container: finish: signing key has %d bytes, want %d", len(signer), ed25519.PrivateKeySize)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.emitLocked(); err != nil {
		return err
	}
	index := w.index
	if w.num > MaxIndexEntries {
		index = nil
	}
	body := make([]byte, 0, trailerFixed+len(index))
	body = append(body, w.hdr.digest[:]...)
	body = append(body, w.prev[:]...)
	body = binary.BigEndian.AppendUint64(body, uint64(w.rawOff))
	body = binary.BigEndian.AppendUint32(body, w.num)
	body = binary.BigEndian.AppendUint32(body, uint32(len(index)/indexEntrySize))
	body = append(body, signer.Public().(ed25519.PublicKey)...)
	body = append(body, index...)

	indexDigest := sha256.Sum256(index)
	sig := ed25519.Sign(signer, signedMessage(&w.hdr.digest, &w.prev, w.rawOff, w.num, &indexDigest))
	tail := make([]byte, 0, trailerTail)
	tail = append(tail, sig...)
	tail = binary.BigEndian.AppendUint64(tail, uint64(w.off))
	tail = append(tail, FooterMagic...)

	h := frameHeader{typ: typeTrailer, num: w.num, tFirst: w.firstT, tLast: w.tLast, rawLen: uint32(len(body))}
	if err := w.writeFrameLocked(&h, body, tail); err != nil {
		return err
	}
	w.off += int64(FrameHeaderSize) + int64(h.compLen) + trailerTail
	w.finished = true
	return nil
}

// Close flushes the open frame and ends the recording without a trailer:
// it stays readable and verifies as cut short (StatusUnsignedCut). Close
// after Finish or Close does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return nil
	}
	if w.err != nil {
		w.finished = true
		return w.err
	}
	err := w.emitLocked()
	w.finished = true
	return err
}

// Stats is what a Writer has written so far.
type Stats struct {
	Frames    int           // data frames written
	RawSize   int64         // inner-stream bytes in written frames
	Buffered  int           // inner-stream bytes in the open frame
	Size      int64         // container bytes written
	LastTime  time.Duration // session time of the latest write
	ChainHead [32]byte      // chain hash of the last frame written
}

// Stats returns what the Writer has written so far.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{Frames: int(w.num), RawSize: w.rawOff, Buffered: len(w.raw), Size: w.off, LastTime: dur(w.tLast), ChainHead: w.prev}
}
