package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/control/store/storetest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// The benchmarks here run the real binaries against the real alternative
// (OpenSSH port forwarding to a private sshd) in one run, interleaved, and
// print medians and ratios (see docs/BENCHMARKS.md). Run them with
// scripts/bench/foundation; each runs once whatever -benchtime says.

// startBulkSource serves each connection: read an 8-byte big-endian size,
// write that many bytes, close.
func startBulkSource(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	buf := make([]byte, 1<<20)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [8]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				n := int64(binary.BigEndian.Uint64(hdr[:]))
				for n > 0 {
					k := int64(len(buf))
					if n < k {
						k = n
					}
					w, err := c.Write(buf[:k])
					if err != nil {
						return
					}
					n -= int64(w)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// pull asks the bulk source behind addr for size bytes over streams
// parallel connections and returns the elapsed time.
func pull(addr string, size int64, streams int) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var hdr [8]byte
			per := size / int64(streams)
			binary.BigEndian.PutUint64(hdr[:], uint64(per))
			if _, err := c.Write(hdr[:]); err != nil {
				errs <- err
				return
			}
			buf := make([]byte, 256<<10)
			n, err := io.CopyBuffer(io.Discard, c, buf)
			if err == nil && n != per {
				err = fmt.Errorf("got %d bytes, want %d", n, per)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

type path struct {
	name string
	addr string
	// procs are the processes of this path whose CPU time is reported.
	procs []proc
}

type proc struct {
	name string
	pid  func() int
}

// cpuOf returns each process's CPU time (with its descendants).
func cpuOf(ps []proc) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = e2etest.TreeCPU(p.pid())
	}
	return out
}

// BenchmarkTCPThroughput: bytes through CLI → control → agent → target
// against ssh -L to a local sshd, one stream and 16 streams, 1 GiB a run.
func BenchmarkTCPThroughput(b *testing.B) {
	src := startBulkSource(b)
	w := newWorld(b, fmt.Sprintf("  - name: bulk\n    url: tcp://%s\n", src))
	sshd := e2etest.StartSSHD(b)
	fwd, sshProc := sshd.Forward(b, src)
	tun := tcpConnect(b, w.admin, "bulk")
	paths := []path{
		{"onepam", tun.Addr, []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}},
		{"ssh -L", fwd, []proc{{"ssh", sshProc.Pid}, {"sshd", sshd.Pid}}},
		{"direct", src, nil},
	}
	size := int64(1 << 30)
	if s := os.Getenv("ONEPAM_BENCH_BYTES"); s != "" {
		fmt.Sscan(s, &size)
	}
	rounds := 5
	for _, streams := range []int{1, 16} {
		rates := map[string][]float64{}
		cpu := map[string][]float64{} // "path/process" → CPU s per GiB
		var ratios []float64
		for r := -1; r < rounds; r++ { // round -1 warms every path up
			got := map[string]float64{}
			for _, p := range paths {
				c0 := cpuOf(p.procs)
				d, err := pull(p.addr, size, streams)
				if err != nil {
					b.Fatalf("%s: %v", p.name, err)
				}
				if r < 0 {
					continue
				}
				got[p.name] = float64(size) / d.Seconds() / (1 << 20)
				rates[p.name] = append(rates[p.name], got[p.name])
				for i, c1 := range cpuOf(p.procs) {
					k := p.name + "/" + p.procs[i].name
					cpu[k] = append(cpu[k], (c1-c0[i]).Seconds()/(float64(size)/(1<<30)))
				}
			}
			if r >= 0 {
				ratios = append(ratios, got["onepam"]/got["ssh -L"])
			}
		}
		rs := e2etest.Summarize(ratios)
		fmt.Printf("tcp throughput, %d stream(s), %d MiB a run, %d interleaved rounds:\n", streams, size>>20, rounds)
		for _, p := range paths {
			s := e2etest.Summarize(rates[p.name])
			fmt.Printf("  %-7s median %7.1f MiB/s (min %.1f, max %.1f)", p.name, s.Median, s.Min, s.Max)
			for _, pr := range p.procs {
				fmt.Printf("  %s %.2f CPU-s/GiB", pr.name, e2etest.Summarize(cpu[p.name+"/"+pr.name]).Median)
			}
			fmt.Println()
		}
		fmt.Printf("  onepam/ssh -L ratio: median %.2f (min %.2f, max %.2f)\n", rs.Median, rs.Min, rs.Max)
		b.ReportMetric(rs.Median, fmt.Sprintf("ratio-vs-ssh-%dstream", streams))
	}
	perProc := []struct {
		name string
		pid  int
	}{{"cli", tun.Pid()}, {"control", w.ctl.Pid()}, {"agent", w.agent.Pid()}}
	for _, p := range perProc {
		_, peak := e2etest.RSS(p.pid)
		fmt.Printf("  peak RSS %-8s %d KiB\n", p.name, peak)
	}
}

