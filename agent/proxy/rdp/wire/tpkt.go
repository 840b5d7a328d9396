package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// MaxPDU is the largest PDU a Reader accepts: TPKT lengths are 16-bit,
// fast-path lengths 15-bit.
const MaxPDU = 0xFFFF

// Kind says how a PDU was framed.
type Kind uint8

const (
	KindTPKT     Kind = iota + 1 // slow path: TPKT + X.224 + MCS
	KindFastPath                 // fast-path input or output
)

// Reader reads whole PDUs from a stream into one reused buffer.
type Reader struct {
	r   *bufio.Reader
	buf []byte
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 16<<10), buf: make([]byte, 0, 16<<10)}
}

// Reset makes the reader read from r (e.g. after the TLS handshake),
// dropping anything buffered.
func (rd *Reader) Reset(r io.Reader) { rd.r.Reset(r) }

// Buffered reports how many bytes are read ahead.
func (rd *Reader) Buffered() int { return rd.r.Buffered() }

// Next reads one PDU. The returned slice holds the whole PDU, headers
// included; it is valid until the next call.
func (rd *Reader) Next() (Kind, []byte, error) {
	hdr, err := rd.r.Peek(2)
	if err != nil {
		return 0, nil, err
	}
	var n int
	var kind Kind
	switch {
	case hdr[0] == 3:
		h4, err := rd.r.Peek(4)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		n, kind = int(binary.BigEndian.Uint16(h4[2:])), KindTPKT
		if n < 7 {
			return 0, nil, fmt.Errorf("%w: TPKT length %d", ErrMalformed, n)
		}
	case hdr[0]&3 == 0:
		kind = KindFastPath
		if hdr[1]&0x80 == 0 {
			n = int(hdr[1])
		} else {
			h3, err := rd.r.Peek(3)
			if err != nil {
				return 0, nil, unexpected(err)
			}
			n = int(h3[1]&0x7F)<<8 | int(h3[2])
		}
		if n < 3 {
			return 0, nil, fmt.Errorf("%w: fast-path length %d", ErrMalformed, n)
		}
	default:
		return 0, nil, fmt.Errorf("%w: first byte 0x%02x is neither TPKT nor fast-path", ErrMalformed, hdr[0])
	}
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	rd.buf = rd.buf[:n]
	if _, err := io.ReadFull(rd.r, rd.buf); err != nil {
		return 0, nil, unexpected(err)
	}
	return kind, rd.buf, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendTPKT appends a TPKT header for a payload of n bytes.
func AppendTPKT(b []byte, n int) []byte {
	return append(b, 3, 0, byte((n+4)>>8), byte(n+4))
}

// x224Data is the X.224 data TPDU header (LI 2, DT, EOT).
var x224Data = []byte{2, 0xF0, 0x80}

// AppendX224Data appends TPKT and X.224 data headers for an MCS payload
// of n bytes.
func AppendX224Data(b []byte, n int) []byte {
	return append(AppendTPKT(b, n+3), x224Data...)
}

// X224Payload returns the MCS bytes of a TPKT PDU carrying an X.224
// data TPDU.
func X224Payload(pdu []byte) ([]byte, error) {
	if len(pdu) < 7 || pdu[0] != 3 {
		return nil, fmt.Errorf("%w: short TPKT", ErrMalformed)
	}
	if int(binary.BigEndian.Uint16(pdu[2:])) != len(pdu) {
		return nil, fmt.Errorf("%w: TPKT length", ErrMalformed)
	}
	if pdu[4] != 2 || pdu[5] != 0xF0 {
		return nil, fmt.Errorf("%w: not an X.224 data TPDU (LI %d code 0x%02x)", ErrMalformed, pdu[4], pdu[5])
	}
	return pdu[7:], nil
}
