//go:build !linux

package mysql

// flushAwait sends the command buffered for the server.
func (sc *serverConn) flushAwait() error { return sc.w.flush() }
