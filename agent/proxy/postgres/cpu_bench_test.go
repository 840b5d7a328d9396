package postgres

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
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
	sink := proxytest.NewBenchSink(b, api.TypeDB)
	info := proxytest.Info(api.SessionOpen{SessionID: "bench1", Type: api.TypeDB, Resource: "pg"},
		proxy.Target{Name: "pg", Address: addr, Options: &TargetConfig{User: "postgres"}}, nil)
	info.Recorder = record.New(sink, record.FailClosed, nil)
	s, err := New(Config{}).Open(context.Background(), info)
	if err != nil {
		b.Fatal(err)
	}
	fronts := []struct{ name, addr string }{{"proxy", proxytest.ServeDirect(b, s)}, {"splice", proxytest.SpliceTo(b, addr)}}
	for _, f := range fronts {
		b.Run(f.name, func(b *testing.B) {
			_, fport, _ := net.SplitHostPort(f.addr)
			for b.Loop() {
				n0 := sink.Lines.Load()
				stopPerf := proxytest.PerfSyscalls(b)
				c0 := proxytest.ProcessCPU()
				out, err := exec.Command(pgbench, "-S", "-n", "-c", "8", "-j", "2", "-T", secs, "-h", "127.0.0.1", "-p", fport, "-U", "postgres", db).CombinedOutput()
				c1 := proxytest.ProcessCPU()
				calls := stopPerf()
				n1 := sink.Lines.Load()
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
