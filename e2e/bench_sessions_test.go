package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/e2e/e2etest"
)

// Benchmarks of database, HTTP and VNC sessions through the real binaries
// (CLI → control → agent → target, recording on) against the same client
// straight to the same server, interleaved pair by pair as
// /work/shared/BENCHMARKING.md asks. Each runs once whatever -benchtime
// says and prints medians and ratios. Everything shares one machine's
// cores: the ratios are what carries over, not the absolute figures.
//
//	ONEPAM_BENCH_ROUNDS       measured pairs (default 5, after one warm-up)
//	ONEPAM_BENCH_PGBENCH_SECS pgbench -T (default 30)

func benchRounds() int {
	if n, err := strconv.Atoi(os.Getenv("ONEPAM_BENCH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 5
}

// interleave runs warm-up then rounds pairs of (through, direct), each a
// measurement where larger is better, and prints and returns the median
// ratio through/direct.
func interleave(b *testing.B, what, unit string, through, direct func() float64) e2etest.Stats {
	b.Helper()
	through()
	direct()
	var ts, ds, rs []float64
	for i := 0; i < benchRounds(); i++ {
		t, d := through(), direct()
		ts, ds, rs = append(ts, t), append(ds, d), append(rs, t/d)
	}
	st, sd, sr := e2etest.Summarize(ts), e2etest.Summarize(ds), e2etest.Summarize(rs)
	fmt.Printf("%s, %d interleaved pairs:\n  onepam median %.1f %s (min %.1f, max %.1f)\n  direct median %.1f %s (min %.1f, max %.1f)\n  ratio  median %.2f (min %.2f, max %.2f)\n",
		what, len(rs), st.Median, unit, st.Min, st.Max, sd.Median, unit, sd.Min, sd.Max, sr.Median, sr.Min, sr.Max)
	b.ReportMetric(sr.Median, "ratio")
	return sr
}

var pgbenchTPS = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// BenchmarkDBPgbench: pgbench -S -c 8 -T 30 through `onepam db connect`
// (query log on) and straight to the machine's PostgreSQL; also the CPU
// time per transaction of each gateway process (CLI, control, agent),
// the figure that carries over to separate hosts.
func BenchmarkDBPgbench(b *testing.B) {
	requireBenchPeers(b, "pgbench", "psql")
	db := pgbenchDatabase(b)
	w := newWorld(b, fmt.Sprintf("  - name: pgdb\n    url: postgres://postgres@%s/%s\n", machinePG, db))
	tun := connectType(b, w.admin, "db", "pgdb")
	secs := pgbenchSeconds()
	procs := []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}
	cpu := map[string][]float64{} // gateway process → CPU µs per transaction
	run := func(addr string, ps []proc) func() float64 {
		return func() float64 {
			c0 := cpuOf(ps)
			tps, txns := runPgbench(b, db, addr, secs)
			c1 := cpuOf(ps)
			for i, p := range ps {
				cpu[p.name] = append(cpu[p.name], float64((c1[i]-c0[i]).Microseconds())/txns)
			}
			return tps
		}
	}
	interleave(b, "pgbench -S -c 8 -j 2 -T "+secs+" (TPS)", "tps", run(tun.Addr, procs), run(machinePG, nil))
	var total float64
	for _, p := range procs {
		med := e2etest.Summarize(cpu[p.name]).Median
		total += med
		fmt.Printf("  CPU per transaction, %s: median %.1f µs\n", p.name, med)
		b.ReportMetric(med, "cpu-µs/txn-"+p.name)
	}
	fmt.Printf("  CPU per transaction, gateway total: %.1f µs\n", total)
}

// pgbenchDatabase creates a pgbench database (scale 10) on the machine's
// PostgreSQL, dropped at the end.
func pgbenchDatabase(b *testing.B) string {
	b.Helper()
	db := "onepam_bench_" + randHex(4)
	benchPSQL(b, "create database "+db)
	b.Cleanup(func() {
		_, _ = exec.Command("psql", "-X", "-h", "127.0.0.1", "-U", "postgres", "-c", "drop database if exists "+db).CombinedOutput()
	})
	if out, err := exec.Command("pgbench", "-i", "-q", "-s", "10", "-h", "127.0.0.1", "-U", "postgres", db).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	return db
}

// pgbenchSeconds is each pgbench run's length: 30 s, or
// ONEPAM_BENCH_PGBENCH_SECS.
func pgbenchSeconds() string {
	if s := os.Getenv("ONEPAM_BENCH_PGBENCH_SECS"); s != "" {
		return s
	}
	return "30"
}

// runPgbench runs pgbench -S -c 8 -j 2 against addr and returns the TPS
// and the number of transactions.
func runPgbench(b *testing.B, db, addr, secs string) (tps, txns float64) {
	b.Helper()
	out, err := exec.Command("pgbench", "-S", "-c", "8", "-j", "2", "-T", secs, "-n", "-h", "127.0.0.1", "-p", portOf(addr), "-U", "postgres", db).CombinedOutput()
	m, n := pgbenchTPS.FindSubmatch(out), pgbenchTxns.FindSubmatch(out)
	if err != nil || m == nil || n == nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	tps, _ = strconv.ParseFloat(string(m[1]), 64)
	txns, _ = strconv.ParseFloat(string(n[1]), 64)
	return tps, txns
}

var pgbenchTxns = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)

