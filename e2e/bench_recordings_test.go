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
// (default 256 MiB) through the whole stack; SSH streams
// ONEPAM_BENCH_SSH_BYTES (default 64 MiB) of `head -c N /dev/zero` output
// (ONEPAM_BENCH_SSH_SOURCE=urandom for incompressible output, =text for
// base64 lines of random bytes, all different and all indexed for search),
// every byte of it in the terminal recording. ONEPAM_BENCH_PROTOS (default "tcp,ssh")
// selects the protocols. Besides the ratios it reports the CPU seconds per
// GiB of control and of the agent in each mode (the agent's own process,
// not sshd's). With ONEPAM_PPROF=127.0.0.1:0 and ONEPAM_PPROF_ADDR_FILE set,
// control and the agents serve pprof (pkg/debugpprof) for profiling a run.
func BenchmarkRecordingOverhead(b *testing.B) {
	protos := os.Getenv("ONEPAM_BENCH_PROTOS")
	if protos == "" {
		protos = "tcp,ssh"
	}
	doTCP, doSSH := strings.Contains(protos, "tcp"), strings.Contains(protos, "ssh")
	src := startBulkSource(b)
	sshd := e2etest.StartSSHD(b)
	hostKey, err := os.ReadFile(filepath.Join(sshd.Dir, "host.pub"))
	if err != nil {
		b.Fatal(err)
	}
	ctl := e2etest.StartControl(b)
	admin := ctl.Admin(b)
	agents := map[string]*e2etest.Agent{}
	for _, mode := range []string{"on", "off"} {
		rec := "fail-closed"
		if mode == "off" {
			rec = "off"
		}
		agents[mode] = ctl.StartAgent(b, admin, "agent-"+mode, fmt.Sprintf(`recording: %s
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
	sshSize := int64(64 << 20)
	if s := os.Getenv("ONEPAM_BENCH_SSH_BYTES"); s != "" {
		fmt.Sscan(s, &sshSize)
	}
	sshSource := "/dev/zero"
	switch os.Getenv("ONEPAM_BENCH_SSH_SOURCE") {
	case "urandom":
		sshSource = "/dev/urandom"
	case "text": // lines of printable text, all different: every one indexed for search
		sshSource = "<(base64 -w 76 /dev/urandom)"
	}
	tun := map[string]*tunnel{}
	if doTCP {
		tun["on"], tun["off"] = tcpConnect(b, admin, "bulk-on"), tcpConnect(b, admin, "bulk-off")
	}
	cli, _ := e2etest.Binaries(b)
	cpu := map[string][]float64{} // CPU seconds per GiB, by "<process>-<mode>"
	indexed := 0                  // recordings control has indexed
	sshRate := func(mode string) float64 {
		c0, a0 := e2etest.CPUTime(ctl.Pid()), e2etest.CPUTime(agents[mode].Pid())
		start := time.Now()
		cmd := exec.Command(cli, "ssh", "web-"+mode, "--", fmt.Sprintf("bash -c 'head -c %d %s'", sshSize, sshSource))
		cmd.Env = append(os.Environ(), admin.Env()...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("ssh web-%s: %v %s", mode, err, stderr.String())
		}
		d := time.Since(start)
		// The upload to control goes on after the command ends: count its
		// CPU too (the spool is empty once control acknowledged the end).
		// And control indexes the text of a terminal recording once it is
		// complete: wait for that too, so its CPU is not counted against
		// (and does not slow down) the next run.
		spool := filepath.Join(agents[mode].DataDir, "spool")
		e2etest.WaitFor(b, time.Minute, "the spool of agent-"+mode+" empty", func() bool {
			ents, err := os.ReadDir(spool)
			return err != nil || len(ents) == 0
		})
		if mode == "on" {
			indexed++
			e2etest.WaitFor(b, 5*time.Minute, "control to index the recording", func() bool {
				out := ctl.Output()
				done := strings.Count(out, "recording text indexed") - strings.Count(out, "indexed up to a damaged part")
				return done+strings.Count(out, "index recording text") >= indexed
			})
		}
		gib := float64(sshSize) / (1 << 30)
		cpu["control-"+mode] = append(cpu["control-"+mode], (e2etest.CPUTime(ctl.Pid())-c0).Seconds()/gib)
		cpu["agent-"+mode] = append(cpu["agent-"+mode], (e2etest.CPUTime(agents[mode].Pid())-a0).Seconds()/gib)
		return float64(sshSize) / d.Seconds() / (1 << 20)
	}
	rounds := benchRounds()
	var tcpRatios, sshRatios []float64
	rates := map[string][]float64{}
	for r := -1; r < rounds; r++ {
		got := map[string]float64{}
		for _, mode := range []string{"on", "off"} {
			if doTCP {
				d, err := pull(tun[mode].Addr, size, 1)
				if err != nil {
					b.Fatal(err)
				}
				got["tcp-"+mode] = float64(size) / d.Seconds() / (1 << 20)
			}
			if doSSH {
				got["ssh-"+mode] = sshRate(mode)
			}
		}
		if r < 0 {
			cpu = map[string][]float64{}
			continue
		}
		for k, v := range got {
			rates[k] = append(rates[k], v)
		}
		if doTCP {
			tcpRatios = append(tcpRatios, got["tcp-on"]/got["tcp-off"])
		}
		if doSSH {
			sshRatios = append(sshRatios, got["ssh-on"]/got["ssh-off"])
		}
	}
	fmt.Printf("recording overhead, %d interleaved rounds (tcp %d MiB a run, ssh %d MiB of %s output):\n", rounds, size>>20, sshSize>>20, sshSource)
	for _, k := range []string{"tcp-on", "tcp-off", "ssh-on", "ssh-off"} {
		if len(rates[k]) == 0 {
			continue
		}
		s := e2etest.Summarize(rates[k])
		fmt.Printf("  %-7s median %7.1f MiB/s (min %.1f, max %.1f)\n", k, s.Median, s.Min, s.Max)
	}
	if doTCP {
		ts := e2etest.Summarize(tcpRatios)
		fmt.Printf("  on/off ratio: tcp median %.2f (min %.2f, max %.2f)\n", ts.Median, ts.Min, ts.Max)
		b.ReportMetric(ts.Median, "tcp-on/off")
	}
	if doSSH {
		ss := e2etest.Summarize(sshRatios)
		fmt.Printf("  on/off ratio: ssh median %.2f (min %.2f, max %.2f)\n", ss.Median, ss.Min, ss.Max)
		for _, k := range []string{"control-on", "control-off", "agent-on", "agent-off"} {
			c := e2etest.Summarize(cpu[k])
			fmt.Printf("  ssh CPU-s/GiB %-11s median %5.2f (min %.2f, max %.2f)\n", k, c.Median, c.Min, c.Max)
		}
		b.ReportMetric(ss.Median, "ssh-on/off")
	}
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
