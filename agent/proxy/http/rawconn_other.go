//go:build !linux

package httpproxy

import (
	"net"
	"syscall"
)

// rawConnOf returns nil outside Linux: sendAwait only writes.
func rawConnOf(net.Conn) syscall.RawConn { return nil }
