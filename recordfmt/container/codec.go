package container

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The zstd encoder and decoder are shared by every Writer and Reader:
// EncodeAll and DecodeAll are safe for concurrent use and keep their own
// pools of internal state, so no frame creates an encoder or decoder.
var (
	codecOnce sync.Once
	encoder   *zstd.Encoder
	decoder   *zstd.Decoder
	codecErr  error
)

func codecs() (*zstd.Encoder, *zstd.Decoder, error) {
	codecOnce.Do(func() {
		encoder, codecErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			// No zstd content checksum (4 bytes and an xxhash pass over
			// every raw byte, 12% of the spool's CPU): the chain hash
			// covers each payload, and readers check its raw length.
			zstd.WithEncoderCRC(false),
			zstd.WithEncoderConcurrency(0),
		)
		if codecErr != nil {
			return
		}
		decoder, codecErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxFrameSize),
			zstd.WithDecodeAllCapLimit(true),
		)
	})
	return encoder, decoder, codecErr
}

// compress appends the zstd frame of raw to dst.
func compress(dst, raw []byte) ([]byte, error) {
	enc, _, err := codecs()
	if err != nil {
		return dst, fmt.Errorf("container: zstd encoder: %w", err)
	}
	return enc.EncodeAll(raw, dst), nil
}

// decompress appends the rawLen bytes that payload decompresses to to dst;
// any other size is malformed.
func decompress(dst, payload []byte, rawLen int) ([]byte, error) {
	_, dec, err := codecs()
	if err != nil {
		return dst, fmt.Errorf("container: zstd decoder: %w", err)
	}
	n := len(dst)
	if cap(dst)-n < rawLen {
		grown := make([]byte, n, n+rawLen)
		copy(grown, dst)
		dst = grown
	}
	out, err := dec.DecodeAll(payload, dst[:n:n+rawLen])
	if err != nil {
		return dst, fmt.Errorf("%w: frame payload: %v", ErrMalformed, err)
	}
	if len(out)-n != rawLen {
		return dst, fmt.Errorf("%w: frame payload decompresses to %d bytes, header says %d", ErrMalformed, len(out)-n, rawLen)
	}
	return out, nil
}

// bufPool holds frame-sized byte buffers (writer output, reader input).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf(n int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	*bp = (*bp)[:0]
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) > 2*MaxFrameSize {
		return
	}
	bufPool.Put(bp)
}
