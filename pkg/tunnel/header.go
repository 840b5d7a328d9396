package tunnel

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/onepam/onepam/pkg/api"
)

// Limits of the framing. Anything larger is refused as malformed.
const (
	MaxHeaderSize = 64 << 10
	MaxFrameSize  = 1 << 20
	MaxChunkSize  = 4 << 20
)

var headerMagic = [4]byte{'O', 'P', 'S', '1'}

// ErrMalformed is wrapped by every framing error caused by bad bytes.
var ErrMalformed = errors.New("malformed stream data")

// WriteHeader writes a stream header of the given kind with body v.
func WriteHeader(w io.Writer, kind api.StreamKind, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s header: %w", kind, err)
	}
	if len(body) > MaxHeaderSize {
		return fmt.Errorf("%s header too large: %d bytes", kind, len(body))
	}
	buf := make([]byte, 9+len(body))
	copy(buf, headerMagic[:])
	buf[4] = byte(kind)
	binary.BigEndian.PutUint32(buf[5:9], uint32(len(body)))
	copy(buf[9:], body)
	_, err = w.Write(buf)
	return err
}

// ReadHeader reads a stream header and returns its kind and raw JSON body.
// Decode the body with DecodeHeader once the kind is known.
func ReadHeader(r io.Reader) (api.StreamKind, []byte, error) {
	var pre [9]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: truncated stream header", ErrMalformed)
		}
		return 0, nil, err
	}
	if [4]byte(pre[:4]) != headerMagic {
		return 0, nil, fmt.Errorf("%w: bad stream header magic %q", ErrMalformed, pre[:4])
	}
	kind := api.StreamKind(pre[4])
	if kind.String() == "unknown" {
		return 0, nil, fmt.Errorf("%w: unknown stream kind %d", ErrMalformed, pre[4])
	}
	n := binary.BigEndian.Uint32(pre[5:9])
	if n > MaxHeaderSize {
		return 0, nil, fmt.Errorf("%w: %s header of %d bytes exceeds %d", ErrMalformed, kind, n, MaxHeaderSize)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("%w: truncated %s header: %v", ErrMalformed, kind, err)
	}
	return kind, body, nil
}

// DecodeHeader decodes a header body into v, rejecting trailing data.
func DecodeHeader(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: header body: %v", ErrMalformed, err)
	}
	return nil
}

// ExpectHeader reads a header, checks its kind and decodes its body into v.
func ExpectHeader(r io.Reader, kind api.StreamKind, v any) error {
	k, body, err := ReadHeader(r)
	if err != nil {
		return err
	}
	if k != kind {
		return fmt.Errorf("%w: got a %s header, want %s", ErrMalformed, k, kind)
	}
	return DecodeHeader(body, v)
}
