//go:build linux

package postgres

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// serverLoopRaw is serverLoop on a TCP socket, read with raw system calls
// inside one syscall.RawConn.Read for the connection's whole life.
//
// Why: a read on Go's non-blocking sockets first tries the system call and
// only then waits in the poller, because each new Read forgets readiness
// reported before it started. After a read that did not fill the buffer
// the socket is known empty, so that first try would only find nothing:
// one wasted system call per answer of the server. Inside one RawConn.Read
// nothing is forgotten (the poller records readiness that comes while the
// bytes are being handled), so after such a read the loop waits at once.
// Closing the connection or a deadline ends the wait as for any read.
func (pc *pgConn) serverLoopRaw(in *inbuf, rc syscall.RawConn) error {
	var loopErr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			if err := pc.serverChunk(in); err != nil {
				loopErr = err
				return true
			}
			space := in.space()
			r, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&space[0])), uintptr(len(space)))
			n := int(r)
			switch errno {
			case 0:
			case syscall.EAGAIN:
				return false
			case syscall.EINTR:
				continue
			default:
				loopErr = pc.readErr(os.NewSyscallError("read", errno))
				return true
			}
			if n == 0 {
				loopErr = endOfStream(in, io.EOF)
				return true
			}
			in.n += n
			if n < len(space) {
				if err := pc.serverChunk(in); err != nil {
					loopErr = err
					return true
				}
				return false
			}
		}
	})
	if err != nil {
		return pc.readErr(err)
	}
	return loopErr
}

// readErr wraps an error of a read from the server as net.Conn does.
func (pc *pgConn) readErr(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Source: pc.server.LocalAddr(), Addr: pc.server.RemoteAddr(), Err: err}
}
