package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

// requireBrowserTools fails in CI (CI=true) and skips elsewhere when node,
// Debian's Chromium, the console's npm packages or its built assets are
// missing (./scripts/test installs and builds them).
func requireBrowserTools(t *testing.T, uiDir string) (node, chromium string) {
	t.Helper()
	return e2etest.RequireBrowser(t, uiDir)
}

var sessionIDRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}`)

// tunnel is a running `onepam tcp connect`.
type tunnel struct {
	*e2etest.Proc
	addr, id string
}

func tcpConnect(t *testing.T, u *e2etest.User, resource string) *tunnel {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t))
	p := u.Start("tcp-connect", "tcp", "connect", resource, "--listen", addr)
	e2etest.WaitFor(t, 20*time.Second, "tcp connect to listen on "+addr, func() bool {
		return sessionIDRE.MatchString(p.Output()) && strings.Contains(p.Output(), addr) || p.Exited()
	})
	if p.Exited() {
		t.Fatalf("tcp connect exited:\n%s", p.Output())
	}
	return &tunnel{Proc: p, addr: addr, id: sessionIDRE.FindString(p.Output())}
}

// echo sends a line through the tunnel and reads it back.
func (tu *tunnel) echo(t *testing.T, line string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", tu.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo through the tunnel: %q %v", got, err)
	}
}

func showSession(t *testing.T, u *e2etest.User, id string) api.Session {
	t.Helper()
	var s api.Session
	if err := json.Unmarshal([]byte(u.MustRun("sessions", "show", id, "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConsoleInChromium runs the console's end-to-end checks
// (ui/e2e/console.mjs) in Debian's Chromium against a real control server
// and agent, with a completed TCP session (its connection log), seeded
// finished sessions with asciicast, query log, HAR and expired recordings,
// and a live TCP session that the browser terminates: the CLI holding it must exit with code 7
// (terminated). ONEPAM_SCREENSHOTS=DIR keeps the screenshots there
// (docs/screenshots holds the committed ones).
func TestConsoleInChromium(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	uiDir := filepath.Join(filepath.Dir(file), "ui")
	node, chromium := requireBrowserTools(t, uiDir)
	cli, _ := e2etest.Binaries(t)

	echo := e2etest.StartEcho(t)
	dataDir := t.TempDir()
	seed := seedRecordings(t, dataDir)
	ctl := e2etest.StartControlIn(t, dataDir)
	admin := ctl.Admin(t)
	ctl.StartAgent(t, admin, "web-agent", fmt.Sprintf("resources:\n  - name: echo\n    type: tcp\n    address: %s\n", echo.Addr))
	e2etest.WaitFor(t, 30*time.Second, "the agent online with its resource", func() bool {
		r := admin.Run("resources", "ls", "-o", "json")
		return r.Code == 0 && strings.Contains(r.Stdout, `"echo"`) && strings.Contains(r.Stdout, `"online": true`)
	})

	// carol logs in to the console with the password set here (console.mjs).
	admin.MustRun("users", "add", "carol", "--role", "auditor")
	passwd := exec.Command(cli, "users", "passwd", "carol", "--stdin")
	passwd.Env = append(os.Environ(), admin.Env()...)
	passwd.Stdin = strings.NewReader("wonderland 42\n")
	if out, err := passwd.CombinedOutput(); err != nil || !strings.Contains(string(out), "set the password of carol") {
		t.Fatalf("onepam users passwd carol --stdin: %v\n%s", err, out)
	}

	done := tcpConnect(t, admin, "echo")
	done.echo(t, "hello console")
	done.Signal(syscall.SIGINT)
	if code, err := done.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("tcp connect after Ctrl-C: exit %d, %v\n%s", code, err, done.Output())
	}
	e2etest.WaitFor(t, 10*time.Second, "the completed session's recording", func() bool {
		s := showSession(t, admin, done.id)
		return s.Status == api.StatusCompleted && s.Recording.State == api.RecordingComplete
	})
	live := tcpConnect(t, admin, "echo")
	live.echo(t, "still here")

	shots := os.Getenv("ONEPAM_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(uiDir, "e2e", "console.mjs"))
	cmd.Dir = uiDir
	cmd.Env = append(os.Environ(), admin.Env()...)
	cmd.Env = append(cmd.Env,
		"ONEPAM_URL="+ctl.URL(), "ONEPAM_TOKEN="+ctl.AdminToken,
		"ONEPAM_ACTIVE_ID="+live.id, "ONEPAM_DONE_ID="+done.id,
		"ONEPAM_CLI="+cli, "ONEPAM_RESOURCE=echo",
		"ONEPAM_CAST_ID="+seed.Cast, "ONEPAM_QUERY_ID="+seed.Query, "ONEPAM_HAR_ID="+seed.HAR, "ONEPAM_EXPIRED_ID="+seed.Expired, "ONEPAM_DESK_ID="+seed.Desk,
		"ONEPAM_SCREENSHOTS="+shots, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("console.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the console's browser checks failed: %v", err)
	}
	for _, want := range []string{"ok login", "ok the list shows the sessions", "ok an active session pulses", "ok terminate from the detail page",
		"ok CSRF: a state-changing call with the cookie but without the token is refused", "ok detail page with the connection log",
		"ok asciicast plays and a #t= link seeks", "ok query log as a table", "ok HAR as a request table with a waterfall", "ok expired recording shows the retention notice",
		"ok deskproto plays on a canvas and seeks via keyframes", "ok login by user and password",
		"ok settings: recording access shows the current value to an admin", "ok settings: a refused save shows the error and changes nothing",
		"ok settings: an admin switches recording access off and saves", "ok settings: an auditor sees recording access read-only"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("console.mjs did not report %q", want)
		}
	}

	code, err := live.Wait(5 * time.Second)
	if err != nil || code != 7 {
		t.Fatalf("the CLI of the session terminated in the browser: exit %d, %v (want 7, terminated)\n%s", code, err, live.Output())
	}
	s := showSession(t, admin, live.id)
	if s.Status != api.StatusTerminated || s.TerminatedBy != "admin" || s.TerminateReason != "web console test" {
		t.Fatalf("terminated session %+v", s)
	}
	for _, name := range []string{"sessions.png", "session-detail.png"} {
		if st, err := os.Stat(filepath.Join(shots, name)); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
}
