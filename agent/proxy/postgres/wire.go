package postgres

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire limits.
const (
	// maxWireLen is PostgreSQL's own limit on a message (1 GiB): longer
	// length fields are malformed.
	maxWireLen = 1 << 30
	// maxStartupLen is MAX_STARTUP_PACKET_LENGTH of the PostgreSQL source.
	maxStartupLen = 10000
)

// errMalformed marks protocol bytes that are not PostgreSQL messages.
var errMalformed = errors.New("malformed PostgreSQL message")

// msgReader reads protocol messages during the startup and the login: a
// type byte, an int32 length that counts itself, and the body. It keeps one
// body buffer. After the login the relay reads with an inbuf.
type msgReader struct {
	r       *bufio.Reader
	maxBody int // longest body read into memory
	hdr     [5]byte
	body    []byte
}

func newMsgReader(r io.Reader, maxBody int) *msgReader {
	return &msgReader{r: bufio.NewReaderSize(r, 32<<10), maxBody: maxBody}
}

// header reads the next message header and returns its type and body
// length.
func (m *msgReader) header() (byte, int, error) {
	if _, err := io.ReadFull(m.r, m.hdr[:]); err != nil {
		return 0, 0, err
	}
	n := int(int32(binary.BigEndian.Uint32(m.hdr[1:])))
	if n < 4 || n > maxWireLen {
		return 0, 0, fmt.Errorf("%w: message %q has length %d", errMalformed, m.hdr[0], n)
	}
	return m.hdr[0], n - 4, nil
}

// readBody reads a body of n bytes into the reader's buffer, valid until
// the next read.
func (m *msgReader) readBody(typ byte, n int) ([]byte, error) {
	if n > m.maxBody {
		return nil, fmt.Errorf("%w: message %q of %d bytes is longer than the limit of %d", errMalformed, typ, n, m.maxBody)
	}
	if cap(m.body) < n {
		m.body = make([]byte, n, max(n, 4<<10))
	} else if cap(m.body) > 1<<20 && n < 64<<10 {
		m.body = make([]byte, n, 64<<10) // do not keep one huge message's buffer
	}
	m.body = m.body[:n]
	if _, err := io.ReadFull(m.r, m.body); err != nil {
		return nil, unexpectedEOF(err)
	}
	return m.body, nil
}

// buffered returns the bytes read ahead and not yet consumed, valid until
// the next read: the relay takes them over after the startup.
func (m *msgReader) buffered() []byte {
	b, _ := m.r.Peek(m.r.Buffered())
	return b
}

// startup reads an untyped startup-phase packet (StartupMessage,
// SSLRequest, GSSENCRequest, CancelRequest): int32 length and body.
func (m *msgReader) startup() ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(m.r, l[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(l[:])))
	if n < 8 || n > maxStartupLen {
		return nil, fmt.Errorf("%w: startup packet length %d (want 8 to %d)", errMalformed, n, maxStartupLen)
	}
	buf := make([]byte, n-4)
	if _, err := io.ReadFull(m.r, buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	return buf, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// encoder is what pgproto3 messages implement.
type encoder interface {
	Encode(dst []byte) ([]byte, error)
}

// writeMsgs encodes messages into one buffer and writes it.
func writeMsgs(w io.Writer, msgs ...encoder) error {
	var buf []byte
	for _, msg := range msgs {
		var err error
		if buf, err = msg.Encode(buf); err != nil {
			return err
		}
	}
	_, err := w.Write(buf)
	return err
}
