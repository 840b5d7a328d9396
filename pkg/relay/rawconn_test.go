//go:build linux

package relay

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// rawPair returns a Raw-wrapped client and the plain server end of a
// loopback TCP connection.
func rawPair(t *testing.T) (raw, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	raw = Raw(c)
	if _, ok := raw.(*rawConn); !ok {
		t.Fatalf("Raw(%T) = %T, want *rawConn", c, raw)
	}
	t.Cleanup(func() { raw.Close(); peer.Close() })
	return raw, peer
}

func TestRawConn(t *testing.T) {
	t.Run("bytes both ways, larger than the socket buffers", func(t *testing.T) {
		raw, peer := rawPair(t)
		msg := bytes.Repeat([]byte("onepam "), 1<<20) // 7 MiB: Write waits for the reader
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(peer)
			got <- b
		}()
		if n, err := raw.Write(msg); err != nil || n != len(msg) {
			t.Fatalf("Write = %d, %v", n, err)
		}
		CloseWrite(raw) // the half-close reaches the peer as EOF
		if b := <-got; !bytes.Equal(b, msg) {
			t.Fatalf("peer read %d bytes, want %d", len(b), len(msg))
		}
		go func() { peer.Write([]byte("answer")); peer.Close() }()
		b, err := io.ReadAll(raw)
		if err != nil || string(b) != "answer" {
			t.Fatalf("ReadAll = %q, %v", b, err)
		}
	})
	t.Run("read deadline is a timeout", func(t *testing.T) {
		raw, _ := rawPair(t)
		raw.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := raw.Read(make([]byte, 10))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read after the deadline: %v, want a timeout", err)
		}
	})
	t.Run("read after close is net.ErrClosed", func(t *testing.T) {
		raw, _ := rawPair(t)
		raw.Close()
		if _, err := raw.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
		}
	})
	t.Run("reset by the peer is an error, not EOF", func(t *testing.T) {
		raw, peer := rawPair(t)
		peer.(*net.TCPConn).SetLinger(0)
		peer.Close()
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = raw.Write([]byte("x"))
			time.Sleep(time.Millisecond)
		}
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("Write to a reset connection: %v", err)
		}
	})
	t.Run("RawListener accepts Raw connections", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rl := RawListener(ln)
		defer rl.Close()
		go func() {
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Write([]byte("hi"))
				c.Close()
			}
		}()
		c, err := rl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := c.(*rawConn); !ok {
			t.Fatalf("accepted %T, want *rawConn", c)
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
			t.Fatalf("ReadAll = %q, %v", b, err)
		}
	})
	t.Run("other connections are returned unchanged", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		if Raw(a) != a {
			t.Fatal("Raw wrapped a pipe")
		}
	})
}

// BenchmarkRawConnPingPong: a 64-byte round trip over loopback TCP, the
// client side plain or Raw; cpu-µs/op is this process's CPU per round trip.
func BenchmarkRawConnPingPong(b *testing.B) {
	for _, raw := range []bool{false, true} {
		name := "net"
		if raw {
			name = "raw"
		}
		b.Run(name, func(b *testing.B) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					if raw {
						c = Raw(c)
					}
					Copy(c, c, nil)
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			if raw {
				c = Raw(c)
			}
			defer c.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			start := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
