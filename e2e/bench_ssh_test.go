package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"golang.org/x/crypto/ssh"
)

// SSH figures, measured the way bench_test.go measures TCP: the real
// binaries against OpenSSH's ssh straight to the same private sshd, in one
// run, interleaved, reporting medians and ratios. Each runs once whatever
// -benchtime says (scripts/bench runs them with -benchtime=1x).

// bulkRun runs one bulk-output command with stdout discarded and returns
// its wall time and the CPU time of the client process.
func bulkRun(b *testing.B, env []string, prog string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, stderr.String())
	}
	wall = time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return wall, cpu
}

// BenchmarkSSHBulkOutput: `onepam ssh RES -- 'head -c 1G SRC' >/dev/null`
// against `ssh` to the same sshd, /dev/zero and /dev/urandom, recording on.
// Reports MB/s of each, the ratio of medians, and CPU seconds per GiB of
// the CLI, control and the agent (onepam) and of ssh (direct).
func BenchmarkSSHBulkOutput(b *testing.B) {
	w := newSSHWorld(b)
	const size = 1 << 30
	const rounds = 3
	for _, src := range []string{"/dev/zero", "/dev/urandom"} {
		cmdline := fmt.Sprintf("head -c %d %s", size, src)
		var direct, gw, cliCPU, sshCPU, ctlCPU, agentCPU []float64
		for r := 0; r < rounds; r++ {
			wall, cpu := bulkRun(b, nil, "ssh", append(w.sshd.ClientArgs(), "127.0.0.1", cmdline)...)
			direct = append(direct, float64(size)/wall.Seconds()/1e6)
			sshCPU = append(sshCPU, cpu.Seconds())

			c0, a0 := e2etest.CPUTime(w.ctl.Pid()), e2etest.TreeCPU(w.agent.Pid())
			wall, cpu = bulkRun(b, w.admin.Env(), w.cli, "ssh", w.login+"@web", "--", cmdline)
			gw = append(gw, float64(size)/wall.Seconds()/1e6)
			cliCPU = append(cliCPU, cpu.Seconds())
			ctlCPU = append(ctlCPU, (e2etest.CPUTime(w.ctl.Pid()) - c0).Seconds())
			agentCPU = append(agentCPU, (e2etest.TreeCPU(w.agent.Pid()) - a0).Seconds())
		}
		d, g := e2etest.Summarize(direct).Median, e2etest.Summarize(gw).Median
		name := strings.TrimPrefix(src, "/dev/")
		b.Logf("%s: direct ssh %.0f MB/s, onepam ssh %.0f MB/s, ratio %.2f; CPU-s/GiB: onepam CLI %.2f, control %.2f, agent %.2f (agent incl. children), ssh %.2f",
			name, d, g, g/d, e2etest.Summarize(cliCPU).Median, e2etest.Summarize(ctlCPU).Median, e2etest.Summarize(agentCPU).Median, e2etest.Summarize(sshCPU).Median)
		b.ReportMetric(g/d, name+"-ratio")
		b.ReportMetric(g, name+"-onepam-MB/s")
		b.ReportMetric(d, name+"-direct-MB/s")
	}
}

// echoSession is one interactive session whose remote side echoes every
// byte (a pty in raw mode running cat).
type echoSession struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.Reader
}

func startEcho(b *testing.B, env []string, prog string, args ...string) *echoSession {
	b.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	e := &echoSession{cmd: cmd, in: in, out: out}
	if err := waitReady(out); err != nil {
		b.Fatalf("%s: %v", prog, err)
	}
	b.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	return e
}

