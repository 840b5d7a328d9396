package mysql

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/agent/spool"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
)

// BenchmarkMysqlslapCPU runs mysqlslap (8 clients, auto-generated read
// load: each query returns the table's 100 rows, ~20 KB) through the proxy
// against the machine's MariaDB, with the query log written to a real
// spool, and reports the CPU (user + system, getrusage) the test process
// spends per statement logged. Nothing else runs in the process: mysqlslap
// and the server are other processes and the client connections are
// handed to ServeConn directly (raw socket calls, as the agent's other TCP
// hops). Sub-benchmark splice is the same through a plain TCP relay: the
// floor of any relay of two goroutines per connection. SLAP_QUERIES sets
// --number-of-queries (default 20000). Run with -benchtime=1x.
//
// ONEPAM_BENCH_PERF=1 also reports system calls per statement (perf stat
// on this process).
func BenchmarkMysqlslapCPU(b *testing.B) {
	prog := requirePeer(b, "mysqlslap")
	requireServer(b, machineMariaDB)
	queries := os.Getenv("SLAP_QUERIES")
	if queries == "" {
		queries = "20000"
	}
	sink := newBenchSink(b)
	info := proxytest.Info(api.SessionOpen{SessionID: "bench1", Type: api.TypeDB, Resource: "db"},
		proxy.Target{Name: "db", Address: machineMariaDB, Options: &TargetConfig{User: "root", TLS: TLSDisable}}, nil)
	info.Recorder = record.New(sink, record.FailClosed, nil)
	s, err := New(Config{}).Open(context.Background(), info)
	if err != nil {
		b.Fatal(err)
	}
	fronts := []struct{ name, addr string }{{"proxy", serveDirect(b, s)}, {"splice", spliceTo(b, machineMariaDB)}}
	for _, f := range fronts {
		b.Run(f.name, func(b *testing.B) {
			host, port, _ := net.SplitHostPort(f.addr)
			for b.Loop() {
				n0 := sink.lines.Load()
				stopPerf := perfSyscalls(b)
				c0 := processCPU()
				t0 := time.Now()
				out, err := exec.Command(prog, "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-u", "root",
					"--create-schema="+randName("onepam_slap"), "--concurrency=8", "--iterations=1", "--auto-generate-sql",
					"--auto-generate-sql-load-type=read", "--number-of-queries="+queries).CombinedOutput()
				elapsed := time.Since(t0)
				c1 := processCPU()
				calls := stopPerf()
				n1 := sink.lines.Load()
				if err != nil {
					b.Fatalf("mysqlslap: %v\n%s", err, out)
				}
				// The proxy logs every statement; the relay logs none: count
				// the queries mysqlslap was asked for.
				stmts, _ := strconv.ParseFloat(queries, 64)
				if n := float64(n1 - n0); n > 0 {
					stmts = n
				}
				b.ReportMetric(float64((c1-c0).Microseconds())/stmts, "cpu-µs/stmt")
				b.ReportMetric(stmts/elapsed.Seconds(), "stmt/s")
				for name, n := range calls {
					b.ReportMetric(float64(n)/stmts, name+"/stmt")
				}
			}
		})
	}
}

// processCPU returns the user + system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perfSyscalls counts this process's system calls with perf stat until
// the returned function is called, when ONEPAM_BENCH_PERF=1 (perf must be
// installed and allowed); it returns the counts by name, or nil when not
// asked.
func perfSyscalls(b *testing.B) func() map[string]int64 {
	if os.Getenv("ONEPAM_BENCH_PERF") != "1" {
		return func() map[string]int64 { return nil }
	}
	var events []string
	for _, n := range []string{"read", "write", "epoll_pwait", "futex", "nanosleep", "sched_yield"} {
		events = append(events, "syscalls:sys_enter_"+n)
	}
	var out bytes.Buffer
	cmd := exec.Command("perf", "stat", "-x", ",", "-e", strings.Join(events, ","), "-p", strconv.Itoa(os.Getpid()))
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("perf: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	return func() map[string]int64 {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		calls := map[string]int64{}
		for _, line := range strings.Split(out.String(), "\n") {
			f := strings.Split(line, ",")
			if len(f) < 3 || !strings.HasPrefix(f[2], "syscalls:sys_enter_") {
				continue
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				b.Fatalf("perf output: %q", line)
			}
			calls[strings.TrimPrefix(f[2], "syscalls:sys_enter_")] = n
		}
		return calls
	}
}

// benchSink is a recording in a real spool, as the agent writes it,
// counting the query log lines written.
type benchSink struct {
	*spool.Writer
	lines atomic.Int64
}

func newBenchSink(b *testing.B) *benchSink {
	sp, err := spool.Open(spool.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := sp.Create("bench1", api.RecordingFormatFor(api.TypeDB))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Finalize(false) })
	return &benchSink{Writer: w}
}

func (s *benchSink) Write(p []byte) (int, error) {
	s.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return s.Writer.Write(p)
}

// serveDirect accepts loopback connections and hands each to ServeConn
// as the agent hands it a stream (the ConnOpenResult frame dropped). It
// returns the address to connect to.
func serveDirect(b *testing.B, s proxy.Session) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var id atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.ServeConn(context.Background(), &frameStripper{Conn: relay.Raw(c)}, api.ConnOpen{SessionID: "bench1", ConnID: id.Add(1)})
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		s.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// spliceTo is a plain TCP relay to addr with raw socket calls
// (relay.Splice): no parsing, no log.
func spliceTo(b *testing.B, addr string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t, err := net.Dial("tcp", addr)
				if err != nil {
					c.Close()
					return
				}
				relay.Splice(relay.Raw(c), relay.Raw(t), nil, nil)
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}
