package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/control/store/storetest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// BenchmarkConsole reports the console's figures: the Sessions page's
// first render and filter change in Chromium with ONEPAM_BENCH_SESSIONS
// (default 1,000,000) sessions in the store; the web terminal's keystroke
// echo through the gateway against the CLI's path (the x/crypto SSH client
// over GET /v1/sessions/{id}/connect, as `onepam ssh` does) to the same
// built-in target; the embedded assets' size (gzip) and the onepam binary's
// (which holds control). Run: go test -run '^$' -bench Console -benchtime 1x ./control/web/
func BenchmarkConsole(b *testing.B) {
	_, file, _, _ := runtime.Caller(0)
	uiDir := filepath.Join(filepath.Dir(file), "ui")
	node, chromium := requireBrowserToolsB(b, uiDir)
	me, err := user.Current()
	if err != nil {
		b.Fatal(err)
	}
	n := 1_000_000
	if s := os.Getenv("ONEPAM_BENCH_SESSIONS"); s != "" {
		fmt.Sscan(s, &n)
	}
	dir := b.TempDir()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "onepam.db"))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := storetest.Seed(ctx, st, n, time.Now()); err != nil {
		b.Fatal(err)
	}
	st.Close()
	fmt.Printf("seeded %d sessions in %s\n", n, time.Since(t0).Round(time.Millisecond))

	ctl := e2etest.StartControlIn(b, dir)
	admin := ctl.Admin(b)
	ctl.StartAgent(b, admin, "bench-agent", fmt.Sprintf("resources:\n  - name: shell\n    url: ssh://%s@builtin\n", me.Username))
	e2etest.WaitFor(b, 30*time.Second, "the agent online", func() bool {
		r := admin.Run("resources", "ls", "-o", "json")
		return r.Code == 0 && strings.Contains(r.Stdout, `"online": true`)
	})

	for i := 0; i < b.N; i++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		cmd := exec.CommandContext(cctx, node, filepath.Join(uiDir, "e2e", "bench.mjs"))
		cmd.Dir = uiDir
		cmd.Env = append(os.Environ(), "ONEPAM_URL="+ctl.URL(), "ONEPAM_TOKEN="+ctl.AdminToken, "ONEPAM_LOGIN="+me.Username, "CHROMIUM="+chromium)
		out, err := cmd.Output()
		cancel()
		if err != nil {
			b.Fatalf("bench.mjs: %v\n%s", err, out)
		}
		var res struct {
			FirstRender []float64 `json:"first_render_ms"`
			Filter      []float64 `json:"filter_ms"`
			Echo        []float64 `json:"echo_ms"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:]), &res); err != nil {
			b.Fatalf("bench.mjs output %q: %v", out, err)
		}
		report := func(name string, xs []float64) {
			s := e2etest.Summarize(xs)
			fmt.Printf("  %-34s n=%-4d median %7.2f ms  p99 %7.2f ms  min %7.2f ms\n", name, s.N, s.Median, s.P99, s.Min)
			b.ReportMetric(s.Median, "ms-"+name)
		}
		fmt.Printf("web console over %d sessions (Chromium, loopback):\n", n)
		report("sessions-first-render", res.FirstRender)
		report("sessions-filter-change", res.Filter)
		report("web-terminal-echo", res.Echo)
		report("cli-ssh-echo", cliEcho(b, ctl, me.Username, len(res.Echo)))
	}

	var main, lazy, raw int64
	entries, err := os.ReadDir(filepath.Join(uiDir, "..", "dist", "assets"))
	if err != nil {
		b.Fatal(err)
	}
	index, _ := os.ReadFile(filepath.Join(uiDir, "..", "dist", "index.html"))
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(uiDir, "..", "dist", "assets", e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		raw += int64(len(data))
		if bytes.Contains(index, []byte(e.Name())) {
			main += int64(gz.Len())
		} else {
			lazy += int64(gz.Len())
		}
	}
	cli, _ := e2etest.Binaries(b)
	bin, err := os.Stat(cli)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("embedded assets: %d KiB raw, gzip: %d KiB loaded with the page + %d KiB loaded on demand (terminal, desktop)\n", raw>>10, main>>10, lazy>>10)
	fmt.Printf("onepam binary (CLI + control, go build default flags): %.1f MiB\n", float64(bin.Size())/(1<<20))
	b.ReportMetric(float64(main+lazy)/1024, "KiB-assets-gzip")
	b.ReportMetric(float64(bin.Size())/(1<<20), "MiB-binary")
}

// cliEcho measures keystroke echo on the CLI's path: an SSH client over a
// session connection (HTTPS upgrade), as `onepam ssh` runs it.
func cliEcho(b *testing.B, ctl *e2etest.Control, login string, keys int) []float64 {
	b.Helper()
	ctx := context.Background()
	c, err := client.New(client.Config{URL: ctl.URL(), Token: ctl.AdminToken, CAPin: ctl.CAPin})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: "shell", Login: login})
	if err != nil {
		b.Fatal(err)
	}
	conn, err := c.Connect(ctx, s.ID, api.ChannelData)
	if err != nil {
		b.Fatal(err)
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, "shell", &ssh.ClientConfig{User: login, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
	if err != nil {
		b.Fatal(err)
	}
	cl := ssh.NewClient(sc, chans, reqs)
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		b.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out, _ := sess.StdoutPipe()
	if err := sess.Shell(); err != nil {
		b.Fatal(err)
	}
	io.WriteString(in, "stty -icanon; cat >/dev/null\r")
	// Drain what the shell prints first.
	drained := make(chan struct{})
	buf := make([]byte, 4096)
	go func() {
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if _, err := out.Read(buf); err != nil {
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
		close(drained)
	}()
	time.Sleep(600 * time.Millisecond)
	io.WriteString(in, "\r") // unblocks the drain's last read
	<-drained
	xs := make([]float64, 0, keys)
	for i := 0; i < keys; i++ {
		ch := byte('a' + i%26)
		start := time.Now()
		in.Write([]byte{ch})
		for got := false; !got; {
			n, err := out.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			got = bytes.IndexByte(buf[:n], ch) >= 0
		}
		xs = append(xs, float64(time.Since(start).Microseconds())/1000)
	}
	return xs
}

// requireBrowserToolsB is requireBrowserTools for benchmarks.
func requireBrowserToolsB(b *testing.B, uiDir string) (node, chromium string) {
	b.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is not installed")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	for _, p := range []string{chromium, filepath.Join(uiDir, "node_modules", "playwright-core"), filepath.Join(uiDir, "..", "dist", "index.html")} {
		if _, err := os.Stat(p); err != nil {
			b.Skipf("%s missing: run ./scripts/web-build and install chromium", p)
		}
	}
	return node, chromium
}
