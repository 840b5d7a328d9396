//go:build linux

package mysql

import (
	"net"
)

// flushAwait sends the command buffered for the server and returns once
// the server's answer can be read.
//
// Why: a read on Go's non-blocking sockets first tries the system call and
// only then waits in the poller, since a new Read forgets readiness
// reported before it began. Right after a command the answer cannot be
// there yet, so that first try would only find nothing: one wasted system
// call per command. Here the wait is armed before the command is written
// (the write runs inside RawConn.Read's callback), so the answer's arrival
// cannot be missed, and the read that follows finds it. Should unread bytes
// sit in the socket from before (the server sends nothing unasked but an
// error before it closes), the answer or the reset that a write to a
// closed connection draws still ends the wait.
func (sc *serverConn) flushAwait() error {
	if sc.rc == nil || sc.r.buffered() > 0 {
		return sc.w.flush()
	}
	if sc.await == nil {
		sc.await = sc.awaitStep // one closure for the connection's life
	}
	sc.sent, sc.sendErr = false, nil
	err := sc.rc.Read(sc.await)
	switch {
	case sc.sendErr != nil:
		return sc.sendErr
	case err != nil:
		return &net.OpError{Op: "read", Net: "tcp", Source: sc.conn.LocalAddr(), Addr: sc.conn.RemoteAddr(), Err: err}
	}
	return nil
}

// awaitStep is flushAwait's RawConn.Read callback: the first call writes
// the command and asks to wait, the next (the socket is readable) ends.
func (sc *serverConn) awaitStep(uintptr) bool {
	if sc.sent {
		return true
	}
	sc.sent = true
	sc.sendErr = sc.w.flush()
	return sc.sendErr != nil
}
