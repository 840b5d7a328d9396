//go:build linux

package httpproxy

import (
	"net"
	"syscall"
)

// rawConnOf returns the system call access to a socket of the net
// package (the pinned upstream connections are relay.Raw TCP
// connections), nil for anything else.
func rawConnOf(c net.Conn) syscall.RawConn {
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
