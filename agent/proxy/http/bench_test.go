package httpproxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/onepam/onepam/recordfmt/har/hartest"
)

// smallUpstream answers a 13-byte text response.
func smallUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world\n")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkLatency measures one keep-alive GET of a small response,
// straight to the upstream and through the proxy (HAR recording on), side
// by side, and reports the median and p99 of each and what the proxy adds.
func BenchmarkLatency(b *testing.B) {
	up := smallUpstream(b)
	r := newRigTo(b, hostOf(up), &TargetConfig{}, &countingSink{})
	direct, proxied := client(), client()
	get := func(c *http.Client, u string) time.Duration {
		t0 := time.Now()
		resp, err := c.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(t0)
	}
	get(direct, up.URL+"/")
	get(proxied, r.url+"/")
	var ds, ps []time.Duration
	b.ResetTimer()
	for range b.N {
		ds = append(ds, get(direct, up.URL+"/"))
		ps = append(ps, get(proxied, r.url+"/"))
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Microseconds())
	}
	dm, d99, pm, p99 := q(ds, 0.5), q(ds, 0.99), q(ps, 0.5), q(ps, 0.99)
	b.ReportMetric(dm, "direct-p50-µs")
	b.ReportMetric(d99, "direct-p99-µs")
	b.ReportMetric(pm, "proxy-p50-µs")
	b.ReportMetric(p99, "proxy-p99-µs")
	b.ReportMetric(pm-dm, "added-p50-µs")
	b.ReportMetric(p99-d99, "added-p99-µs")
}

var wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// BenchmarkWrk runs `wrk -t2 -c16 -d10s` on a small response straight to
// the upstream and through the proxy (HAR recording on), and reports both
// request rates and their ratio. Every wrk connection is its own person
// connection of the session.
func BenchmarkWrk(b *testing.B) {
	wrk := hartest.RequirePeer(b, "wrk")
	up := smallUpstream(b)
	r := newRigTo(b, hostOf(up), &TargetConfig{}, &countingSink{})
	run := func(u string) float64 {
		out, err := exec.Command(wrk, "-t2", "-c16", "-d10s", u).CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		m := wrkRPS.FindSubmatch(out)
		if m == nil {
			b.Fatalf("no Requests/sec in wrk output:\n%s", out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		b.Logf("wrk %s:\n%s", u, out)
		if bytes.Contains(out, []byte("Non-2xx")) {
			b.Fatalf("wrk saw errors:\n%s", out)
		}
		return v
	}
	for range b.N {
		d := run(up.URL + "/")
		p := run(r.url + "/")
		b.ReportMetric(d, "direct-req/s")
		b.ReportMetric(p, "proxy-req/s")
		b.ReportMetric(p/d, "ratio")
		b.Log(fmt.Sprintf("wrk -t2 -c16 -d10s: direct %.0f req/s, through the proxy %.0f req/s, ratio %.2f", d, p, p/d))
	}
}

// BenchmarkGet is one keep-alive GET of a small response through the
// proxy (HAR recording on) per iteration, from 8 clients in parallel:
// with -benchmem its allocations per request are the proxy's plus the Go
// client's and upstream's (BenchmarkGetDirect measures those alone).
func BenchmarkGet(b *testing.B) {
	up := smallUpstream(b)
	r := newRigTo(b, hostOf(up), &TargetConfig{}, &countingSink{})
	benchGets(b, r.url+"/")
}

// BenchmarkGetDirect is BenchmarkGet straight to the upstream.
func BenchmarkGetDirect(b *testing.B) {
	benchGets(b, smallUpstream(b).URL+"/")
}

func benchGets(b *testing.B, u string) {
	b.SetParallelism(4) // 8 clients on 2 cores
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := client()
		for pb.Next() {
			resp, err := c.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
