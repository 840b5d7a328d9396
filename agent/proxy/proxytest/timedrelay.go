package proxytest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ServerClock notes when the server's bytes passed a TimedRelay: how many
// and when the last one did, measured from the relay's start.
type ServerClock struct {
	start time.Time
	last  atomic.Int64 // ns since start
	bytes atomic.Int64
}

// Bytes returns how many server bytes passed so far.
func (c *ServerClock) Bytes() int64 { return c.bytes.Load() }

// Settled reports whether at least minBytes passed and the server has
// then been quiet for quiet, and when its last byte passed.
func (c *ServerClock) Settled(minBytes int64, quiet time.Duration) (time.Duration, bool) {
	last := time.Duration(c.last.Load())
	return last, c.bytes.Load() >= minBytes && time.Since(c.start)-last > quiet
}

// TimedRelay listens on loopback, relays the first connection to target
// while timing the server's bytes, and returns its address and clock
// (started now). Used to time a client's connection sequence and first
// screen without decoding it.
func TimedRelay(tb testing.TB, target string) (string, *ServerClock) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	sc := &ServerClock{start: time.Now()}
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				sc.bytes.Add(int64(n))
				sc.last.Store(int64(time.Since(sc.start)))
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
		wg.Wait()
	}()
	return ln.Addr().String(), sc
}