// startGreeter writes one byte to each connection at once, then holds it
// open until the peer closes.
func startGreeter(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte{'!'})
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func firstByte(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var one [1]byte
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, one[:]); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// BenchmarkTCPFirstByte: from a local connection to the first byte of the
// target, through onepam, ssh -L and directly, 1,000 samples each.
func BenchmarkTCPFirstByte(b *testing.B) {
	g := startGreeter(b)
	w := newWorld(b, fmt.Sprintf("  - name: greeter\n    url: tcp://%s\n", g))
	sshd := e2etest.StartSSHD(b)
	fwd, _ := sshd.Forward(b, g)
	tun := tcpConnect(b, w.admin, "greeter")
	paths := []path{{name: "onepam", addr: tun.Addr}, {name: "ssh -L", addr: fwd}, {name: "direct", addr: g}}
	samples := map[string][]float64{}
	n := 1000
	for i := -20; i < n; i++ {
		for _, p := range paths {
			d, err := firstByte(p.addr)
			if err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
			if i >= 0 {
				samples[p.name] = append(samples[p.name], float64(d.Microseconds())/1000)
			}
		}
	}
	fmt.Printf("tcp connect → first byte from the target, %d interleaved samples:\n", n)
	for _, p := range paths {
		s := e2etest.Summarize(samples[p.name])
		fmt.Printf("  %-7s median %.2f ms  p99 %.2f ms  max %.2f ms\n", p.name, s.Median, s.P99, s.Max)
		if p.name == "onepam" {
			b.ReportMetric(s.Median, "ms-median")
			b.ReportMetric(s.P99, "ms-p99")
		}
	}
}

// BenchmarkKillLatency: from the kill API call to both the person's and the
// target's connections closed.
func BenchmarkKillLatency(b *testing.B) {
	closed := make(chan time.Time, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = c.Write([]byte{'!'})
				_, _ = io.Copy(io.Discard, c)
				closed <- time.Now()
				c.Close()
			}()
		}
	}()
	w := newWorld(b, fmt.Sprintf("  - name: hold\n    url: tcp://%s\n", ln.Addr()))
	cl, err := client.New(client.Config{URL: w.ctl.URL(), Token: w.ctl.AdminToken, CAPin: w.ctl.CAPin})
	if err != nil {
		b.Fatal(err)
	}
	var lat []float64
	n := 30
	for i := 0; i < n; i++ {
		tun := tcpConnect(b, w.admin, "hold")
		c, err := firstByteConn(tun.Addr)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := cl.KillSession(context.Background(), tun.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, rerr := c.Read(make([]byte, 1))
		clientClosed := time.Now()
		if ne, ok := rerr.(net.Error); ok && ne.Timeout() {
			b.Fatal("client side not closed within 5 s")
		}
		var targetClosed time.Time
		select {
		case targetClosed = <-closed:
		case <-time.After(5 * time.Second):
			b.Fatal("target side not closed within 5 s")
		}
		last := clientClosed
		if targetClosed.After(last) {
			last = targetClosed
		}
		lat = append(lat, float64(last.Sub(start).Microseconds())/1000)
		c.Close()
		_, _ = tun.Wait(5 * time.Second)
	}
	s := e2etest.Summarize(lat)
	fmt.Printf("kill latency (API call → both sides closed), %d sessions: median %.1f ms, max %.1f ms\n", n, s.Median, s.Max)
	b.ReportMetric(s.Median, "ms-median")
	b.ReportMetric(s.Max, "ms-max")
}

