package postgres

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// relayBufSize is the read buffer of each direction of a relayed
// connection: every read forwards what it got in one write, so a large
// result moves in writes of up to this size.
const relayBufSize = 64 << 10

var relayBufs = sync.Pool{New: func() any { b := make([]byte, relayBufSize); return &b }}

// inbuf is one direction's read buffer. Bytes are read into it, the
// messages are scanned in place, and what was scanned is forwarded in one
// write per read: whole messages, plus the part of a streamed message (one
// whose body the proxy does not need: rows, COPY data) that has arrived —
// the rest of its body is passed on as it comes (skip). A message whose
// body the proxy decodes is held until it is whole; the buffer grows for
// it up to the message limit.
type inbuf struct {
	buf     []byte
	pooled  *[]byte // buf's pool entry, when buf is the pooled buffer
	n       int     // bytes in buf
	skip    int     // bytes of a streamed body still to come, not held
	want    int     // size of the held message at the front, once consumed up to it
	maxBody int     // longest body held in memory
}

func newInbuf(maxBody int, pending []byte) *inbuf {
	bp := relayBufs.Get().(*[]byte)
	in := &inbuf{buf: *bp, pooled: bp, maxBody: maxBody}
	in.ensure(len(pending))
	in.n = copy(in.buf, pending)
	return in
}

// release returns the pooled buffer; the inbuf is not used afterwards.
func (in *inbuf) release() {
	if in.pooled != nil {
		relayBufs.Put(in.pooled)
	}
	in.buf, in.pooled = nil, nil
}

// space returns the free part of the buffer to read into.
func (in *inbuf) space() []byte { return in.buf[in.n:] }

// ensure makes room for a message of size bytes at the start of the
// buffer.
func (in *inbuf) ensure(size int) {
	if size <= len(in.buf) {
		return
	}
	b := make([]byte, size)
	copy(b, in.buf[:in.n])
	in.buf, in.pooled = b, nil // the pooled buffer goes to the GC: rare
}

// skipped consumes the start of the buffer that belongs to a streamed
// body and returns its length.
func (in *inbuf) skipped() int {
	k := min(in.skip, in.n)
	in.skip -= k
	return k
}

// header decodes the message header at p: type and body length. ok is
// false when fewer than 5 bytes are buffered from p.
func (in *inbuf) header(p int) (typ byte, body int, ok bool, err error) {
	if in.n-p < 5 {
		return 0, 0, false, nil
	}
	typ = in.buf[p]
	l := int(int32(binary.BigEndian.Uint32(in.buf[p+1:])))
	if l < 4 || l > maxWireLen {
		return 0, 0, false, fmt.Errorf("%w: message %q has length %d", errMalformed, typ, l)
	}
	return typ, l - 4, true, nil
}

// hold checks that a message whose body the proxy needs fits the limit.
// If it is not all buffered yet (p + 5 + body > n), the buffer will make
// room for it at the front once the bytes before it are consumed.
func (in *inbuf) hold(p int, typ byte, body int) error {
	if body > in.maxBody {
		return fmt.Errorf("%w: message %q of %d bytes is longer than the limit of %d", errMalformed, typ, body, in.maxBody)
	}
	if p+5+body > in.n {
		in.want = 5 + body
	}
	return nil
}

// stream notes that the message at p, body bytes long, is forwarded
// without being held, and returns where scanning goes on: its end, or the
// end of the buffered bytes when the rest of its body is still to come.
func (in *inbuf) stream(p, body int) int {
	end := p + 5 + body
	if end > in.n {
		in.skip = end - in.n
		return in.n
	}
	return end
}

// consume drops the first k bytes (forwarded) and moves the rest to the
// front, making room for a held message there. A buffer grown for one long
// message is given up once it is no longer needed.
func (in *inbuf) consume(k int) {
	rest := in.n - k
	if rest > 0 && k > 0 {
		copy(in.buf, in.buf[k:in.n])
	}
	in.n = rest
	want := in.want
	in.want = 0
	switch {
	case want > len(in.buf):
		in.ensure(want)
	case in.pooled == nil && want <= relayBufSize && rest <= relayBufSize:
		bp := relayBufs.Get().(*[]byte)
		copy(*bp, in.buf[:rest])
		in.buf, in.pooled = *bp, bp
	}
}
