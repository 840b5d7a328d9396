package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// BenchmarkRecordingOverhead: throughput with recording on against off,
// same run, interleaved: two agents serve the same targets, one recording
// (fail-closed), one not. TCP (connection log) pulls ONEPAM_BENCH_BYTES
// (default 256 MiB) through the whole stack; SSH streams 64 MiB of output
// (every byte recorded in the terminal recording).
func BenchmarkRecordingOverhead(b *testing.B) {
	src := startBulkSource(b)
	sshd := e2etest.StartSSHD(b)
	hostKey, err := os.ReadFile(filepath.Join(sshd.Dir, "host.pub"))
	if err != nil {
		b.Fatal(err)
	}
	ctl := e2etest.StartControl(b)
	admin := ctl.Admin(b)
	for _, mode := range []string{"on", "off"} {
		rec := "fail-closed"
		if mode == "off" {
			rec = "off"
		}
		ctl.StartAgent(b, admin, "agent-"+mode, fmt.Sprintf(`recording: %s
resources:
  - name: bulk-%s
    url: tcp://%s
  - name: web-%s
    url: ssh://%s@127.0.0.1:%d?key=%s
    host_key: %q
`, rec, mode, src, mode, sshd.User, sshd.Port, sshd.KeyFile, strings.TrimSpace(string(hostKey))))
	}
	e2etest.WaitFor(b, 30*time.Second, "both agents online", func() bool {
		out := admin.Run("resources", "ls", "-o", "json").Stdout
		return strings.Count(out, `"online": true`)+strings.Count(out, `"online":true`) >= 4
	})
	size := int64(256 << 20)
	if s := os.Getenv("ONEPAM_BENCH_BYTES"); s != "" {
		fmt.Sscan(s, &size)
	}
	tun := map[string]*tunnel{"on": tcpConnect(b, admin, "bulk-on"), "off": tcpConnect(b, admin, "bulk-off")}
	cli, _ := e2etest.Binaries(b)
	sshRate := func(mode string) float64 {
		const n = 64 << 20
		start := time.Now()
		cmd := exec.Command(cli, "ssh", "web-"+mode, "--", fmt.Sprintf("head -c %d /dev/zero", n))
		cmd.Env = append(os.Environ(), admin.Env()...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("ssh web-%s: %v %s", mode, err, stderr.String())
		}
		return n / time.Since(start).Seconds() / (1 << 20)
	}
	rounds := benchRounds()
	var tcpRatios, sshRatios []float64
	rates := map[string][]float64{}
	for r := -1; r < rounds; r++ {
		got := map[string]float64{}
		for _, mode := range []string{"on", "off"} {
			d, err := pull(tun[mode].Addr, size, 1)
			if err != nil {
				b.Fatal(err)
			}
			got["tcp-"+mode] = float64(size) / d.Seconds() / (1 << 20)
			got["ssh-"+mode] = sshRate(mode)
		}
		if r < 0 {
			continue
		}
		for k, v := range got {
			rates[k] = append(rates[k], v)
		}
		tcpRatios = append(tcpRatios, got["tcp-on"]/got["tcp-off"])
		sshRatios = append(sshRatios, got["ssh-on"]/got["ssh-off"])
	}
	fmt.Printf("recording overhead, %d interleaved rounds (tcp %d MiB a run, ssh 64 MiB of output):\n", rounds, size>>20)
	for _, k := range []string{"tcp-on", "tcp-off", "ssh-on", "ssh-off"} {
		s := e2etest.Summarize(rates[k])
		fmt.Printf("  %-7s median %7.1f MiB/s (min %.1f, max %.1f)\n", k, s.Median, s.Min, s.Max)
	}
	ts, ss := e2etest.Summarize(tcpRatios), e2etest.Summarize(sshRatios)
	fmt.Printf("  on/off ratio: tcp median %.2f (min %.2f), ssh median %.2f (min %.2f)\n", ts.Median, ts.Min, ss.Median, ss.Min)
	b.ReportMetric(ts.Median, "tcp-on/off")
	b.ReportMetric(ss.Median, "ssh-on/off")
}

