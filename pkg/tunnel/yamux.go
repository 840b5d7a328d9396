package tunnel

import (
	"io"
	"net"
	"time"

	"github.com/hashicorp/yamux"
)

// StreamWindow is the yamux per-stream receive window. 16 MiB measured
// +46% throughput on one stream over the default 256 KiB on loopback.
const StreamWindow = 16 << 20

// YamuxConfig returns the yamux configuration both sides use.
func YamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.MaxStreamWindowSize = StreamWindow
	c.AcceptBacklog = 1024
	c.EnableKeepAlive = true
	c.KeepAliveInterval = 5 * time.Second
	c.ConnectionWriteTimeout = 10 * time.Second
	c.StreamOpenTimeout = 15 * time.Second
	c.StreamCloseTimeout = 30 * time.Second
	c.LogOutput = io.Discard
	c.Logger = nil
	return c
}

// Client starts the yamux client side (the agent) on conn.
func Client(conn net.Conn) (*yamux.Session, error) {
	return yamux.Client(&coalescingConn{Conn: conn}, YamuxConfig())
}

// Server starts the yamux server side (control) on conn.
func Server(conn net.Conn) (*yamux.Session, error) {
	return yamux.Server(&coalescingConn{Conn: conn}, YamuxConfig())
}
