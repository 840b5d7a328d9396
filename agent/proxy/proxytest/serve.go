package proxytest

import (
	"net"
	"sync"
	"testing"
)

// ServeTCP listens on a free loopback port and runs handle on each
// connection it accepts, in a goroutine of its own, closing the
// connection when handle returns: a hand-written upstream for a proxy's
// tests and benchmarks. At the test's end the listener and every open
// connection are closed (handles blocked on them return; t.Context() is
// done by then for those that wait on it), and the handles are waited
// for. It returns the address.
func ServeTCP(t testing.TB, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var handlers sync.WaitGroup
	open := map[net.Conn]bool{}
	closed := false
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		handlers.Wait()
	})
	handlers.Add(1)
	go func() {
		defer handlers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			open[c] = true
			mu.Unlock()
			handlers.Add(1)
			go func() {
				defer handlers.Done()
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
