package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"regexp"
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

var pgbenchTxns = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)

// BenchmarkPgbenchCPU runs `pgbench -S -c 8 -j 2` (select-only, scale 1)
// through the proxy against the machine's PostgreSQL, with the query log
// written to a real spool, and reports the CPU (user + system, getrusage)
// the test process spends per transaction. Nothing else runs in the
// process: pgbench and the server are other processes, and the client
// connections are handed to ServeConn directly (raw socket calls, as the
// agent's other TCP hops), so the figure is the proxy's own cost per
// statement relayed and logged. PGBENCH_SECONDS sets -T (default 10).
// Sub-benchmark splice is the same through a plain TCP relay, for
// comparison. Run with -benchtime=1x; each iteration is one pgbench run.
//
// Count the system calls per transaction with perf while it runs, e.g.
// perf stat -e 'syscalls:sys_enter_read,syscalls:sys_enter_write' -p PID.
func BenchmarkPgbenchCPU(b *testing.B) {
	addr := requireMachinePG(b)
	pgbench := requirePeer(b, "pgbench")
	secs := os.Getenv("PGBENCH_SECONDS")
	if secs == "" {
		secs = "10"
	}
	host, port, _ := net.SplitHostPort(addr)
	const db = "onepam_proxy_bench"
	psql := requirePeer(b, "psql")
	if out, err := exec.Command(psql, "-X", "-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-c",
		"select 1 from pg_database where datname = '"+db+"'", "-At").CombinedOutput(); err != nil {
		b.Fatalf("psql: %v\n%s", err, out)
	} else if !bytes.Contains(out, []byte("1")) {
		if out, err := exec.Command(psql, "-X", "-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-c", "create database "+db).CombinedOutput(); err != nil {
			b.Fatalf("create database: %v\n%s", err, out)
		}
		if out, err := exec.Command(pgbench, "-i", "-q", "-s", "1", "-h", host, "-p", port, "-U", "postgres", db).CombinedOutput(); err != nil {
			b.Fatalf("pgbench -i: %v\n%s", err, out)
		}
	}
	sink := newBenchSink(b, api.TypeDB)
	info := proxytest.Info(api.SessionOpen{SessionID: "bench1", Type: api.TypeDB, Resource: "pg"},
		proxy.Target{Name: "pg", Address: addr, Options: &TargetConfig{User: "postgres"}}, nil)
	info.Recorder = record.New(sink, record.FailClosed, nil)
	s, err := New(Config{}).Open(context.Background(), info)
	if err != nil {
		b.Fatal(err)
	}
	fronts := []struct{ name, addr string }{{"proxy", serveDirect(b, s)}, {"splice", spliceTo(b, addr)}}
	for _, f := range fronts {
		b.Run(f.name, func(b *testing.B) {
			_, fport, _ := net.SplitHostPort(f.addr)
			for b.Loop() {
				n0 := sink.lines.Load()
				stopPerf := perfSyscalls(b)
				c0 := processCPU()
				out, err := exec.Command(pgbench, "-S", "-n", "-c", "8", "-j", "2", "-T", secs, "-h", "127.0.0.1", "-p", fport, "-U", "postgres", db).CombinedOutput()
				c1 := processCPU()
				calls := stopPerf()
				n1 := sink.lines.Load()
				m := pgbenchTxns.FindSubmatch(out)
				if err != nil || m == nil {
					b.Fatalf("pgbench: %v\n%s", err, out)
				}
				txns, _ := strconv.ParseFloat(string(m[1]), 64)
				b.ReportMetric(float64((c1-c0).Microseconds())/txns, "cpu-µs/txn")
				b.ReportMetric(float64(n1-n0)/txns, "entries/txn")
				for name, n := range calls {
					b.ReportMetric(float64(n)/txns, name+"/txn")
				}
				if m := tpsRe.FindSubmatch(out); m != nil {
					tps, _ := strconv.ParseFloat(string(m[1]), 64)
					b.ReportMetric(tps, "tps")
				}
			}
		})
	}
}

// perfSyscalls counts this process's system calls with perf stat until
// the returned function is called, when ONEPAM_BENCH_PERF=1 (perf must be
// installed and allowed); it returns the counts by name ("read",
// "write", ...), or nil when not asked.
func perfSyscalls(b *testing.B) func() map[string]int64 {
	if os.Getenv("ONEPAM_BENCH_PERF") != "1" {
		return func() map[string]int64 { return nil }
	}
	names := []string{"read", "write", "epoll_pwait", "futex", "nanosleep", "sched_yield", "getpid", "tgkill"}
	var events []string
	for _, n := range names {
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

// processCPU returns the user + system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSink is a recording in a real spool, as the agent writes it,
// counting the query log lines written.
type benchSink struct {
	*spool.Writer
	lines atomic.Int64
}

func newBenchSink(b *testing.B, typ api.SessionType) *benchSink {
	sp, err := spool.Open(spool.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := sp.Create("bench1", api.RecordingFormatFor(typ))
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
// as the agent hands it a stream (the ConnOpenResult frame, which control
// and the CLI consume, dropped). It returns the address to connect to.
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
				s.ServeConn(context.Background(), &dropFirstFrame{Conn: relay.Raw(c)}, api.ConnOpen{SessionID: "bench1", ConnID: id.Add(1)})
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
// (relay.Splice): no parsing, no log. Its CPU per transaction is the floor
// of any relay built of two goroutines per connection.
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

// dropFirstFrame swallows the first write, the ConnOpenResult frame.
type dropFirstFrame struct {
	net.Conn
	seen bool
}

func (d *dropFirstFrame) Write(p []byte) (int, error) {
	if !d.seen {
		d.seen = true
		if len(p) >= 4 && int(binary.BigEndian.Uint32(p)) == len(p)-4 {
			return len(p), nil
		}
	}
	return d.Conn.Write(p)
}
