package sessions

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// TestSpliceHalfClose checks that a clean end of one direction reaches the
// other side as a half-close while the reverse direction goes on, and that
// buffered bytes are forwarded first and counted.
func TestSpliceHalfClose(t *testing.T) {
	person, clientEnd := tcpPair(t)
	agentEnd, target := tcpPair(t)
	var up, down atomic.Int64
	done := make(chan struct{})
	go func() {
		splice(clientEnd, agentEnd, []byte("GET "), &up, &down)
		close(done)
	}()
	io.WriteString(person, "/ HTTP/1.0\r\n\r\n")
	person.(*net.TCPConn).CloseWrite()
	req, err := io.ReadAll(target) // ends when the person's half-close arrives
	if err != nil || string(req) != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("target read %q %v", req, err)
	}
	io.WriteString(target, "HTTP/1.0 200 OK\r\n\r\nhi")
	target.(*net.TCPConn).CloseWrite()
	resp, err := io.ReadAll(person)
	if err != nil || string(resp) != "HTTP/1.0 200 OK\r\n\r\nhi" {
		t.Fatalf("person read %q %v", resp, err)
	}
	<-done
	if up.Load() != int64(len(req)) || down.Load() != int64(len(resp)) {
		t.Fatalf("counted %d/%d, want %d/%d", up.Load(), down.Load(), len(req), len(resp))
	}
}

// BenchmarkSplice measures one direction of the splice between loopback
// TCP connections (person → agent) and reports its allocations.
func BenchmarkSplice(b *testing.B) {
	person, clientEnd := tcpPair(b)
	agentEnd, target := tcpPair(b)
	var up, down atomic.Int64
	go splice(clientEnd, agentEnd, nil, &up, &down)
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, target)
		close(done)
	}()
	b.ResetTimer()
	for range b.N {
		if _, err := person.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	person.(*net.TCPConn).CloseWrite()
	<-done
	b.StopTimer()
	person.Close()
	target.Close()
}
