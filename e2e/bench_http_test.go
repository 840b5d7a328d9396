package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/client"
)

var (
	wrkRate         = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests     = regexp.MustCompile(`(\d+) requests in`)
	wrkSocketErrors = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+)`)
	wrkLatency      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

// BenchmarkHTTPWrk: wrk -t2 -c16 -d10s through `onepam http connect`
// (HAR recording on) and straight to the same upstream, interleaved; also
// the latency percentiles wrk reports and the CPU time per request of each
// process on each path (wrk, the upstream in this test process, the CLI,
// control, the agent): on one machine the ratio cannot beat direct CPU /
// through CPU, and the per-process figures carry over to separate hosts.
func BenchmarkHTTPWrk(b *testing.B) {
	requireBenchPeers(b, "wrk")
	up := startPageUpstream(b)
	w := newWorld(b, fmt.Sprintf("  - name: web\n    url: %s\n", up.URL))
	tun := connectType(b, w.admin, "http", "web")
	procs := []proc{{"cli", tun.Pid}, {"control", w.ctl.Pid}, {"agent", w.agent.Pid}}
	lat := map[string][]float64{}
	cpu := map[string][]float64{} // process → CPU µs per request
	run := func(name, base string, ps []proc) func() float64 {
		return func() float64 {
			c0, self0 := cpuOf(ps), e2etest.CPUTime(os.Getpid())
			res := runWrk(b, name, base+"/")
			c1, self1 := cpuOf(ps), e2etest.CPUTime(os.Getpid())
			for k, v := range res.latency {
				lat[name+" "+k] = append(lat[name+" "+k], v)
			}
			for i, p := range ps {
				cpu[p.name] = append(cpu[p.name], float64((c1[i]-c0[i]).Microseconds())/res.requests)
			}
			// The upstream runs in this process; wrk is the child.
			cpu[name+" upstream"] = append(cpu[name+" upstream"], float64((self1-self0).Microseconds())/res.requests)
			cpu[name+" wrk"] = append(cpu[name+" wrk"], float64(res.cpu.Microseconds())/res.requests)
			return res.rate
		}
	}
	interleave(b, "wrk -t2 -c16 -d10s, 1 KiB page (requests/s)", "req/s", run("onepam", "http://"+tun.Addr, procs), run("direct", up.URL, nil))
	for _, k := range []string{"onepam p50", "direct p50", "onepam p99", "direct p99"} {
		fmt.Printf("  latency %s median %.2f ms\n", k, e2etest.Summarize(lat[k]).Median)
	}
	for _, k := range []string{"direct wrk", "direct upstream", "onepam wrk", "cli", "control", "agent", "onepam upstream"} {
		fmt.Printf("  %s CPU per request median %.1f µs\n", k, e2etest.Summarize(cpu[k]).Median)
	}
}

// startPageUpstream serves a ~1 KiB text page on every path: the
// upstream of the wrk benchmarks.
func startPageUpstream(b *testing.B) *httptest.Server {
	page := strings.Repeat("onepam ", 150) // ~1 KiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, page)
	}))
	b.Cleanup(up.Close)
	return up
}

// wrkResult is what one wrk run reported.
type wrkResult struct {
	rate, requests float64
	latency        map[string]float64 // "p50", "p99" → ms
	cpu            time.Duration      // wrk's own CPU time
}

// runWrk runs wrk -t2 -c16 -d10s against url (name says which path, for
// errors) and fails on refused or broken connections and error statuses.
func runWrk(b *testing.B, name, url string) wrkResult {
	b.Helper()
	cmd := exec.Command("wrk", "-t2", "-c16", "-d10s", "--latency", url)
	out, err := cmd.CombinedOutput()
	m, n := wrkRate.FindSubmatch(out), wrkRequests.FindSubmatch(out)
	if err != nil || m == nil || n == nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	// Timeouts (wrk's 2 s) can happen on a loaded machine; refused,
	// broken connections and error statuses cannot.
	if se := wrkSocketErrors.FindStringSubmatch(string(out)); strings.Contains(string(out), "Non-2xx") || (se != nil && se[1]+se[2]+se[3] != "000") {
		b.Fatalf("wrk saw errors through %s:\n%s", name, out)
	}
	res := wrkResult{latency: map[string]float64{}, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	for _, l := range wrkLatency.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(l[2], 64)
		res.latency["p"+l[1]] = v * map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[l[3]]
	}
	res.requests, _ = strconv.ParseFloat(string(n[1]), 64)
	res.rate, _ = strconv.ParseFloat(string(m[1]), 64)
	return res
}

// BenchmarkHTTPDownloadMemory: peak memory (VmHWM) of the agent, control
// and the CLI streaming one download of 20 MiB and one of 200 MiB through
// `onepam http connect` (HAR recording on), each size on fresh processes
// so each peak is that download's own; the sizes alternate over the
// rounds. Flat means the 200 MiB peak is about the 20 MiB one: bodies
// stream, nothing holds them whole. Also the rate and each process's CPU
// time per GiB.
func BenchmarkHTTPDownloadMemory(b *testing.B) {
	up := httptest.NewServer(newUpstream())
	b.Cleanup(up.Close)
	sizes := []int64{20 << 20, 200 << 20}
	type key struct {
		size int64
		proc string
	}
	peak, idle, cpu := map[key][]float64{}, map[key][]float64{}, map[key][]float64{}
	rate := map[int64][]float64{}
	for round := range benchRounds() {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("round%d-%dMiB", round, size>>20), func(b *testing.B) {
				w := newWorld(b, fmt.Sprintf("  - name: web\n    url: %s\n", up.URL))
				tun := connectType(b, w.admin, "http", "web")
				procs := []proc{{"agent", w.agent.Pid}, {"control", w.ctl.Pid}, {"cli", tun.Pid}}
				for _, p := range procs {
					_, hwm := e2etest.RSS(p.pid())
					idle[key{size, p.name}] = append(idle[key{size, p.name}], float64(hwm)/1024)
				}
				c0 := cpuOf(procs)
				t0 := time.Now()
				resp, err := http.Get(fmt.Sprintf("http://%s/download?n=%d", tun.Addr, size))
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != size {
					b.Fatalf("download: %d of %d bytes: %v", n, size, err)
				}
				d := time.Since(t0)
				c1 := cpuOf(procs)
				rate[size] = append(rate[size], float64(size)/(1<<20)/d.Seconds())
				for i, p := range procs {
					_, hwm := e2etest.RSS(p.pid())
					peak[key{size, p.name}] = append(peak[key{size, p.name}], float64(hwm)/1024)
					cpu[key{size, p.name}] = append(cpu[key{size, p.name}], (c1[i]-c0[i]).Seconds()/(float64(size)/(1<<30)))
				}
			})
		}
	}
	fmt.Printf("http download through onepam http connect, %d rounds, fresh processes per download (medians, min-max):\n", benchRounds())
	for _, size := range sizes {
		r := e2etest.Summarize(rate[size])
		fmt.Printf("  %3d MiB: %.0f MiB/s (%.0f-%.0f)\n", size>>20, r.Median, r.Min, r.Max)
		for _, p := range []string{"agent", "control", "cli"} {
			pk, id, c := e2etest.Summarize(peak[key{size, p}]), e2etest.Summarize(idle[key{size, p}]), e2etest.Summarize(cpu[key{size, p}])
			fmt.Printf("    %-7s peak RSS %5.1f MiB (%.1f-%.1f), before the download %5.1f MiB, %.2f CPU-s/GiB\n", p, pk.Median, pk.Min, pk.Max, id.Median, c.Median)
		}
	}
	for _, p := range []string{"agent", "control", "cli"} {
		small, large := e2etest.Summarize(peak[key{sizes[0], p}]).Median, e2etest.Summarize(peak[key{sizes[1], p}]).Median
		fmt.Printf("  %-7s peak 200 MiB / peak 20 MiB: %.2f\n", p, large/small)
		b.ReportMetric(large/small, p+"-peak-ratio")
	}
}

// BenchmarkHTTPKillDownload: a 200 MiB download through `onepam http
// connect` is killed (POST /v1/sessions/{id}/kill) after its first MiB:
// the time from the call until the person's download fails and until the
// upstream's handler sees its connection gone, and the bytes the person
// still got after the call (what was in flight in the buffers).
func BenchmarkHTTPKillDownload(b *testing.B) {
	mux := newUpstream()
	ended := make(chan time.Time, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if r.URL.Path == "/download" {
			ended <- time.Now()
		}
	}))
	b.Cleanup(up.Close)
	w := newWorld(b, fmt.Sprintf("  - name: web\n    url: %s\n", up.URL))
	cl, err := client.New(client.Config{URL: w.ctl.URL(), Token: w.ctl.AdminToken, CAPin: w.ctl.CAPin})
	if err != nil {
		b.Fatal(err)
	}
	const size = 200 << 20
	var person, upstream, after []float64
	n := 10
	for range n {
		tun := connectType(b, w.admin, "http", "web")
		resp, err := http.Get(fmt.Sprintf("http://%s/download?n=%d", tun.Addr, size))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := cl.KillSession(context.Background(), tun.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		got, err := io.Copy(io.Discard, resp.Body)
		cut := time.Now()
		resp.Body.Close()
		if err == nil || got+1<<20 >= size {
			b.Fatalf("the download went on after kill: %d more bytes, err %v", got, err)
		}
		var upEnd time.Time
		select {
		case upEnd = <-ended:
		case <-time.After(10 * time.Second):
			b.Fatal("the upstream still sends 10 s after the kill")
		}
		person = append(person, float64(cut.Sub(start).Microseconds())/1000)
		upstream = append(upstream, float64(upEnd.Sub(start).Microseconds())/1000)
		after = append(after, float64(got)/(1<<20))
		_, _ = tun.Wait(10 * time.Second)
	}
	p, u, a := e2etest.Summarize(person), e2etest.Summarize(upstream), e2etest.Summarize(after)
	fmt.Printf("kill in the middle of a 200 MiB download, %d sessions:\n  person's download fails %.1f ms after the call (median; max %.1f)\n  upstream's handler ends %.1f ms after (median; max %.1f)\n  MiB the person got after the call: median %.1f, max %.1f\n",
		n, p.Median, p.Max, u.Median, u.Max, a.Median, a.Max)
	b.ReportMetric(p.Median, "person-ms-median")
	b.ReportMetric(u.Median, "upstream-ms-median")
}
