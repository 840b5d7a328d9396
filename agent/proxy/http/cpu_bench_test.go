package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// BenchmarkCPUPerRequest measures the CPU time one small keep-alive GET
// (a 1 KiB page, HAR recording on) costs the agent's HTTP proxy, and one
// POST of a 1 KiB form body (post/...; the same page answers it, the
// body recorded as params). Clients write requests and read responses by
// hand over loopback TCP, straight into ServeConn (no control, no CLI in
// between), to a real upstream (httptest), from 16 connections as wrk
// -c16 does. The process's CPU time (getrusage) per request is reported
// for the requests through the proxy ("proxy") and for the same requests
// straight to the upstream ("direct"); the proxy's own cost is the
// difference of the two. Both kinds take the proxy's fast path.
//
//	go test ./agent/proxy/http -run '^$' -bench CPUPerRequest -benchtime 20000x -count 5
func BenchmarkCPUPerRequest(b *testing.B) {
	page := strings.Repeat("onepam ", 150) // ~1 KiB, as the e2e wrk benchmark
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, err := io.Copy(io.Discard, r.Body); err != nil || n != r.ContentLength {
			http.Error(w, "short body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, page)
	}))
	b.Cleanup(up.Close)
	getReq := []byte("GET / HTTP/1.1\r\nHost: app.local\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	form := "user=ann&note=" + strings.Repeat("x", 1024-len("user=ann&note="))
	postReq := []byte("POST /form HTTP/1.1\r\nHost: app.local\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1024\r\n\r\n" + form)
	b.Run("direct", func(b *testing.B) { benchDirect(b, up, getReq, len(page)) })
	b.Run("proxy", func(b *testing.B) { benchProxy(b, up, getReq, len(page)) })
	b.Run("post/direct", func(b *testing.B) { benchDirect(b, up, postReq, len(page)) })
	b.Run("post/proxy", func(b *testing.B) { benchProxy(b, up, postReq, len(page)) })
}

const benchConns = 16

// benchDirect drives req straight to the upstream.
func benchDirect(b *testing.B, up *httptest.Server, req []byte, size int) {
	cs := make([]net.Conn, benchConns)
	for i := range cs {
		c, err := net.Dial("tcp", hostOf(up))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	driveCPU(b, cs, req, size)
}

// benchProxy drives req through a session of the proxy.
func benchProxy(b *testing.B, up *httptest.Server, req []byte, size int) {
	info := proxytest.Info(
		api.SessionOpen{SessionID: "sess-1", Type: api.TypeHTTP, Resource: "app", User: "ann", ClientIP: "192.0.2.7:5555"},
		proxy.Target{Name: "app", Address: hostOf(up), Options: &TargetConfig{}}, &countingSink{})
	sess, err := New(Config{Version: "test"}).Open(context.Background(), info)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() {
		sess.Close()
		wg.Wait()
	})
	cs := make([]net.Conn, benchConns)
	for i := range cs {
		agentEnd, cliEnd, err := proxytest.Pair()
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess.ServeConn(context.Background(), agentEnd, api.ConnOpen{SessionID: "sess-1", ConnID: int64(i + 1), ClientAddr: "127.0.0.1:1"})
			agentEnd.Close()
		}()
		var res api.ConnOpenResult
		if err := tunnel.ReadFrame(cliEnd, &res); err != nil || !res.OK {
			b.Fatalf("open connection: %v %+v", err, res)
		}
		b.Cleanup(func() { cliEnd.Close() })
		cs[i] = cliEnd
	}
	driveCPU(b, cs, req, size)
	if n := sess.(*session).fallbacks.Load(); n != 0 {
		b.Fatalf("%d connections fell back to net/http", n)
	}
}

// driveCPU sends req b.N times over the connections, keep-alive (a
// warm-up round first), and reports the process's CPU time per request.
func driveCPU(b *testing.B, cs []net.Conn, req []byte, size int) {
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	clients := make([]client, len(cs))
	for i, c := range cs {
		clients[i] = client{c: c, br: bufio.NewReaderSize(c, 16<<10)}
	}
	get := func(cl client) error {
		if _, err := cl.c.Write(req); err != nil {
			return err
		}
		n, err := readResponse(cl.br)
		if err == nil && n != size {
			err = fmt.Errorf("body of %d bytes, want %d", n, size)
		}
		return err
	}
	for _, cl := range clients {
		if err := get(cl); err != nil {
			b.Fatal(err)
		}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	errs := make(chan error, len(clients))
	r0, t0 := proxytest.ProcessCPU(), time.Now()
	b.ResetTimer()
	for _, cl := range clients {
		go func() {
			for left.Add(-1) >= 0 {
				if err := get(cl); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu, wall := proxytest.ProcessCPU()-r0, time.Since(t0)
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/req")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
}

// readResponse reads one response of known length and returns its body
// size.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return 0, fmt.Errorf("status line %q", line)
	}
	n := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			if n, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, err
			}
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	_, err = br.Discard(n)
	return n, err
}
