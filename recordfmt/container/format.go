package container

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Sizes and limits of the layout (see the package comment).
const (
	Magic           = "OPREC"
	Version         = 1
	MaxHeaderJSON   = 64 << 10
	FrameHeaderSize = 68
	MaxFrameSize    = 16 << 20
	SignatureSize   = 64
	FooterSize      = 16
	FooterMagic     = "OPRECEND"
	// MaxIndexEntries is the most index entries a trailer body can hold.
	MaxIndexEntries = (MaxFrameSize - trailerFixed) / indexEntrySize

	fileHeaderFixed = 10 // magic, version, JSON length
	trailerFixed    = 112
	indexEntrySize  = 32
	trailerTail     = SignatureSize + FooterSize
	signatureDomain = "OPREC signature v1\x00"

	maxTimeUs = math.MaxInt64 / 1000 // session times fit a time.Duration

	typeData    byte = 'D'
	typeTrailer byte = 'T'
)

// Errors wrapped by this package.
var (
	// ErrMalformed: the bytes are not a valid container (or not at the
	// place they were expected).
	ErrMalformed = errors.New("malformed recording container")
	// ErrChain: a frame does not match the hash chain.
	ErrChain = errors.New("recording frame does not match the hash chain")
	// ErrNeedMore: a stream holds no complete frame yet (a live recording,
	// or one cut short). It wraps io.ErrUnexpectedEOF.
	ErrNeedMore = fmt.Errorf("recording container: need more data: %w", io.ErrUnexpectedEOF)
	// ErrClosed: the Writer was finished or closed.
	ErrClosed = errors.New("recording container writer closed")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the file header's JSON.
type Header struct {
	SessionID string              `json:"session_id"`
	Format    api.RecordingFormat `json:"format"`
	AgentID   string              `json:"agent_id,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
}

func (h Header) validate() error {
	if h.SessionID == "" {
		return fmt.Errorf("%w: header has no session_id", ErrMalformed)
	}
	if h.Format == "" {
		return fmt.Errorf("%w: header has no format", ErrMalformed)
	}
	return nil
}

// encodeFileHeader returns the complete file header bytes.
func encodeFileHeader(h Header) ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("container: encode header: %w", err)
	}
	if len(js) > MaxHeaderJSON {
		return nil, fmt.Errorf("%w: header JSON of %d bytes exceeds %d", ErrMalformed, len(js), MaxHeaderJSON)
	}
	b := make([]byte, 0, fileHeaderFixed+len(js)+4)
	b = append(b, Magic...)
	b = append(b, Version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b, nil
}

// fileHeaderLen checks the fixed part of a file header (at least
// fileHeaderFixed bytes) and returns the length of the whole header.
func fileHeaderLen(fixed []byte) (int, error) {
	if string(fixed[:5]) != Magic {
		return 0, fmt.Errorf("%w: bad magic %q (not a recording container)", ErrMalformed, fixed[:5])
	}
	if fixed[5] != Version {
		return 0, fmt.Errorf("%w: unsupported version %d", ErrMalformed, fixed[5])
	}
	n := binary.BigEndian.Uint32(fixed[6:10])
	if n < 2 || n > MaxHeaderJSON {
		return 0, fmt.Errorf("%w: header JSON length %d out of range", ErrMalformed, n)
	}
	return fileHeaderFixed + int(n) + 4, nil
}

// parsedHeader is a decoded file header.
type parsedHeader struct {
	Header
	size   int      // bytes in the file
	digest [32]byte // D = h_0
}

// parseFileHeader decodes a complete file header (as sized by fileHeaderLen).
func parseFileHeader(b []byte) (parsedHeader, error) {
	n := len(b) - 4
	if got, want := binary.BigEndian.Uint32(b[n:]), crc32.Checksum(b[:n], castagnoli); got != want {
		return parsedHeader{}, fmt.Errorf("%w: file header checksum mismatch", ErrMalformed)
	}
	js := b[fileHeaderFixed:n]
	if len(bytes.TrimSpace(js)) == 0 || bytes.TrimSpace(js)[0] != '{' {
		return parsedHeader{}, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	var h Header
	if err := json.Unmarshal(js, &h); err != nil {
		return parsedHeader{}, fmt.Errorf("%w: header JSON: %v", ErrMalformed, err)
	}
	if err := h.validate(); err != nil {
		return parsedHeader{}, err
	}
	return parsedHeader{Header: h, size: len(b), digest: sha256.Sum256(b[:n])}, nil
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	typ     byte
	num     uint32
	tFirst  int64 // µs
	tLast   int64 // µs
	rawLen  uint32
	compLen uint32
	hash    [32]byte
}

// put writes the header into b[:FrameHeaderSize], CRC included.
func (h *frameHeader) put(b []byte) {
	b = b[:FrameHeaderSize]
	b[0] = h.typ
	b[1], b[2], b[3] = 0, 0, 0
	binary.BigEndian.PutUint32(b[4:], h.num)
	binary.BigEndian.PutUint64(b[8:], uint64(h.tFirst))
	binary.BigEndian.PutUint64(b[16:], uint64(h.tLast))
	binary.BigEndian.PutUint32(b[24:], h.rawLen)
	binary.BigEndian.PutUint32(b[28:], h.compLen)
	copy(b[32:64], h.hash[:])
	binary.BigEndian.PutUint32(b[64:], crc32.Checksum(b[:64], castagnoli))
}

// errHeaderCRC marks a frame header whose checksum does not match.
var errHeaderCRC = fmt.Errorf("%w: frame header checksum mismatch", ErrMalformed)

// parseFrameHeader decodes and checks b[:FrameHeaderSize].
func parseFrameHeader(b []byte) (frameHeader, error) {
	b = b[:FrameHeaderSize]
	if binary.BigEndian.Uint32(b[64:]) != crc32.Checksum(b[:64], castagnoli) {
		return frameHeader{}, errHeaderCRC
	}
	h := frameHeader{
		typ:     b[0],
		num:     binary.BigEndian.Uint32(b[4:]),
		tFirst:  int64(binary.BigEndian.Uint64(b[8:])),
		tLast:   int64(binary.BigEndian.Uint64(b[16:])),
		rawLen:  binary.BigEndian.Uint32(b[24:]),
		compLen: binary.BigEndian.Uint32(b[28:]),
	}
	copy(h.hash[:], b[32:64])
	switch {
	case h.typ != typeData && h.typ != typeTrailer:
		return h, fmt.Errorf("%w: unknown frame type 0x%02x", ErrMalformed, h.typ)
	case b[1] != 0 || b[2] != 0 || b[3] != 0:
		return h, fmt.Errorf("%w: reserved frame header bytes are not zero", ErrMalformed)
	case h.tFirst < 0 || h.tLast < h.tFirst || h.tLast > maxTimeUs:
		return h, fmt.Errorf("%w: bad frame time range [%d, %d] µs", ErrMalformed, h.tFirst, h.tLast)
	case h.rawLen == 0 || h.rawLen > MaxFrameSize:
		return h, fmt.Errorf("%w: raw length %d out of range", ErrMalformed, h.rawLen)
	case h.compLen == 0 || h.compLen > MaxFrameSize:
		return h, fmt.Errorf("%w: compressed length %d out of range", ErrMalformed, h.compLen)
	case h.typ == typeTrailer && (h.rawLen < trailerFixed || (h.rawLen-trailerFixed)%indexEntrySize != 0):
		return h, fmt.Errorf("%w: trailer body length %d", ErrMalformed, h.rawLen)
	}
	return h, nil
}

// chainer computes chain hashes with one reused SHA-256 state.
type chainer struct {
	h   hash.Hash
	sum []byte
}

func newChainer() *chainer { return &chainer{h: sha256.New(), sum: make([]byte, 0, sha256.Size)} }

// next computes h_i from h_{i-1}, the frame header bytes and the payload.
func (c *chainer) next(prev *[32]byte, hdr, payload []byte) (out [32]byte) {
	c.h.Reset()
	c.h.Write(prev[:])
	c.h.Write(hdr[:32])
	c.h.Write(payload)
	c.sum = c.h.Sum(c.sum[:0])
	copy(out[:], c.sum)
	return out
}

// IndexEntry locates one data frame (an entry of the trailer index).
type IndexEntry struct {
	Offset    int64         // file offset of the frame header
	TFirst    time.Duration // session time of the frame's first byte
	TLast     time.Duration // session time of the frame's last byte
	RawOffset int64         // the frame's first byte in the inner stream
}

// Trailer is a decoded trailer frame.
type Trailer struct {
	Offset       int64             // file offset of the trailer frame header
	HeaderDigest [32]byte          // D
	ChainHead    [32]byte          // h_N
	RawSize      int64             // the inner stream's length
	Frames       int               // N, the number of data frames
	SignerKey    []byte            // the signer's Ed25519 public key
	Signature    []byte            // Ed25519 signature (see the package comment)
	Index        []IndexEntry      // one entry per data frame; empty when left out
	TFirst       time.Duration     // session time span of the recording
	TLast        time.Duration     //
	hash         [32]byte          // the trailer frame's own chain hash
	indexDigest  [sha256.Size]byte // SHA-256 of the index bytes
}

// signedMessage returns the message the signature covers.
func signedMessage(digest, head *[32]byte, rawSize int64, frames uint32, indexDigest *[32]byte) []byte {
	m := make([]byte, 0, len(signatureDomain)+32+32+8+4+32)
	m = append(m, signatureDomain...)
	m = append(m, digest[:]...)
	m = append(m, head[:]...)
	m = binary.BigEndian.AppendUint64(m, uint64(rawSize))
	m = binary.BigEndian.AppendUint32(m, frames)
	return append(m, indexDigest[:]...)
}

// SignedMessage returns the message the trailer's signature covers.
func (t *Trailer) SignedMessage() []byte {
	return signedMessage(&t.HeaderDigest, &t.ChainHead, t.RawSize, uint32(t.Frames), &t.indexDigest)
}

// parseTrailerBody decodes a decompressed trailer body.
func parseTrailerBody(b []byte) (Trailer, error) {
	if len(b) < trailerFixed || (len(b)-trailerFixed)%indexEntrySize != 0 {
		return Trailer{}, fmt.Errorf("%w: trailer body of %d bytes", ErrMalformed, len(b))
	}
	var t Trailer
	copy(t.HeaderDigest[:], b[0:32])
	copy(t.ChainHead[:], b[32:64])
	raw := binary.BigEndian.Uint64(b[64:])
	n := binary.BigEndian.Uint32(b[72:])
	k := binary.BigEndian.Uint32(b[76:])
	t.SignerKey = append([]byte(nil), b[80:112]...)
	idx := b[trailerFixed:]
	if raw > 1<<62 {
		return Trailer{}, fmt.Errorf("%w: trailer raw size %d", ErrMalformed, raw)
	}
	if int(k) != len(idx)/indexEntrySize || (k != 0 && k != n) {
		return Trailer{}, fmt.Errorf("%w: trailer index holds %d entries for %d frames", ErrMalformed, len(idx)/indexEntrySize, n)
	}
	t.RawSize, t.Frames = int64(raw), int(n)
	t.indexDigest = sha256.Sum256(idx)
	if k > 0 {
		t.Index = make([]IndexEntry, k)
	}
	for i := range t.Index {
		e := idx[i*indexEntrySize:]
		t.Index[i] = IndexEntry{
			Offset:    int64(binary.BigEndian.Uint64(e[0:])),
			TFirst:    time.Duration(int64(binary.BigEndian.Uint64(e[8:]))) * time.Microsecond,
			TLast:     time.Duration(int64(binary.BigEndian.Uint64(e[16:]))) * time.Microsecond,
			RawOffset: int64(binary.BigEndian.Uint64(e[24:])),
		}
	}
	return t, nil
}

// appendIndexEntry appends one encoded index entry.
func appendIndexEntry(b []byte, off int64, tFirst, tLast int64, rawOff int64) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(off))
	b = binary.BigEndian.AppendUint64(b, uint64(tFirst))
	b = binary.BigEndian.AppendUint64(b, uint64(tLast))
	return binary.BigEndian.AppendUint64(b, uint64(rawOff))
}

// parseFooter decodes a footer and returns the trailer offset.
func parseFooter(b []byte) (int64, bool) {
	if string(b[8:16]) != FooterMagic {
		return 0, false
	}
	off := binary.BigEndian.Uint64(b[:8])
	if off > 1<<62 {
		return 0, false
	}
	return int64(off), true
}

func us(d time.Duration) int64 { return d.Microseconds() }

func dur(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