func firstByteConn(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var one [1]byte
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, one[:]); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// BenchmarkSessionsList1M: `sessions ls --status active --type tcp --limit 50`
// against a control whose store holds 1,000,000 sessions, first and deep
// pages, and the session creation rate through the API.
func BenchmarkSessionsList1M(b *testing.B) {
	dir := b.TempDir()
	n := 1_000_000
	if s := os.Getenv("ONEPAM_BENCH_SESSIONS"); s != "" {
		fmt.Sscan(s, &n)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "onepam.db"))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := storetest.Seed(ctx, st, n, time.Now()); err != nil {
		b.Fatal(err)
	}
	st.Close()
	fmt.Printf("seeded %d sessions in %s\n", n, time.Since(t0).Round(time.Millisecond))
	w := newWorldIn(b, dir)
	cl, err := client.New(client.Config{URL: w.ctl.URL(), Token: w.ctl.AdminToken, CAPin: w.ctl.CAPin})
	if err != nil {
		b.Fatal(err)
	}
	timeit := func(name string, q client.SessionQuery, samples int) {
		var xs []float64
		for i := -10; i < samples; i++ {
			start := time.Now()
			if _, err := cl.ListSessions(ctx, q); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			if i >= 0 {
				xs = append(xs, float64(time.Since(start).Microseconds())/1000)
			}
		}
		s := e2etest.Summarize(xs)
		fmt.Printf("  %-40s median %.2f ms  p99 %.2f ms\n", name, s.Median, s.P99)
		b.ReportMetric(s.Median, "ms-"+name)
	}
	fmt.Printf("GET /v1/sessions over %d sessions (API call through HTTPS, keep-alive):\n", n)
	timeit("active,tcp,limit50", client.SessionQuery{Status: []api.SessionStatus{api.StatusActive}, Type: []api.SessionType{api.TypeTCP}, Limit: 50}, 1000)
	timeit("nofilter,limit50", client.SessionQuery{Limit: 50}, 1000)
	cursor := ""
	for walked := 0; walked < 10000; walked += 1000 {
		page, err := cl.ListSessions(ctx, client.SessionQuery{Status: []api.SessionStatus{api.StatusCompleted}, Limit: 1000, Cursor: cursor})
		if err != nil {
			b.Fatal(err)
		}
		cursor = page.NextCursor
	}
	timeit("completed,limit50,after10000", client.SessionQuery{Status: []api.SessionStatus{api.StatusCompleted}, Limit: 50, Cursor: cursor}, 1000)

	// Creation rate: pending sessions created through the API by 8 clients.
	var created sync.WaitGroup
	var mu sync.Mutex
	total := 0
	d := 5 * time.Second
	start := time.Now()
	for i := 0; i < 8; i++ {
		created.Add(1)
		go func() {
			defer created.Done()
			k := 0
			for time.Since(start) < d {
				if _, err := cl.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"}); err != nil {
					b.Error(err)
					return
				}
				k++
			}
			mu.Lock()
			total += k
			mu.Unlock()
		}()
	}
	created.Wait()
	rate := float64(total) / time.Since(start).Seconds()
	fmt.Printf("  session creation through the API, 8 clients: %.0f sessions/s\n", rate)
	b.ReportMetric(rate, "sessions/s")
}