// BenchmarkRecordingSeekHour: GET /v1/sessions/{id}/recording?from=T on a
// one-hour recording (a realistic-size connection log, one line every
// 100 ms, 64 KiB frames) through the API, at random times; reports the
// median and p99 time to the first byte of the frame.
func BenchmarkRecordingSeekHour(b *testing.B) {
	w := newWorld(b)
	tun := tcpConnect(b, w.admin, "echo")
	if conn, err := net.Dial("tcp", tun.Addr); err == nil {
		conn.Write([]byte("hello\n"))
		conn.Read(make([]byte, 6))
		conn.Close()
	}
	tun.Signal(syscall.SIGINT)
	tun.Wait(10 * time.Second)
	waitStatus(b, w.admin, tun.ID, api.StatusCompleted, 20*time.Second)
	e2etest.WaitFor(b, 20*time.Second, "the recording stored", func() bool {
		return session(b, w.admin, tun.ID).Recording.State == api.RecordingComplete
	})
	// Replace the stored recording with a one-hour one.
	var buf bytes.Buffer
	cw, err := container.NewWriter(&buf, container.Header{SessionID: tun.ID, Format: api.FormatConnlog}, container.Config{FrameSize: 64 << 10})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 36000 {
		at := time.Duration(i) * 100 * time.Millisecond
		fmt.Fprintf(&atWriter{cw, at}, `{"t":%.1f,"event":"open","conn":%d,"peer":"10.0.%d.%d:5000","target":"10.1.0.7:5432"}`+"\n", at.Seconds(), i+1, i%256, i*7%256)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	cw.Finish(priv)
	stored := filepath.Join(w.ctl.DataDir, "recordings", tun.ID, "recording.oprec")
	if err := os.WriteFile(stored, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []float64
	lineRE := regexp.MustCompile(`"t":(\d+)\.`)
	b.ResetTimer()
	for i := 0; i < max(b.N, 200); i++ {
		t := rng.Float64() * 3600
		req, _ := http.NewRequestWithContext(context.Background(), "GET", fmt.Sprintf("%s/v1/sessions/%s/recording?from=%.3f", w.ctl.URL(), tun.ID, t), nil)
		req.Header.Set("Authorization", "Bearer "+w.ctl.AdminToken)
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		first := make([]byte, 4096)
		n, _ := io.ReadAtLeast(resp.Body, first, 200)
		d := time.Since(start)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		if m := lineRE.FindSubmatch(first[:n]); m == nil {
			b.Fatalf("no line in the first bytes: %q", first[:n])
		}
		lat = append(lat, float64(d.Microseconds())/1000)
	}
	s := e2etest.Summarize(lat)
	fmt.Printf("seek in a one-hour recording (%d bytes stored) through the API: median %.1f ms, p99 %.1f ms, max %.1f ms over %d seeks\n", buf.Len(), s.Median, s.P99, s.Max, s.N)
	b.ReportMetric(s.Median, "median-ms")
	b.ReportMetric(s.P99, "p99-ms")
}

type atWriter struct {
	w  *container.Writer
	at time.Duration
}

func (a *atWriter) Write(p []byte) (int, error) { return a.w.Write(a.at, p) }

// BenchmarkAgentKills: ONEPAM_BENCH_KILLS (default 20) kill -9s of the
// agent at random moments (1 to 4 s into a session printing a counter
// every 10 ms), each followed by a restart. Reports the recorded bytes
// lost beyond the one-second window (lines printed more than 1 s before
// the kill missing from the stored recording): the target is 0.
func BenchmarkAgentKills(b *testing.B) {
	kills := 20
	if s := os.Getenv("ONEPAM_BENCH_KILLS"); s != "" {
		fmt.Sscan(s, &kills)
	}
	w := newSSHWorld(b)
	cli, _ := e2etest.Binaries(b)
	rng := rand.New(rand.NewPCG(7, 11))
	var windows []float64
	lostBeyond := 0
	for k := range kills {
		cmd := exec.Command(cli, "ssh", "web", "--", counterScript)
		cmd.Env = append(os.Environ(), w.admin.Env()...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var id string
		e2etest.WaitFor(b, 30*time.Second, "the session active", func() bool {
			ss := sessions(b, w.admin, "--type", "ssh", "--limit", "1")
			if len(ss) > 0 && ss[0].Status == api.StatusActive && ss[0].ID != id {
				id = ss[0].ID
				return true
			}
			return false
		})
		time.Sleep(time.Second + time.Duration(rng.Int64N(int64(3*time.Second)))) // the random kill moment
		killedAt := time.Now()
		w.agent.Signal(syscall.SIGKILL)
		w.agent.Wait(10 * time.Second)
		waitStatus(b, w.admin, id, api.StatusFailed, 30*time.Second)
		cmd.Process.Kill()
		cmd.Wait()
		w.ctl.RestartAgent(b, "ssh-agent", w.agent)
		waitRecordingFinal(b, w.admin, id, 60*time.Second)
		lines := counterLines(b, w, id)
		last, at := -1, time.Time{}
		for n, ts := range lines {
			if n > last {
				last, at = n, ts
			}
		}
		missing := 0
		for i := 0; i <= last; i++ {
			if _, ok := lines[i]; !ok {
				missing++
			}
		}
		window := killedAt.Sub(at)
		windows = append(windows, float64(window.Milliseconds()))
		if window > time.Second || missing > 0 {
			lostBeyond++
			fmt.Printf("  kill %d: session %s: last line %s before the kill, %d lines missing inside\n", k, id, window, missing)
		}
	}
	s := e2etest.Summarize(windows)
	fmt.Printf("%d agent kills during sessions: recording ended median %.0f ms (max %.0f ms) before the kill; kills losing bytes beyond the one-second window: %d\n", kills, s.Median, s.Max, lostBeyond)
	b.ReportMetric(float64(lostBeyond), "kills-losing-beyond-1s")
	b.ReportMetric(s.Max, "max-window-ms")
}
