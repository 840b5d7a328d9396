// Package e2etest runs OnePAM as a user would, for end-to-end tests and
// benchmarks: it builds the onepam and onepam-agent binaries once, starts
// control and agents as separate processes on loopback with free ports,
// and runs CLI commands with their own config files.
package e2etest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries builds ./cmd/onepam and ./cmd/onepam-agent once per test process
// and returns their paths; with $ONEPAM_E2E_BIN_DIR set it uses the
// binaries already there instead.
func Binaries(tb testing.TB) (cli, agent string) {
	tb.Helper()
	buildOnce.Do(func() {
		if dir := os.Getenv("ONEPAM_E2E_BIN_DIR"); dir != "" {
			// Binaries built beforehand (e.g. from a clean checkout).
			buildDir = dir
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "onepam-e2e-bin-")
		if buildErr != nil {
			return
		}
		root := repoRoot()
		for _, b := range []struct{ out, pkg string }{
			{"onepam", "./cmd/onepam"},
			{"onepam-agent", "./cmd/onepam-agent"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, b.out), b.pkg)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "onepam"), filepath.Join(buildDir, "onepam-agent")
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitFor polls cond every 20 ms until it is true or timeout passes.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ServerEnv is what $ONEPAM_BENCH_SERVER_ENV holds (VAR=value words,
// space-separated), added to the environment of the control and agent
// processes only: a benchmark can run the servers with, say, GOMAXPROCS=1
// while the test process (often the upstream) and the CLI keep theirs.
func ServerEnv() []string { return strings.Fields(os.Getenv("ONEPAM_BENCH_SERVER_ENV")) }

// Proc is a child process whose output is captured.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// Start runs name with args and env (added to the environment), in its own
// process group; it is killed at the test's end.
func Start(tb testing.TB, name string, env []string, bin string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{Name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = &lockedWriter{p}
	p.cmd.Stderr = &lockedWriter{p}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.Signal(syscall.SIGKILL)
		<-p.done
		if tb.Failed() {
			tb.Logf("--- output of %s ---\n%s", name, p.Output())
		}
	})
	return p
}

type lockedWriter struct{ p *Proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

// Output returns everything the process printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// Wait waits for the process to exit, at most timeout.
func (p *Proc) Wait(timeout time.Duration) (exitCode int, err error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return -1, fmt.Errorf("%s did not exit within %s", p.Name, timeout)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, p.err
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// WaitOutput waits until the output matches re and returns the first match's groups.
func (p *Proc) WaitOutput(tb testing.TB, timeout time.Duration, re *regexp.Regexp) []string {
	tb.Helper()
	var m []string
	WaitFor(tb, timeout, fmt.Sprintf("%s to print %s", p.Name, re), func() bool {
		m = re.FindStringSubmatch(p.Output())
		return m != nil || p.Exited()
	})
	if m == nil {
		tb.Fatalf("%s exited before printing %s:\n%s", p.Name, re, p.Output())
	}
	return m
}

var (
	tokenRE = regexp.MustCompile(`opt_[A-Za-z0-9_-]{20,}`)
	pinRE   = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
)

// Control is a running `onepam control serve`.
type Control struct {
	*Proc
	tb         testing.TB
	DataDir    string
	APIPort    int
	AgentPort  int
	AdminToken string
	CAPin      string
	cli        string
}

// URL is control's API URL.
func (c *Control) URL() string { return fmt.Sprintf("https://127.0.0.1:%d", c.APIPort) }

// AgentAddr is control's agent address.
func (c *Control) AgentAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.AgentPort) }

// StartControl starts a control server on free ports with a new data dir and
// reads the first admin token and CA pin it prints.
func StartControl(tb testing.TB) *Control { return StartControlIn(tb, tb.TempDir()) }

// StartControlIn starts a control server on a data dir prepared by the
// caller (for example a database seeded with sessions).
func StartControlIn(tb testing.TB, dataDir string) *Control {
	tb.Helper()
	cli, _ := Binaries(tb)
	c := &Control{tb: tb, DataDir: dataDir, APIPort: FreePort(tb), AgentPort: FreePort(tb), cli: cli}
	c.start()
	c.AdminToken = c.WaitOutput(tb, 30*time.Second, tokenRE)[0]
	c.CAPin = c.WaitOutput(tb, 5*time.Second, pinRE)[0]
	return c
}

func (c *Control) start() {
	c.Proc = Start(c.tb, "control", ServerEnv(), c.cli, "control", "serve",
		"--data-dir", c.DataDir,
		"--listen", fmt.Sprintf("127.0.0.1:%d", c.APIPort),
		"--agent-listen", fmt.Sprintf("127.0.0.1:%d", c.AgentPort))
	WaitFor(c.tb, 30*time.Second, "control /healthz", func() bool { return c.Healthy() || c.Exited() })
	if c.Exited() {
		c.tb.Fatalf("control exited at start:\n%s", c.Output())
	}
}

// Healthy reports whether /healthz answers 200.
func (c *Control) Healthy() bool {
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get(c.URL() + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill9 kills control with SIGKILL and waits for it to be gone.
func (c *Control) Kill9() {
	c.Signal(syscall.SIGKILL)
	_, _ = c.Wait(10 * time.Second)
}

// Restart starts control again on the same data dir and ports.
func (c *Control) Restart() { c.start() }

// User is a CLI identity: its own config file, logged in to control.
type User struct {
	tb     testing.TB
	Name   string
	Config string
	cli    string
	env    []string
}

// Login logs a CLI config in with token and returns the user.
func (c *Control) Login(tb testing.TB, name, token string) *User {
	tb.Helper()
	u := &User{tb: tb, Name: name, Config: filepath.Join(tb.TempDir(), "config.yaml"), cli: c.cli}
	u.env = []string{"ONEPAM_CONFIG=" + u.Config, "NO_COLOR=1", "ONEPAM_CONTROL=", "ONEPAM_TOKEN=", "ONEPAM_CA_PIN="}
	u.MustRun("login", "--control", c.URL(), "--token", token, "--ca-pin", c.CAPin)
	return u
}

// Admin logs in with the first admin token.
func (c *Control) Admin(tb testing.TB) *User { return c.Login(tb, "admin", c.AdminToken) }

// AddUser creates a user with role and returns it logged in.
func (c *Control) AddUser(tb testing.TB, admin *User, name, role string) *User {
	tb.Helper()
	out := admin.MustRun("users", "add", name, "--role", role, "--token-ttl", "24h")
	tok := tokenRE.FindString(out)
	if tok == "" {
		tb.Fatalf("users add printed no token:\n%s", out)
	}
	return c.Login(tb, name, tok)
}

// Result is the outcome of one CLI run.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the CLI with args (60 s at most).
func (u *User) Run(args ...string) Result {
	u.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.cli, args...)
	cmd.Env = append(os.Environ(), u.env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := Result{Stdout: so.String(), Stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		u.tb.Fatalf("onepam %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// MustRun runs the CLI and fails the test unless it exits 0; it returns stdout.
func (u *User) MustRun(args ...string) string {
	u.tb.Helper()
	r := u.Run(args...)
	if r.Code != 0 {
		u.tb.Fatalf("onepam %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// Start runs a long-lived CLI command (e.g. tcp connect).
func (u *User) Start(name string, args ...string) *Proc {
	cli := u.cli
	return Start(u.tb, name, u.env, cli, args...)
}

// Env returns the environment entries that select this user's config.
func (u *User) Env() []string { return append([]string(nil), u.env...) }

// Agent is a running onepam-agent.
type Agent struct {
	*Proc
	DataDir string
	Config  string
}

// StartAgent enrolls and runs an agent named name with the given agent.yaml
// body, using admin to create the enrollment token.
func (c *Control) StartAgent(tb testing.TB, admin *User, name, yamlBody string) *Agent {
	tb.Helper()
	out := admin.MustRun("agents", "token", "create", "--ttl", "10m")
	m := regexp.MustCompile(`[A-Za-z0-9_-]{20,}\.[0-9a-f]{64}`).FindString(out)
	if m == "" {
		tb.Fatalf("agents token create printed no token:\n%s", out)
	}
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(yamlBody), 0o600); err != nil {
		tb.Fatal(err)
	}
	a := &Agent{DataDir: filepath.Join(dir, "data"), Config: cfg}
	a.Proc = c.runAgent(tb, name, m, a)
	return a
}

func (c *Control) runAgent(tb testing.TB, name, token string, a *Agent) *Proc {
	_, agentBin := Binaries(tb)
	args := []string{"run", "--control", c.AgentAddr(), "--config", a.Config, "--data-dir", a.DataDir, "--name", name}
	if token != "" {
		args = append(args, "--token", token)
	}
	return Start(tb, "agent-"+name, ServerEnv(), agentBin, args...)
}

// RestartAgent starts the agent again with its saved identity.
func (c *Control) RestartAgent(tb testing.TB, name string, a *Agent) {
	a.Proc = c.runAgent(tb, name, "", a)
}

// EchoServer is a loopback TCP echo service.
type EchoServer struct {
	Addr string
	ln   net.Listener
}

// StartEcho runs an echo server until the test ends.
func StartEcho(tb testing.TB) *EchoServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return &EchoServer{Addr: ln.Addr().String(), ln: ln}
}

// ReadLineTimeout reads one line from r with a deadline on conn.
func ReadLineTimeout(conn net.Conn, r *bufio.Reader, d time.Duration) (string, error) {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	defer conn.SetReadDeadline(time.Time{})
	return r.ReadString('\n')
}
