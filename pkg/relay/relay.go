// Package relay copies bytes both ways between two connections. It is the
// hot path of every hop (the CLI's local listener, control's splice onto an
// agent stream, the agent's TCP proxy), so it allocates nothing per read:
// copy buffers are pooled, and byte counts are plain or atomic adds.
//
// Counting: a byte is counted when it has been read from one side and
// handed to the other. When a link dies, a write may report failure for
// bytes that did reach the peer; counting what was handed on makes the
// counts of every hop of one connection agree.
package relay

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// BufferSize is the size of each direction's copy buffer.
const BufferSize = 256 << 10

var buffers = sync.Pool{New: func() any {
	b := make([]byte, BufferSize)
	return &b
}}

// Splice copies a → b and b → a until both directions have ended. The
// clean end of one direction is passed on as a half-close (CloseWrite) so
// the other keeps flowing; an error in either aborts both connections.
// Counts are added to aToB and bToA as bytes move (either may be nil), so
// callers can read live totals. Both connections are closed on return. The
// error is the first one other than a clean end of either side.
func Splice(a, b net.Conn, aToB, bToA *atomic.Int64) error {
	errc := make(chan error, 1)
	go func() { errc <- half(b, a, aToB) }()
	err := half(a, b, bToA)
	err2 := <-errc
	a.Close()
	b.Close()
	if err != nil {
		return err
	}
	return err2
}

// half copies src to dst and ends dst's sending side.
func half(dst, src net.Conn, n *atomic.Int64) error {
	if _, err := Copy(dst, src, n); err != nil {
		Abort(dst)
		Abort(src)
		return err
	}
	CloseWrite(dst)
	return nil
}

// Copy moves bytes from src to dst with a pooled buffer until src ends,
// adding to n (when not nil) what it hands on. A clean end of src (EOF, or
// a TLS peer that closed without close_notify) returns a nil error.
func Copy(dst io.Writer, src io.Reader, n *atomic.Int64) (int64, error) {
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	var total int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			total += int64(nr)
			if n != nil {
				n.Add(int64(nr))
			}
			if _, werr := dst.Write(buf[:nr]); werr != nil {
				return total, werr
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				return total, nil
			}
			return total, rerr
		}
	}
}

// CloseWrite ends c's sending side: CloseWrite where c has it (TCP, TLS,
// upgraded connections), Close otherwise (a yamux stream's Close only ends
// its sending half).
func CloseWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}

// Abort ends c in both directions at once. A yamux stream's Close only ends
// its sending half, so pending reads are cut by an expired deadline too.
func Abort(c net.Conn) {
	_ = c.SetDeadline(time.Now())
	c.Close()
}
