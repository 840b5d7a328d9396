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

// BenchmarkSimpleQuery measures one simple-protocol "select 1" round trip
// directly and through the proxy (query logging on, loopback gateway hop
// like the CLI's), side by side, and reports the median and p99 latency.
// The added latency per query is proxy minus direct.
func BenchmarkSimpleQuery(b *testing.B) {
	addr := scramPG.require(b)
	g := startGateway(b, target{addr, &TargetConfig{User: "postgres", Password: superPassword}}, api.SessionOpen{})
	h, p, _ := splitHostPort(addr)
	gh, gp := g.hostPort()
	for _, c := range []struct{ name, dsn string }{
		{"direct", fmt.Sprintf("postgres://postgres:%s@%s:%s/postgres?sslmode=disable", superPassword, h, p)},
		{"proxy", fmt.Sprintf("postgres://postgres@%s:%s/postgres?sslmode=disable", gh, gp)},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			cfg, err := pgx.ParseConfig(c.dsn)
			if err != nil {
				b.Fatal(err)
			}
			cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			lat := make([]time.Duration, 0, 1<<16)
			var n int
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil {
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

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// BenchmarkPgbench runs pgbench -S -c 8 (select-only, scale 1) directly
// and through the proxy with query logging on, one after the other in the
// same run, and reports both TPS and their ratio. PGBENCH_SECONDS sets -T
// (default 20). Run with -benchtime=1x.
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
	for b.Loop() {
		direct := run("127.0.0.1", port)
		gh, gp := g.hostPort()
		proxied := run(gh, gp)
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
