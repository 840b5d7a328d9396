package mysql

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MySQL packet framing: every packet is a 4-byte header — payload length
// (3 bytes, little endian) and a sequence id (1 byte) — followed by the
// payload. A payload of 0xffffff bytes or more is sent as a run of
// 0xffffff-byte packets with consecutive sequence ids, ended by a shorter
// packet (possibly empty); the reader joins them back into one payload.

// maxPacketChunk is the largest payload of one physical packet.
const maxPacketChunk = 0xffffff

// DefaultMaxPayload is the default cap on a reassembled payload.
const DefaultMaxPayload = 64 << 20

// ErrPayloadTooLarge is returned when a reassembled payload would exceed
// the reader's cap.
var ErrPayloadTooLarge = errors.New("mysql packet payload too large")

// keepBuffer is the largest payload buffer a reader keeps between packets;
// a bigger one (a large row or blob) is dropped after use.
const keepBuffer = 1 << 20

// packetReader reads logical packets (joined payloads) from a connection.
type packetReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	hdr [4]byte
	// last is the sequence id of the last physical packet read: the next
	// packet of the exchange carries last+1.
	last byte
}

func newPacketReader(r *bufio.Reader, max int) *packetReader {
	if max <= 0 {
		max = DefaultMaxPayload
	}
	return &packetReader{r: r, max: max}
}

// next reads one logical packet. The payload is valid until the next
// call; seq is the sequence id of its first physical packet (p.last holds
// that of its last one). A clean end of the connection
// before a header returns io.EOF; a truncated packet returns
// io.ErrUnexpectedEOF.
func (p *packetReader) next() (payload []byte, seq byte, err error) {
	if cap(p.buf) > keepBuffer {
		p.buf = nil
	}
	if p.buf == nil {
		p.buf = make([]byte, 0, 16<<10)
	}
	p.buf = p.buf[:0]
	first := true
	var cur byte
	for {
		if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
			if errors.Is(err, io.EOF) && !first {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		n := int(p.hdr[0]) | int(p.hdr[1])<<8 | int(p.hdr[2])<<16
		s := p.hdr[3]
		if first {
			seq = s
		} else if s != cur+1 {
			return nil, 0, fmt.Errorf("mysql packet: continuation has sequence id %d, want %d", s, cur+1)
		}
		cur, first = s, false
		have := len(p.buf)
		if have+n > p.max {
			return nil, 0, fmt.Errorf("%w: more than %d bytes", ErrPayloadTooLarge, p.max)
		}
		// Grow as the bytes arrive, so a header announcing 16 MiB costs
		// memory only once the bytes are really there.
		for want := have + n; len(p.buf) < want; {
			if len(p.buf) == cap(p.buf) {
				p.buf = append(p.buf, 0)[:len(p.buf)]
			}
			end := min(want, cap(p.buf))
			k, err := io.ReadFull(p.r, p.buf[len(p.buf):end])
			p.buf = p.buf[:len(p.buf)+k]
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, 0, err
			}
		}
		if n < maxPacketChunk {
			p.last = cur
			return p.buf, seq, nil
		}
	}
}

// buffered reports whether bytes are waiting in the read buffer, i.e.
// whether the next read can complete without blocking on the network.
func (p *packetReader) buffered() int { return p.r.Buffered() }

// packetWriter writes logical packets, splitting long payloads.
type packetWriter struct {
	w   *bufio.Writer
	hdr [4]byte
}

func newPacketWriter(w *bufio.Writer) *packetWriter { return &packetWriter{w: w} }

// write writes payload as one logical packet whose first physical packet
// has sequence id seq, and returns the sequence id of the last one. The
// bytes are buffered: call flush to send them.
func (p *packetWriter) write(seq byte, payload []byte) (last byte, err error) {
	for {
		n := min(len(payload), maxPacketChunk)
		p.hdr = [4]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}
		if _, err := p.w.Write(p.hdr[:]); err != nil {
			return seq, err
		}
		if _, err := p.w.Write(payload[:n]); err != nil {
			return seq, err
		}
		payload = payload[n:]
		if n < maxPacketChunk {
			return seq, nil
		}
		seq++
	}
}

func (p *packetWriter) flush() error { return p.w.Flush() }