// BenchmarkDBQueryLatency: select 1 on one pgx connection, alternating
// through the gateway and direct, query by query.
func BenchmarkDBQueryLatency(b *testing.B) {
	requireBenchPeers(b, "psql")
	w := newWorld(b, fmt.Sprintf("  - name: pgdb\n    url: postgres://postgres@%s/postgres\n", machinePG))
	tun := connectType(b, w.admin, "db", "pgdb")
	ctx := context.Background()
	through, err := pgx.Connect(ctx, "postgres://postgres@"+tun.Addr+"/postgres?sslmode=disable")
	if err != nil {
		b.Fatal(err)
	}
	defer through.Close(ctx)
	direct, err := pgx.Connect(ctx, "postgres://postgres@"+machinePG+"/postgres?sslmode=disable")
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close(ctx)
	q := func(c *pgx.Conn) float64 {
		t0 := time.Now()
		var one int
		if err := c.QueryRow(ctx, "select 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
		return float64(time.Since(t0).Microseconds())
	}
	const n = 5000
	for i := 0; i < 200; i++ {
		q(through)
		q(direct)
	}
	var ts, ds []float64
	for i := 0; i < n; i++ {
		ts, ds = append(ts, q(through)), append(ds, q(direct))
	}
	st, sd := e2etest.Summarize(ts), e2etest.Summarize(ds)
	fmt.Printf("select 1 latency (pgx, one connection, %d interleaved samples):\n  onepam median %.0f µs p99 %.0f µs\n  direct median %.0f µs p99 %.0f µs\n  added  median %.0f µs p99 %.0f µs\n",
		n, st.Median, st.P99, sd.Median, sd.P99, st.Median-sd.Median, st.P99-sd.P99)
	b.ReportMetric(st.Median-sd.Median, "µs-added-median")
	b.ReportMetric(st.P99-sd.P99, "µs-added-p99")
}

var slapAverage = regexp.MustCompile(`Average number of seconds to run all queries: ([0-9.]+) seconds`)

// BenchmarkDBMysqlslap: mysqlslap (8 clients, 20,000 generated reads)
// through `onepam db connect` and straight to the machine's MariaDB.
func BenchmarkDBMysqlslap(b *testing.B) {
	requireBenchPeers(b, "mysqlslap")
	w := newWorld(b, fmt.Sprintf("  - name: maria\n    url: mysql://root@%s/\n", machineMaria))
	tun := connectType(b, w.admin, "db", "maria")
	run := func(addr string) func() float64 { return func() float64 { return runMysqlslap(b, addr) } }
	interleave(b, "mysqlslap --concurrency=8 --number-of-queries="+strconv.Itoa(slapQueries)+" read (queries/s)", "q/s", run(tun.Addr), run(machineMaria))
}

// slapQueries is the number of statements of one mysqlslap run.
const slapQueries = 20000

// runMysqlslap runs mysqlslap (8 clients, generated reads) against addr
// and returns the statements per second.
func runMysqlslap(b *testing.B, addr string) float64 {
	b.Helper()
	out, err := exec.Command("mysqlslap", "--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", portOf(addr), "-u", "root",
		"--create-schema=onepam_slap_"+randHex(4), "--concurrency=8", "--iterations=1", "--auto-generate-sql",
		"--auto-generate-sql-load-type=read", "--number-of-queries="+strconv.Itoa(slapQueries)).CombinedOutput()
	m := slapAverage.FindSubmatch(out)
	if err != nil || m == nil {
		b.Fatalf("mysqlslap: %v\n%s", err, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return slapQueries / v
}

// BenchmarkVNCFullScreen: full-screen (non-incremental) framebuffer
// updates per second a Go RFB client gets, through `onepam vnc connect`
// (deskproto recording on) and straight from Xvnc, for Raw and ZRLE.
func BenchmarkVNCFullScreen(b *testing.B) {
	requireBenchPeers(b, "Xvnc", "xsetroot", "convert", "display")
	srv := vnctest.StartXvnc(b)
	srv.Run(b, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00")
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: vnc://%s\n", srv.Addr))
	tun := connectType(b, w.admin, "vnc", "desk")
	for _, enc := range []struct {
		name string
		enc  int32
	}{{"raw", rfb.EncRaw}, {"zrle", rfb.EncZRLE}} {
		rate := func(addr string) func() float64 {
			return func() float64 {
				cl, err := vnctest.Dial(addr, "")
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				if err := cl.SetEncodings(enc.enc); err != nil {
					b.Fatal(err)
				}
				n, t0 := 0, time.Now()
				for time.Since(t0) < 3*time.Second {
					if err := cl.Request(false); err != nil {
						b.Fatal(err)
					}
					if err := cl.ReadUpdate(20 * time.Second); err != nil {
						b.Fatal(err)
					}
					n++
				}
				return float64(n) / time.Since(t0).Seconds()
			}
		}
		interleave(b, "VNC full-screen 640x480 updates/s, "+enc.name, "fps", rate(tun.Addr), rate(srv.Addr))
	}
}

func requireBenchPeers(b *testing.B, progs ...string) {
	b.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			b.Skipf("%s is not installed", p)
		}
	}
}

func benchPSQL(b *testing.B, sql string) {
	b.Helper()
	if out, err := exec.Command("psql", "-X", "-h", "127.0.0.1", "-U", "postgres", "-c", sql).CombinedOutput(); err != nil {
		b.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
}

func portOf(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	return addr[i+1:]
}
