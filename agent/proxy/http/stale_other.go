//go:build !linux

package httpproxy

// stale reports whether the upstream sent something unasked on the idle
// connection (which it does only before closing it). Outside Linux the
// socket is not peeked at.
func (p *pinnedConn) stale() bool { return p.br.Buffered() > 0 }
