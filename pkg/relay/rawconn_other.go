//go:build !linux

package relay

import "net"

// Raw returns c unchanged outside Linux.
func Raw(c net.Conn) net.Conn { return c }
