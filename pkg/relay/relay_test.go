package relay

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-ch
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// TestSpliceHalfClose: a client sends a request and half-closes; the
// server reads to EOF and answers; the answer still arrives.
func TestSpliceHalfClose(t *testing.T) {
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	var up, down atomic.Int64
	done := make(chan error, 1)
	go func() { done <- Splice(a, b, &up, &down) }()

	req := make([]byte, 1<<20+7)
	_, _ = rand.Read(req)
	go func() {
		_, _ = client.Write(req)
		_ = client.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(server)
	if err != nil || !bytes.Equal(got, req) {
		t.Fatalf("server got %d bytes (%v)", len(got), err)
	}
	if _, err := server.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	_ = server.(*net.TCPConn).CloseWrite()
	ans, err := io.ReadAll(client)
	if err != nil || string(ans) != "answer" {
		t.Fatalf("client got %q (%v)", ans, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Splice: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Splice did not return after both sides ended")
	}
	if up.Load() != int64(len(req)) || down.Load() != 6 {
		t.Fatalf("counted up %d down %d", up.Load(), down.Load())
	}
}

// TestSpliceAbort: closing one side ends the splice and the other side.
func TestSpliceAbort(t *testing.T) {
	client, a := tcpPair(t)
	b, server := tcpPair(t)
	done := make(chan error, 1)
	go func() { done <- Splice(a, b, nil, nil) }()
	_ = server.(*net.TCPConn).SetLinger(0)
	server.Close() // RST
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(client); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("client side not closed")
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Splice did not return")
	}
}

func BenchmarkSplice(b *testing.B) {
	client, a := tcpPair(b)
	x, server := tcpPair(b)
	go Splice(a, x, nil, nil)
	go func() { _, _ = io.Copy(io.Discard, server) }()
	buf := make([]byte, BufferSize)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
