//go:build !linux

package postgres

import (
	"net"
	"syscall"
)

// rawConnOf returns nil outside Linux: serverLoop reads with Read.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (pc *pgConn) serverLoopRaw(*inbuf, syscall.RawConn) error { panic("unreachable") }
