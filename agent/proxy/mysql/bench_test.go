package mysql

import (
	"database/sql"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/onepam/onepam/pkg/relay"
)

// BenchmarkSimpleQuery measures "select 1" on one connection, directly
// and through the proxy (query log on), reporting the median and p99
// latency of each; the difference is the proxy's added latency.
func BenchmarkSimpleQuery(b *testing.B) {
	requireServer(b, machineMariaDB)
	h := startProxy(b, machineMariaDB, &TargetConfig{User: "root", TLS: TLSDisable}, "")
	for _, side := range []struct{ name, addr string }{{"direct", machineMariaDB}, {"proxy", h.addr}} {
		b.Run(side.name, func(b *testing.B) {
			c := gomysql.NewConfig()
			c.User, c.Net, c.Addr = "root", "tcp", side.addr
			db := sql.OpenDB(mustConnector(b, c))
			defer db.Close()
			db.SetMaxOpenConns(1)
			var one int
			if err := db.QueryRow("select 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if err := db.QueryRow("select 1").Scan(&one); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkRows measures reading 100 000 rows (about 6 MB) directly and
// through the proxy.
func BenchmarkRows(b *testing.B) {
	requireServer(b, machineMariaDB)
	h := startProxy(b, machineMariaDB, &TargetConfig{User: "root", TLS: TLSDisable}, "")
	const q = "select seq, repeat('x', 50) from seq_1_to_100000"
	for _, side := range []struct{ name, addr string }{{"direct", machineMariaDB}, {"proxy", h.addr}} {
		b.Run(side.name, func(b *testing.B) {
			c := gomysql.NewConfig()
			c.User, c.Net, c.Addr, c.DBName = "root", "tcp", side.addr, "mysql"
			db := sql.OpenDB(mustConnector(b, c))
			defer db.Close()
			var bytes int64
			for b.Loop() {
				rows, err := db.Query(q)
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				var s []byte
				bytes = 0
				for rows.Next() {
					rows.Scan(&n, &s)
					bytes += int64(len(s)) + 8
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
			b.SetBytes(bytes)
		})
	}
}

var slapAverage = regexp.MustCompile(`Average number of seconds to run all queries: ([0-9.]+) seconds`)

// BenchmarkMysqlslap runs mysqlslap (8 clients, 2000 auto-generated read
// queries, 5 iterations) directly and through the proxy, and reports the
// average seconds of each and the throughput ratio proxy/direct.
func BenchmarkMysqlslap(b *testing.B) {
	prog := requirePeer(b, "mysqlslap")
	requireServer(b, machineMariaDB)
	h := startProxy(b, machineMariaDB, &TargetConfig{User: "root", TLS: TLSDisable}, "")
	run := func(addr string) float64 {
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(prog, "--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-u", "root",
			"--create-schema="+randName("onepam_slap"), "--concurrency=8", "--iterations=5", "--auto-generate-sql",
			"--auto-generate-sql-load-type=read", "--number-of-queries=2000").CombinedOutput()
		if err != nil {
			b.Fatalf("mysqlslap: %v\n%s", err, out)
		}
		m := slapAverage.FindSubmatch(out)
		if m == nil {
			b.Fatalf("mysqlslap output:\n%s", out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	relayAddr := spliceRelay(b, machineMariaDB)
	var direct, proxied, relayed float64
	for b.Loop() {
		direct += run(machineMariaDB)
		proxied += run(h.addr)
		relayed += run(relayAddr)
	}
	b.ReportMetric(direct/float64(b.N), "direct-s")
	b.ReportMetric(proxied/float64(b.N), "proxy-s")
	b.ReportMetric(relayed/float64(b.N), "tcp-relay-s")
	b.ReportMetric(direct/proxied, "throughput-ratio")
	b.ReportMetric(relayed/proxied, "vs-tcp-relay-ratio")
}

// spliceRelay is a plain TCP relay (pkg/relay.Splice, what the TCP proxy
// does) to target: the cost of the extra hop alone, for comparison.
func spliceRelay(b *testing.B, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				t, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				relay.Splice(c, t, nil, nil)
			}()
		}
	}()
	return ln.Addr().String()
}
