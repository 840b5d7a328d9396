package vchan

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed wraps every decoding error.
var ErrMalformed = errors.New("malformed virtual channel data")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Channel PDU header flags.
const (
	FlagFirst      = 0x00000001
	FlagLast       = 0x00000002
	FlagCompressed = 0x00200000
)

// ChunkHeaderSize is the size of CHANNEL_PDU_HEADER.
const ChunkHeaderSize = 8

// Chunk is one channel PDU: its header and data (referring into the
// PDU).
type Chunk struct {
	Length uint32 // total length of the message
	Flags  uint32
	Data   []byte
}

// ParseChunk decodes a channel PDU.
func ParseChunk(b []byte) (Chunk, error) {
	if len(b) < ChunkHeaderSize {
		return Chunk{}, malformed("channel PDU of %d bytes, shorter than its header", len(b))
	}
	return Chunk{Length: binary.LittleEndian.Uint32(b), Flags: binary.LittleEndian.Uint32(b[4:]), Data: b[ChunkHeaderSize:]}, nil
}

// AppendChunk appends a channel PDU holding data.
func AppendChunk(b []byte, total uint32, flags uint32, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint32(b, flags)
	return append(b, data...)
}

// Reassembler joins the chunks of one channel in one direction into
// messages, keeping at most Max bytes of each.
type Reassembler struct {
	Max int

	buf    []byte
	total  int // declared length of the message in progress
	got    int // bytes of it seen
	active bool
}

// Message is a reassembled channel message: Data is its first
// min(Total, Max) bytes.
type Message struct {
	Data  []byte // reused by the next Add
	Total int
}

// Truncated reports whether the message was longer than what was kept.
func (m Message) Truncated() bool { return len(m.Data) < m.Total }

// Add takes one chunk; ok is true when it completes a message.
func (r *Reassembler) Add(c Chunk) (m Message, ok bool, err error) {
	if c.Flags&FlagCompressed != 0 {
		return Message{}, false, malformed("compressed channel data, although compression was switched off")
	}
	if c.Flags&FlagFirst != 0 {
		if r.active {
			return Message{}, false, malformed("a first chunk inside a message")
		}
		r.active, r.buf, r.total, r.got = true, r.buf[:0], int(c.Length), 0
	} else if !r.active {
		return Message{}, false, malformed("a chunk without its first chunk")
	}
	r.got += len(c.Data)
	if r.got > r.total {
		return Message{}, false, malformed("chunks of %d bytes for a message of %d", r.got, r.total)
	}
	if keep := r.Max - len(r.buf); keep > 0 {
		r.buf = append(r.buf, c.Data[:min(keep, len(c.Data))]...)
	}
	if c.Flags&FlagLast == 0 {
		return Message{}, false, nil
	}
	r.active = false
	if r.got != r.total {
		return Message{}, false, malformed("message of %d bytes ends after %d", r.total, r.got)
	}
	return Message{Data: r.buf, Total: r.total}, true, nil
}
