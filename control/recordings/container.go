package recordings

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/onepam/onepam/recordfmt/container"
)

// IsContainer reports whether stored bytes start like a recording
// container (recordfmt/container); shorter prefixes of the magic count.
func IsContainer(head []byte) bool {
	n := min(len(head), len(container.Magic))
	return n > 0 && string(head[:n]) == container.Magic[:n]
}

// innerReader decodes a recording container read as a stream (a stored
// file, or a live Follower) into its inner stream, one frame at a time.
// Re-sent frames (the open frame re-uploaded as it grew) give only their
// new bytes. The stream ends (io.EOF) after the trailer or where the
// container ends: a recording cut short (a torn last frame) yields its
// complete frames. A malformed or altered container is an error.
type innerReader struct {
	dec     *container.Decoder
	pending []byte
	err     error
}

func (r *innerReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		f, err := r.dec.Next()
		switch {
		case err == nil:
			r.pending = f.Data
		case errors.Is(err, io.EOF), errors.Is(err, container.ErrNeedMore):
			r.err = io.EOF
		default:
			r.err = fmt.Errorf("recording container: %w", err)
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// peekInner returns the inner stream of stored: decoded when it is a
// container, as it is otherwise.
func peekInner(stored io.Reader) io.Reader {
	br := bufio.NewReaderSize(stored, 64<<10)
	head, _ := br.Peek(len(container.Magic))
	if len(head) == len(container.Magic) && IsContainer(head) {
		return &innerReader{dec: container.NewDecoder(br)}
	}
	return br
}
