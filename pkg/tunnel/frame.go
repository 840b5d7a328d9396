package tunnel

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// WriteFrame writes v as one length-prefixed JSON frame in a single Write.
func WriteFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(body) > MaxFrameSize {
		return fmt.Errorf("frame too large: %d bytes", len(body))
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one length-prefixed JSON frame into v. io.EOF means the
// peer closed cleanly between frames.
func ReadFrame(r io.Reader, v any) error {
	var pre [4]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated frame length", ErrMalformed)
		}
		return err
	}
	n := binary.BigEndian.Uint32(pre[:])
	if n > MaxFrameSize {
		return fmt.Errorf("%w: frame of %d bytes exceeds %d", ErrMalformed, n, MaxFrameSize)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return fmt.Errorf("%w: truncated frame: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: frame body: %v", ErrMalformed, err)
	}
	return nil
}
