package httpproxy

import (
	"syscall"
	"unsafe"
)

// stale reports whether the upstream closed the idle connection, or sent
// something unasked (which it does only before closing it): a request
// that may not be sent twice then goes on a new connection, as it would
// with http.Transport, whose reader notices both on an idle connection.
// It costs one non-blocking peek at the socket.
func (p *pinnedConn) stale() bool {
	if p.br.Buffered() > 0 {
		return true
	}
	if p.rc == nil {
		return false
	}
	if p.peekFn == nil {
		p.peekFn = p.peekStep
	}
	p.peeked = false
	if err := p.rc.Read(p.peekFn); err != nil {
		return true
	}
	return p.peeked
}

// peekStep is stale's RawConn.Read callback: anything but "nothing to
// read yet" (bytes, the end, an error) makes the connection stale.
func (p *pinnedConn) peekStep(fd uintptr) bool {
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.peekBuf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	p.peeked = e != syscall.EAGAIN
	return true
}
