package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onepam/onepam/pkg/api"
)

// BenchmarkSimpleQuery measures simple-protocol "select 1" round trips
// directly and through the proxy (query logging on, plus the loopback hop
// that stands in for the CLI's), interleaved query by query so machine load
// hits both alike. It reports the median and p99 of each and the added
// median latency (proxy − direct); ns/op covers one query of each.
func BenchmarkSimpleQuery(b *testing.B) {
	addr := scramPG.require(b)
	g := startGateway(b, target{addr, &TargetConfig{User: "postgres", Password: superPassword}}, api.SessionOpen{})
	h, p, _ := splitHostPort(addr)
	gh, gp := g.hostPort()
	ctx := context.Background()
	connect := func(dsn string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			b.Fatal(err)
		}
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close(ctx) })
		return conn
	}
	direct := connect(fmt.Sprintf("postgres://postgres:%s@%s:%s/postgres?sslmode=disable", superPassword, h, p))
	proxied := connect(fmt.Sprintf("postgres://postgres@%s:%s/postgres?sslmode=disable", gh, gp))
	var latD, latP []time.Duration
	var n int
	query := func(c *pgx.Conn, lat *[]time.Duration) {
		t0 := time.Now()
		if err := c.QueryRow(ctx, "select 1").Scan(&n); err != nil {
			b.Fatal(err)
		}
		*lat = append(*lat, time.Since(t0))
	}
	for b.Loop() {
		query(direct, &latD)
		query(proxied, &latP)
	}
	pct := func(lat []time.Duration, q int) float64 {
		slices.Sort(lat)
		return float64(lat[len(lat)*q/100].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(latD, 50), "direct-p50-µs")
	b.ReportMetric(pct(latD, 99), "direct-p99-µs")
	b.ReportMetric(pct(latP, 50), "proxy-p50-µs")
	b.ReportMetric(pct(latP, 99), "proxy-p99-µs")
	b.ReportMetric(pct(latP, 50)-pct(latD, 50), "added-p50-µs")
	b.ReportMetric(pct(latP, 99)-pct(latD, 99), "added-p99-µs")
}

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// BenchmarkPgbench runs pgbench -S -c 8 (select-only, scale 1) directly
// and through the proxy with query logging on, in the same run (direct,
// proxy, proxy, direct), and reports the mean TPS of each and their ratio.
// PGBENCH_SECONDS sets -T of each of the four runs (default 20). Run with
// -benchtime=1x.
func BenchmarkPgbench(b *testing.B) {
	addr := scramPG.require(b)
	pgbench := requirePeer(b, "pgbench")
	secs := os.Getenv("PGBENCH_SECONDS")
	if secs == "" {
		secs = "20"
	}
	for _, sql := range []string{"drop database if exists bench", "create database bench"} {
		if out, err := scramPG.psqlSocket("postgres", sql); err != nil {
			b.Fatalf("%v %s", err, out)
		}
	}
	_, port, _ := splitHostPort(addr)
	if out, err := exec.Command(pgbench, "-i", "-q", "-s", "1", "-h", scramPG.dir, "-p", port, "-U", "postgres", "bench").CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	g := startGateway(b, target{addr, &TargetConfig{User: "postgres", Password: superPassword}}, api.SessionOpen{})
	run := func(host, port string) float64 {
		cmd := exec.Command(pgbench, "-S", "-c", "8", "-j", "2", "-T", secs, "-h", host, "-p", port, "-U", "postgres", "bench")
		cmd.Env = append(os.Environ(), "PGPASSWORD="+superPassword)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench: %v\n%s", err, out)
		}
		m := tpsRe.FindSubmatch(out)
		if m == nil {
			b.Fatalf("no tps in:\n%s", out)
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		return tps
	}
	gh, gp := g.hostPort()
	for b.Loop() {
		// ABBA order: load drift on a shared machine hits both alike.
		direct := run("127.0.0.1", port)
		proxied := run(gh, gp)
		proxied = (proxied + run(gh, gp)) / 2
		direct = (direct + run("127.0.0.1", port)) / 2
		b.ReportMetric(direct, "tps-direct")
		b.ReportMetric(proxied, "tps-proxy")
		b.ReportMetric(proxied/direct, "ratio")
	}
	b.ReportMetric(float64(len(g.sink.dump())), "log-bytes")
}

func splitHostPort(addr string) (string, string, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:], nil
		}
	}
	return addr, "", fmt.Errorf("no port in %q", addr)
}