func (e *echoSession) roundTrip(b *testing.B) time.Duration {
	var buf [1]byte
	start := time.Now()
	if _, err := e.in.Write([]byte{'x'}); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(e.out, buf[:]); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkSSHKeystrokeEcho: 1,000 single-byte echoes through an
// interactive pty session, onepam ssh -t against ssh -tt, interleaved in
// batches of 50; reports the median and p99 of each and what the gateway
// adds.
func BenchmarkSSHKeystrokeEcho(b *testing.B) {
	w := newSSHWorld(b)
	remote := echoRemote
	direct := startEcho(b, nil, "ssh", append(append(w.sshd.ClientArgs(), "-tt"), "127.0.0.1", remote)...)
	gw := startEcho(b, w.admin.Env(), w.cli, "ssh", "-t", w.login+"@web", "--", remote)
	var d, g []float64
	for batch := 0; batch < 20; batch++ {
		for i := 0; i < 50; i++ {
			d = append(d, direct.roundTrip(b).Seconds()*1e3)
		}
		for i := 0; i < 50; i++ {
			g = append(g, gw.roundTrip(b).Seconds()*1e3)
		}
	}
	sd, sg := e2etest.Summarize(d), e2etest.Summarize(g)
	b.Logf("keystroke echo (ms): direct median %.3f p99 %.3f; onepam median %.3f p99 %.3f; added median %.3f p99 %.3f",
		sd.Median, sd.P99, sg.Median, sg.P99, sg.Median-sd.Median, sg.P99-sd.P99)
	b.ReportMetric(sg.Median-sd.Median, "added-median-ms")
	b.ReportMetric(sg.P99-sd.P99, "added-p99-ms")
}

// BenchmarkSSHConcurrentSessions: 200 interactive sessions through one
// agent and one control, each with a pty running cat, echoing and
// recorded; reports errors and the memory per session of agent and
// control ((RSS with N − idle RSS) / N).
func BenchmarkSSHConcurrentSessions(b *testing.B) {
	w := newSSHWorld(b)
	const n = 200
	c := w.client(b)
	ctx := context.Background()
	time.Sleep(2 * time.Second) // let both settle before the idle sample
	ctlIdle, _ := e2etest.RSS(w.ctl.Pid())
	agentIdle, _ := e2etest.RSS(w.agent.Pid())

	type live struct {
		client *ssh.Client
		in     io.WriteCloser
		out    io.Reader
	}
	sessions := make([]*live, n)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8) // sshd's MaxStartups
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fail := func(err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			s, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: "web", Login: w.login})
			if err != nil {
				fail(err)
				return
			}
			conn, err := c.Connect(ctx, s.ID, api.ChannelData)
			if err != nil {
				fail(err)
				return
			}
			sc, chans, reqs, err := ssh.NewClientConn(conn, "web", &ssh.ClientConfig{User: w.login, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
			if err != nil {
				fail(err)
				return
			}
			cl := ssh.NewClient(sc, chans, reqs)
			ss, err := cl.NewSession()
			if err != nil {
				fail(err)
				return
			}
			if err := ss.RequestPty("xterm", 24, 80, nil); err != nil {
				fail(err)
				return
			}
			in, _ := ss.StdinPipe()
			out, _ := ss.StdoutPipe()
			if err := ss.Start(echoRemote); err != nil {
				fail(err)
				return
			}
			if err := waitReady(out); err != nil {
				fail(err)
				return
			}
			l := &live{client: cl, in: in, out: out}
			if err := echoOnce(l.in, l.out); err != nil {
				fail(err)
				return
			}
			sessions[i] = l
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		b.Fatalf("%d of %d sessions failed, first: %v", len(errs), n, errs[0])
	}
	// Every session echoes again while all are open.
	for _, l := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := echoOnce(l.in, l.out); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ctlN, _ := e2etest.RSS(w.ctl.Pid())
	agentN, _ := e2etest.RSS(w.agent.Pid())
	for _, l := range sessions {
		l.client.Close()
	}
	if len(errs) > 0 {
		b.Fatalf("%d echo errors, first: %v", len(errs), errs[0])
	}
	perCtl := float64(ctlN-ctlIdle) / n
	perAgent := float64(agentN-agentIdle) / n
	b.Logf("%d concurrent recorded sessions, 0 errors: control RSS %d → %d KiB (%.0f KiB/session), agent RSS %d → %d KiB (%.0f KiB/session)",
		n, ctlIdle, ctlN, perCtl, agentIdle, agentN, perAgent)
	b.ReportMetric(perCtl, "control-KiB/session")
	b.ReportMetric(perAgent, "agent-KiB/session")
}

// echoRemote puts the remote pty in raw mode, says so, and echoes.
const echoRemote = "stty raw -echo; echo READY; exec cat"

// waitReady reads up to the remote's READY line.
func waitReady(r io.Reader) error {
	var seen []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(seen), "READY\n") {
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("waiting for the remote echo to start: %w (read %q)", err, seen)
		}
		seen = append(seen, b[0])
		if len(seen) > 4096 {
			return fmt.Errorf("no READY from the remote: %q", seen)
		}
	}
	return nil
}

func echoOnce(in io.Writer, out io.Reader) error {
	if _, err := in.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	_, err := io.ReadFull(out, buf)
	return err
}

// BenchmarkSSHRecordingSize: a realistic interactive session (ls -R, top,
// an editor) under tmux; reports the bytes stored per byte of terminal
// output, and the size of the .cast export for comparison.
func BenchmarkSSHRecordingSize(b *testing.B) {
	w := newSSHWorld(b)
	tm := w.tmuxSSH(b, w.admin, w.login+"@web")
	prompt(b, tm)
	s := w.newestSSH(b)
	step := func(keys, wait string) {
		tm.Type(keys)
		tm.SendKeys("Enter")
		tm.WaitScreen(60*time.Second, wait)
	}
	step("ls -R /usr/lib | head -n 4000; echo ls-do''ne", "ls-done")
	step("top -d 0.2 -n 25; echo top-do''ne", "top-done")
	file := b.TempDir() + "/notes.txt"
	tm.Type("vi -u NONE " + file)
	tm.SendKeys("Enter")
	tm.WaitScreen(10*time.Second, "\n~\n")
	tm.Type("i")
	for i := 0; i < 40; i++ {
		tm.Type(fmt.Sprintf("line %d of the notes typed in vi during a recorded session", i))
		tm.SendKeys("Enter")
	}
	tm.SendKeys("Escape")
	tm.Type(":wq")
	tm.SendKeys("Enter")
	tm.WaitScreen(10*time.Second, "ready>")
	tm.Type("exit")
	tm.SendKeys("Enter")
	tm.ExitCode(20 * time.Second)
	s = w.waitRecorded(b, s.ID)
	shown := int64(len(tm.RawOutput()))
	cast, err := os.Stat(w.exportCast(b, s.ID))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("realistic session: %d bytes of terminal output, %d bytes stored (%.3f per output byte), .cast export %d bytes (%.3f)",
		shown, s.Recording.Size, float64(s.Recording.Size)/float64(shown), cast.Size(), float64(cast.Size())/float64(shown))
	b.ReportMetric(float64(s.Recording.Size)/float64(shown), "stored-bytes/output-byte")
}
