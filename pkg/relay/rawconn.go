//go:build linux

package relay

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Raw wraps a TCP connection so that its reads and writes are made with
// raw system calls (syscall.RawSyscall) on the non-blocking socket, waiting
// in Go's poller when the socket is not ready, exactly as net.Conn does.
//
// Why: a Go system call tells the scheduler it may block (entersyscall):
// the scheduler's monitor thread (sysmon) is woken, and a call longer than
// 20 µs — a loopback write that delivers to the receiver often is on a
// loaded machine — has its processor handed to another thread. On the
// relay hops each message is a read and a write, and that bookkeeping cost
// as much CPU as the calls themselves. A read or write on a non-blocking
// socket never blocks, so the raw call is safe; it only keeps the
// goroutine's processor for the few microseconds the kernel takes.
//
// Other connections are returned unchanged.
func Raw(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{TCPConn: tc, rc: rc}
	r.rd.call, r.wr.call = r.rd.read, r.wr.write // bound once: no closure per call
	return r
}

type rawConn struct {
	*net.TCPConn
	rc     syscall.RawConn
	rd, wr rawOp
}

// rawOp is one direction's system call: the callback handed to the
// RawConn and its arguments and results, kept in the connection so that a
// call allocates nothing. mu serialises callers of the same direction
// (the RawConn's own lock is taken only inside rc.Read/rc.Write).
type rawOp struct {
	mu    sync.Mutex
	call  func(fd uintptr) bool
	p     []byte
	n     int
	errno syscall.Errno
}

func (o *rawOp) read(fd uintptr) bool {
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&o.p[0])), uintptr(len(o.p)))
	o.n, o.errno = int(r), e
	return e != syscall.EAGAIN
}

func (o *rawOp) write(fd uintptr) bool {
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&o.p[0])), uintptr(len(o.p)))
	o.n, o.errno = int(r), e
	return e != syscall.EAGAIN
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	o := &c.rd
	o.mu.Lock()
	o.p = p
	err := c.rc.Read(o.call)
	n, errno := o.n, o.errno
	o.p = nil
	o.mu.Unlock()
	if err != nil {
		return 0, c.opErr("read", err)
	}
	if errno != 0 {
		return 0, c.opErr("read", errno)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawConn) Write(p []byte) (int, error) {
	o := &c.wr
	o.mu.Lock()
	defer o.mu.Unlock()
	total := 0
	for total < len(p) {
		o.p = p[total:]
		err := c.rc.Write(o.call)
		n, errno := o.n, o.errno
		o.p = nil
		if err != nil {
			return total, c.opErr("write", err)
		}
		if errno != 0 {
			return total, c.opErr("write", errno)
		}
		total += n
	}
	return total, nil
}

// opErr wraps err as net.TCPConn does, so callers' checks (timeouts,
// net.ErrClosed, ECONNRESET) see the same errors.
func (c *rawConn) opErr(op string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// SyscallConn returns the system call access to a TCP socket of the net
// package (plain or Raw), nil for anything else (TLS, yamux streams). The
// proxies use it to write a request inside RawConn.Read's callback, so
// that the wait for the answer is armed before it is sent and no read that
// finds nothing comes first.
func SyscallConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// RawListener returns a listener whose accepted TCP connections are Raw.
func RawListener(ln net.Listener) net.Listener { return rawListener{ln} }

type rawListener struct{ net.Listener }

func (l rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Raw(c), nil
}
