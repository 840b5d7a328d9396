//go:build !linux

package relay

import (
	"net"
	"syscall"
)

// Raw returns c unchanged outside Linux.
func Raw(c net.Conn) net.Conn { return c }

// RawListener returns ln unchanged outside Linux.
func RawListener(ln net.Listener) net.Listener { return ln }

// SyscallConn returns nil outside Linux: the proxies then write and read
// the ordinary way.
func SyscallConn(net.Conn) syscall.RawConn { return nil }
