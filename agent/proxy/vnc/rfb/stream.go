package rfb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrProtocol is wrapped by every error about malformed RFB bytes.
var ErrProtocol = errors.New("rfb: protocol error")

func protoErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, a...))
}

// Stream reads RFB bytes through a buffer and keeps what it read since
// the last Take, so a relay forwards exactly the bytes it has decoded.
type Stream struct {
	r    *bufio.Reader
	held []byte
	keep bool
}

// NewStream reads from r. With keep, read bytes are held for Take;
// without, they are dropped (a client that only consumes).
func NewStream(r io.Reader, keep bool) *Stream {
	return &Stream{r: bufio.NewReaderSize(r, 64<<10), keep: keep}
}

// Buffered reports how many bytes can be read without blocking.
func (s *Stream) Buffered() int { return s.r.Buffered() }

// Next reads exactly n bytes and returns them; the slice is valid until
// the next Take (with keep) or the next Next (without).
func (s *Stream) Next(n int) ([]byte, error) {
	if !s.keep {
		s.held = s.held[:0]
	}
	start := len(s.held)
	if cap(s.held)-start < n {
		nb := make([]byte, start, max(2*cap(s.held), start+n, 4096))
		copy(nb, s.held)
		s.held = nb
	}
	s.held = s.held[:start+n]
	b := s.held[start:]
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.held = s.held[:start]
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: connection closed inside a message", ErrProtocol)
		}
		return nil, err
	}
	return b, nil
}

// U8 reads one byte.
func (s *Stream) U8() (byte, error) {
	b, err := s.Next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// U16 reads a big-endian uint16.
func (s *Stream) U16() (uint16, error) {
	b, err := s.Next(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

// U32 reads a big-endian uint32.
func (s *Stream) U32() (uint32, error) {
	b, err := s.Next(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// Take returns the bytes read since the last Take and forgets them; the
// slice is valid until the next Next.
func (s *Stream) Take() []byte {
	b := s.held
	s.held = s.held[:0]
	return b
}

// Held reports how many bytes are held for Take.
func (s *Stream) Held() int { return len(s.held) }
