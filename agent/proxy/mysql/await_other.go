//go:build !linux

package mysql

import (
	"net"
	"syscall"
)

// rawConnOf returns nil outside Linux: flushAwait only flushes.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// flushAwait sends the command buffered for the server.
func (sc *serverConn) flushAwait() error { return sc.w.flush() }
