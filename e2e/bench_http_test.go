package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/onepam/onepam/e2e/e2etest"
)

var (
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// BenchmarkHTTPWrk: wrk -t2 -c16 -d10s through `onepam http connect`
// (HAR recording on) and straight to the same upstream, interleaved; also
// the latency percentiles wrk reports and each gateway process's CPU time
// per request (the figure that carries over to hosts of their own).
func BenchmarkHTTPWrk(b *testing.B) {
	requireBenchPeers(b, "wrk")
	page := strings.Repeat("onepam ", 150) // ~1 KiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, page)
	}))
	b.Cleanup(up.Close)
	w := newWorld(b, fmt.Sprintf("  - name: web\n    url: %s\n", up.URL))
	tun := connectType(b, w.admin, "http", "web")
	procs := []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}
	lat := map[string][]float64{}
	cpu := map[string][]float64{} // process → CPU µs per request
	run := func(name, base string, ps []proc) func() float64 {
		return func() float64 {
			c0 := cpuOf(ps)
			out, err := exec.Command("wrk", "-t2", "-c16", "-d10s", "--latency", base+"/").CombinedOutput()
			c1 := cpuOf(ps)
			m, n := wrkRate.FindSubmatch(out), wrkRequests.FindSubmatch(out)
			if err != nil || m == nil || n == nil {
				b.Fatalf("wrk: %v\n%s", err, out)
			}
			if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
				b.Fatalf("wrk saw errors through %s:\n%s", name, out)
			}
			for _, l := range wrkLatency.FindAllStringSubmatch(string(out), -1) {
				v, _ := strconv.ParseFloat(l[2], 64)
				v *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[l[3]]
				lat[name+" p"+l[1]] = append(lat[name+" p"+l[1]], v)
			}
			reqs, _ := strconv.ParseFloat(string(n[1]), 64)
			for i, p := range ps {
				cpu[p.name] = append(cpu[p.name], float64((c1[i]-c0[i]).Microseconds())/reqs)
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			return v
		}
	}
	interleave(b, "wrk -t2 -c16 -d10s, 1 KiB page (requests/s)", "req/s", run("onepam", "http://"+tun.Addr, procs), run("direct", up.URL, nil))
	for _, k := range []string{"onepam p50", "direct p50", "onepam p99", "direct p99"} {
		fmt.Printf("  latency %s median %.2f ms\n", k, e2etest.Summarize(lat[k]).Median)
	}
	for _, p := range procs {
		fmt.Printf("  %s CPU per request median %.1f µs\n", p.name, e2etest.Summarize(cpu[p.name]).Median)
	}
}
