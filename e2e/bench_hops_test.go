package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
)

// The reference chains here answer one question about the throughput
// figures of issues 5 and 6 on this kind of machine: what does a chain of
// plain relay processes cost, with nothing in it but forwarding? Each hop
// is one HAProxy (C, epoll, TCP mode: no TLS, no multiplexing, no parsing,
// no recording), the fastest general relay Debian ships. The gateway has
// three processes in the path (CLI → control → agent, docs/ARCHITECTURE.md
// §1); a chain of three HAProxy hops is what three processes cost at the
// least when they all share the machine's 2 cores with the load generator
// and the server, as they do here.

// startRelayChain starts hops HAProxy processes in TCP mode, each
// forwarding to the next and the last to target, and returns the first
// one's address and the processes.
func startRelayChain(b *testing.B, hops int, target string) (string, []proc) {
	b.Helper()
	next, procs := target, []proc(nil)
	for i := hops; i >= 1; i-- {
		port := e2etest.FreePort(b)
		cfg := fmt.Sprintf(`global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
frontend in
  bind 127.0.0.1:%d
  default_backend out
backend out
  server next %s
`, port, next)
		file := filepath.Join(b.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		p := e2etest.Start(b, fmt.Sprintf("haproxy-%d", i), nil, "haproxy", "-db", "-f", file)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		e2etest.WaitFor(b, 10*time.Second, "haproxy listening on "+addr, func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		procs = append([]proc{{fmt.Sprintf("haproxy-%d", i), p.Pid}}, procs...)
		next = addr
	}
	return next, procs
}

// chainPaths returns direct, then chains of 1 to 3 HAProxy hops to
// target, then the gateway's own path last.
func chainPaths(b *testing.B, target, directAddr string, gateway path) []path {
	paths := []path{{name: "direct", addr: directAddr}}
	for hops := 1; hops <= 3; hops++ {
		addr, ps := startRelayChain(b, hops, target)
		paths = append(paths, path{name: fmt.Sprintf("haproxy×%d", hops), addr: addr, procs: ps})
	}
	return append(paths, gateway)
}

// comparePaths runs measure on every path in turn, one warm-up round then
// benchRounds() rounds, and prints each path's median, its ratio to the
// first path (taken round by round), the medians of the run's other
// figures and the CPU time per operation of its processes; measure
// returns the rate (larger is better), the number of operations it did and
// other figures by name (a latency, say).
func comparePaths(b *testing.B, what, unit string, paths []path, measure func(p path) (rate, ops float64, other map[string]float64)) {
	b.Helper()
	rates := map[string][]float64{}
	others := map[string][]float64{} // "path/figure" → values
	var otherNames []string
	ratios := map[string][]float64{}
	cpu := map[string][]float64{} // "path/process" → CPU µs per operation
	for r := -1; r < benchRounds(); r++ {
		var base float64
		for i, p := range paths {
			c0 := cpuOf(p.procs)
			rate, ops, other := measure(p)
			c1 := cpuOf(p.procs)
			if r < 0 {
				continue
			}
			for k, v := range other {
				if !slices.Contains(otherNames, k) {
					otherNames = append(otherNames, k)
				}
				others[p.name+"/"+k] = append(others[p.name+"/"+k], v)
			}
			if i == 0 {
				base = rate
			}
			rates[p.name] = append(rates[p.name], rate)
			ratios[p.name] = append(ratios[p.name], rate/base)
			for k, pr := range p.procs {
				key := p.name + "/" + pr.name
				cpu[key] = append(cpu[key], float64((c1[k]-c0[k]).Microseconds())/ops)
			}
		}
	}
	fmt.Printf("%s, %d interleaved rounds (medians; ratio to %s round by round):\n", what, benchRounds(), paths[0].name)
	for _, p := range paths {
		s, q := e2etest.Summarize(rates[p.name]), e2etest.Summarize(ratios[p.name])
		fmt.Printf("  %-10s %9.0f %s  ratio %.2f (%.2f-%.2f)", p.name, s.Median, unit, q.Median, q.Min, q.Max)
		slices.Sort(otherNames)
		for _, k := range otherNames {
			fmt.Printf("  %s %.2f", k, e2etest.Summarize(others[p.name+"/"+k]).Median)
		}
		var total float64
		for _, pr := range p.procs {
			c := e2etest.Summarize(cpu[p.name+"/"+pr.name]).Median
			total += c
			fmt.Printf("  %s %.1f", pr.name, c)
		}
		if len(p.procs) > 0 {
			fmt.Printf("  (in all %.1f)", total)
		}
		fmt.Println()
		b.ReportMetric(q.Median, "ratio-"+p.name)
	}
}

// BenchmarkHTTPWrkHops: wrk -t2 -c16 -d10s (the figure of issue 6)
// straight to a Go upstream, through 1, 2 and 3 HAProxy hops, and through
// `onepam http connect` (HAR recording on), interleaved.
func BenchmarkHTTPWrkHops(b *testing.B) {
	requireBenchPeers(b, "wrk", "haproxy")
	up := startPageUpstream(b)
	w := newWorld(b, fmt.Sprintf("  - name: web\n    url: %s\n", up.URL))
	tun := connectType(b, w.admin, "http", "web")
	gw := path{name: "onepam", addr: tun.Addr, procs: []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}}
	paths := chainPaths(b, up.Listener.Addr().String(), up.Listener.Addr().String(), gw)
	comparePaths(b, "wrk -t2 -c16 -d10s, 1 KiB page; latency in ms; CPU µs per request", "req/s", paths, func(p path) (float64, float64, map[string]float64) {
		res := runWrk(b, p.name, "http://"+p.addr+"/")
		return res.rate, res.requests, res.latency
	})
}

// BenchmarkDBPgbenchHops: pgbench -S -c 8 -j 2 (the figure of issue 5)
// straight to the machine's PostgreSQL, through 1, 2 and 3 HAProxy hops,
// and through `onepam db connect` (query log on), interleaved.
func BenchmarkDBPgbenchHops(b *testing.B) {
	requireBenchPeers(b, "pgbench", "psql", "haproxy")
	db := pgbenchDatabase(b)
	w := newWorld(b, fmt.Sprintf("  - name: pgdb\n    url: postgres://postgres@%s/%s\n", machinePG, db))
	tun := connectType(b, w.admin, "db", "pgdb")
	gw := path{name: "onepam", addr: tun.Addr, procs: []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}}
	paths := chainPaths(b, machinePG, machinePG, gw)
	secs := pgbenchSeconds()
	comparePaths(b, "pgbench -S -c 8 -j 2 -T "+secs+"; CPU µs per transaction", "tps", paths, func(p path) (float64, float64, map[string]float64) {
		tps, txns := runPgbench(b, db, p.addr, secs)
		return tps, txns, nil
	})
}

// BenchmarkDBMysqlslapHops: mysqlslap (8 clients, generated reads)
// straight to the machine's MariaDB, through 1, 2 and 3 HAProxy hops, and
// through `onepam db connect` (query log on), interleaved.
func BenchmarkDBMysqlslapHops(b *testing.B) {
	requireBenchPeers(b, "mysqlslap", "haproxy")
	w := newWorld(b, fmt.Sprintf("  - name: maria\n    url: mysql://root@%s/\n", machineMaria))
	tun := connectType(b, w.admin, "db", "maria")
	gw := path{name: "onepam", addr: tun.Addr, procs: []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}}
	paths := chainPaths(b, machineMaria, machineMaria, gw)
	comparePaths(b, "mysqlslap --concurrency=8 --number-of-queries="+strconv.Itoa(slapQueries)+" read; CPU µs per statement", "q/s", paths, func(p path) (float64, float64, map[string]float64) {
		return runMysqlslap(b, p.addr), slapQueries, nil
	})
}
