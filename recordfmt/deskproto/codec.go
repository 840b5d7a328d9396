package deskproto

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// compressMin is the payload size under which pixels are stored raw: zstd's
// frame overhead is not worth it.
const compressMin = 64

var (
	zencOnce sync.Once
	zenc     *zstd.Encoder
	zdecOnce sync.Once
	zdec     *zstd.Decoder
)

// encoder returns the shared zstd encoder; EncodeAll is safe for
// concurrent use.
func encoder() *zstd.Encoder {
	zencOnce.Do(func() {
		var err error
		zenc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false),
			zstd.WithSingleSegment(true))
		if err != nil {
			panic("deskproto: zstd encoder: " + err.Error()) // fixed, valid options
		}
	})
	return zenc
}

// decoder returns the shared zstd decoder. Its DecodeAll output is capped
// at the capacity of the destination, so a payload never decodes to more
// than the pixels its event declares.
func decoder() *zstd.Decoder {
	zdecOnce.Do(func() {
		var err error
		zdec, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(4),
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(MaxPixels*4),
			zstd.WithDecoderMaxWindow(MaxPixels*4))
		if err != nil {
			panic("deskproto: zstd decoder: " + err.Error())
		}
	})
	return zdec
}

// appendPayload appends the payload (codec byte and data) of raw to dst,
// compressing it when that is smaller.
func appendPayload(dst, raw []byte) []byte {
	if len(raw) >= compressMin {
		start := len(dst)
		dst = append(dst, CodecZstd)
		dst = encoder().EncodeAll(raw, dst)
		if len(dst)-start-1 < len(raw) {
			return dst
		}
		dst = dst[:start]
	}
	dst = append(dst, CodecRaw)
	return append(dst, raw...)
}

// decodePayload decodes a payload that must hold exactly n bytes into
// buf (grown as needed) and returns the n bytes.
func decodePayload(p []byte, n int, buf []byte) ([]byte, error) {
	if len(p) < 1 {
		return nil, malformed("pixel payload has no codec")
	}
	switch p[0] {
	case CodecRaw:
		if len(p)-1 != n {
			return nil, malformed("raw pixel payload holds %d bytes, want %d", len(p)-1, n)
		}
		return append(buf[:0], p[1:]...), nil
	case CodecZstd:
		// The frame must declare its content size, and it must be the
		// size expected: nothing is allocated for a payload that lies.
		var h zstd.Header
		if err := h.Decode(p[1:]); err != nil {
			return nil, malformed("zstd pixel payload: %v", err)
		}
		if !h.HasFCS || h.FrameContentSize != uint64(n) {
			return nil, malformed("zstd pixel payload declares %d bytes (known: %v), want %d", h.FrameContentSize, h.HasFCS, n)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		out, err := decoder().DecodeAll(p[1:], buf[:0:n])
		if err != nil {
			return nil, malformed("zstd pixel payload: %v", err)
		}
		if len(out) != n {
			return nil, malformed("zstd pixel payload holds %d bytes, want %d", len(out), n)
		}
		return out, nil
	}
	return nil, malformed("unknown pixel codec %d", p[0])
}
