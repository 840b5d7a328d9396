package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Chunk is one piece of a recording on a recording stream.
type Chunk struct {
	Offset int64  // position of Data[0] in the recording
	Data   []byte // at most MaxChunkSize bytes
	Final  bool   // the recording ends after Data
}

const chunkFinal = 1

// WriteChunk writes c as one chunk frame.
func WriteChunk(w io.Writer, c Chunk) error {
	if len(c.Data) > MaxChunkSize {
		return fmt.Errorf("chunk too large: %d bytes", len(c.Data))
	}
	if c.Offset < 0 {
		return fmt.Errorf("negative chunk offset %d", c.Offset)
	}
	buf := make([]byte, 13+len(c.Data))
	if c.Final {
		buf[0] = chunkFinal
	}
	binary.BigEndian.PutUint64(buf[1:9], uint64(c.Offset))
	binary.BigEndian.PutUint32(buf[9:13], uint32(len(c.Data)))
	copy(buf[13:], c.Data)
	_, err := w.Write(buf)
	return err
}

// ReadChunk reads one chunk frame. io.EOF means a clean close between chunks.
func ReadChunk(r io.Reader) (Chunk, error) {
	var pre [13]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Chunk{}, fmt.Errorf("%w: truncated chunk header", ErrMalformed)
		}
		return Chunk{}, err
	}
	if pre[0]&^chunkFinal != 0 {
		return Chunk{}, fmt.Errorf("%w: unknown chunk flags %#x", ErrMalformed, pre[0])
	}
	off := binary.BigEndian.Uint64(pre[1:9])
	if off > 1<<62 {
		return Chunk{}, fmt.Errorf("%w: chunk offset %d out of range", ErrMalformed, off)
	}
	n := binary.BigEndian.Uint32(pre[9:13])
	if n > MaxChunkSize {
		return Chunk{}, fmt.Errorf("%w: chunk of %d bytes exceeds %d", ErrMalformed, n, MaxChunkSize)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return Chunk{}, fmt.Errorf("%w: truncated chunk: %v", ErrMalformed, err)
	}
	return Chunk{Offset: int64(off), Data: data, Final: pre[0]&chunkFinal != 0}, nil
}
