package proxytest

import (
	"net"
	"sync"
	"testing"
)

// ServeTCP listens on a free loopback port and runs handle on each
// connection it accepts, in a goroutine of its own, closing the
// connection when handle returns: a hand-written upstream for a proxy's
// tests. At the test's end the listener and every open connection are
// closed (handles blocked on them return). It returns the address.
func ServeTCP(t testing.TB, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = true
			mu.Unlock()
			go func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(open, c)
					mu.Unlock()
				}()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
