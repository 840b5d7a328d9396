package e2etest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tmux is a private tmux server with one session running a command in a
// pseudo-terminal of a given size, for tests of interactive programs: keys
// go in with SendKeys, the screen comes out with Screen, the raw bytes the
// program wrote are captured to a file (RawOutput).
type Tmux struct {
	tb     testing.TB
	sock   string
	dir    string
	raw    string
	status string
}

// StartTmux runs command (a shell command line) with env in a new tmux
// session of cols×rows. The command starts only once the capture of its
// output is running, so RawOutput holds everything it wrote; its exit
// status is kept for ExitCode.
func StartTmux(tb testing.TB, cols, rows int, env []string, command string) *Tmux {
	tb.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("tmux is not installed (CI=true); ./scripts/test installs it")
		}
		tb.Skip("tmux is not installed; ./scripts/test installs it")
	}
	dir := tb.TempDir()
	t := &Tmux{tb: tb, sock: filepath.Join(dir, "tmux.sock"), dir: dir, raw: filepath.Join(dir, "raw.out"), status: filepath.Join(dir, "status")}
	gate := filepath.Join(dir, "go")
	var envs strings.Builder
	for _, e := range env {
		envs.WriteString(shellQuote(e) + " ")
	}
	script := fmt.Sprintf("while [ ! -e %s ]; do sleep 0.02; done; env %s%s; echo $? > %s; exec sleep 3600",
		shellQuote(gate), envs.String(), command, shellQuote(t.status))
	t.run("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), "sh", "-c", script)
	tb.Cleanup(func() { _ = exec.Command("tmux", "-S", t.sock, "kill-server").Run() })
	t.run("pipe-pane", "-o", "-t", "main", "cat >> "+shellQuote(t.raw))
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	return t
}

func (t *Tmux) run(args ...string) string {
	t.tb.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", t.sock}, args...)...).CombinedOutput()
	if err != nil {
		t.tb.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SendKeys types keys (tmux key names such as Enter, Escape, C-c; other
// arguments literally with -l).
func (t *Tmux) SendKeys(keys ...string) {
	t.tb.Helper()
	t.run(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

// Type types text literally.
func (t *Tmux) Type(text string) {
	t.tb.Helper()
	t.run("send-keys", "-t", "main", "-l", text)
}

// Screen returns the visible screen, one line per row.
func (t *Tmux) Screen() string {
	t.tb.Helper()
	return t.run("capture-pane", "-p", "-t", "main")
}

// WaitScreen waits until the screen contains want and returns it.
func (t *Tmux) WaitScreen(timeout time.Duration, want string) string {
	t.tb.Helper()
	var s string
	deadline := time.Now().Add(timeout)
	for {
		s = t.Screen()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			t.tb.Fatalf("the screen does not show %q after %s:\n%s", want, timeout, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Resize resizes the window (and the program's terminal) to cols×rows.
func (t *Tmux) Resize(cols, rows int) {
	t.tb.Helper()
	t.run("resize-window", "-t", "main", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows))
}

// ExitCode waits for the command to exit and returns its status.
func (t *Tmux) ExitCode(timeout time.Duration) int {
	t.tb.Helper()
	var code int
	WaitFor(t.tb, timeout, "the program in tmux to exit", func() bool {
		b, err := os.ReadFile(t.status)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		_, err = fmt.Sscan(string(b), &code)
		return err == nil
	})
	return code
}

// RawOutput returns the bytes the program wrote to its terminal so far.
func (t *Tmux) RawOutput() []byte {
	b, _ := os.ReadFile(t.raw)
	return b
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
