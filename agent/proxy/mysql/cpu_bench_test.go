package mysql

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
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
	sink := proxytest.NewBenchSink(b, api.TypeDB)
	info := proxytest.Info(api.SessionOpen{SessionID: "bench1", Type: api.TypeDB, Resource: "db"},
		proxy.Target{Name: "db", Address: machineMariaDB, Options: &TargetConfig{User: "root", TLS: TLSDisable}}, nil)
	info.Recorder = record.New(sink, record.FailClosed, nil)
	s, err := New(Config{}).Open(context.Background(), info)
	if err != nil {
		b.Fatal(err)
	}
	fronts := []struct{ name, addr string }{{"proxy", proxytest.ServeDirect(b, s)}, {"splice", proxytest.SpliceTo(b, machineMariaDB)}}
	for _, f := range fronts {
		b.Run(f.name, func(b *testing.B) {
			host, port, _ := net.SplitHostPort(f.addr)
			for b.Loop() {
				n0 := sink.Lines.Load()
				stopPerf := proxytest.PerfSyscalls(b)
				c0 := proxytest.ProcessCPU()
				t0 := time.Now()
				out, err := exec.Command(prog, "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-u", "root",
					"--create-schema="+randName("onepam_slap"), "--concurrency=8", "--iterations=1", "--auto-generate-sql",
					"--auto-generate-sql-load-type=read", "--number-of-queries="+queries).CombinedOutput()
				elapsed := time.Since(t0)
				c1 := proxytest.ProcessCPU()
				calls := stopPerf()
				n1 := sink.Lines.Load()
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
