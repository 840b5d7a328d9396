package tunnel

import (
	"encoding/binary"
	"net"
)

// yamux's send loop writes every data frame as two Write calls, the 12-byte
// header and then the body. On a TLS connection each Write is a TLS record
// and a syscall, so a small message (a query, a keystroke) costs two of each
// per hop. coalescingConn joins a data frame's header with a small body into
// one Write. Only yamux's send loop writes to the connection, one frame after
// the other, so no locking is needed.
type coalescingConn struct {
	net.Conn
	hdr     [yamuxHeaderSize]byte
	pending bool
	buf     []byte
}

const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
	// coalesceMax is the largest body joined with its header: bigger bodies
	// are split into full TLS records anyway, and copying them costs more
	// than the extra small record saves.
	coalesceMax = 16 << 10
)

func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.pending {
		c.pending = false
		c.buf = append(append(c.buf[:0], c.hdr[:]...), p...)
		n, err := c.Conn.Write(c.buf)
		return max(n-yamuxHeaderSize, 0), err
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData {
		if n := binary.BigEndian.Uint32(p[8:12]); n > 0 && n <= coalesceMax {
			copy(c.hdr[:], p)
			c.pending = true
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}
