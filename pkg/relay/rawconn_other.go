//go:build !linux

package relay

import "net"

// Raw returns c unchanged outside Linux.
func Raw(c net.Conn) net.Conn { return c }

// RawListener returns ln unchanged outside Linux.
func RawListener(ln net.Listener) net.Listener { return ln }
