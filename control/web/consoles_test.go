package web_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

// TestConsolesInChromium runs ui/e2e/consoles.mjs in Debian's Chromium
// against a real control server and agent serving the agent host's
// built-in SSH target, a real Xvnc painted with xsetroot, and the
// machine's PostgreSQL: the web terminal runs a command, uploads and
// downloads a file; the VNC viewer shows the desktop's colour; the
// database console shows `select 42`; active SSH and VNC sessions are
// shown live on their detail pages (SSH then as its recording); a session
// is terminated from the list. Afterwards the sessions are checked through
// the CLI: recorded like CLI sessions (the command in the asciicast, the statement in the query
// log, the upload in the file activity). ONEPAM_SCREENSHOTS=DIR keeps
// terminal.png, desktop.png and sql.png there.
func TestConsolesInChromium(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	uiDir := filepath.Join(filepath.Dir(file), "ui")
	node, chromium := requireBrowserTools(t, uiDir)
	for _, prog := range []string{"Xvnc", "xsetroot"} {
		vnctest.RequirePeer(t, prog)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL on 127.0.0.1:5432: %v", err)
		}
		t.Skipf("no PostgreSQL on 127.0.0.1:5432 (a failure when CI=true): %v", err)
	} else {
		c.Close()
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	x := vnctest.StartXvnc(t)
	x.Run(t, "xsetroot", "-solid", "#3366cc")

	ctl := e2etest.StartControl(t)
	admin := ctl.Admin(t)
	ctl.StartAgent(t, admin, "console-agent", fmt.Sprintf(`resources:
  - name: shell
    url: ssh://%s@builtin
  - name: desktop
    url: vnc://%s
  - name: pg
    url: postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
`, me.Username, x.Addr))
	e2etest.WaitFor(t, 30*time.Second, "the agent online with its resources", func() bool {
		r := admin.Run("resources", "ls", "-o", "json")
		return r.Code == 0 && strings.Count(r.Stdout, `"online": true`) == 3
	})

	shots := os.Getenv("ONEPAM_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(uiDir, "e2e", "consoles.mjs"))
	cmd.Dir = uiDir
	cmd.Env = append(os.Environ(), "ONEPAM_URL="+ctl.URL(), "ONEPAM_TOKEN="+ctl.AdminToken, "ONEPAM_LOGIN="+me.Username,
		"ONEPAM_UPLOAD_DIR="+t.TempDir(), "ONEPAM_SCREENSHOTS="+shots, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("consoles.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the consoles' browser checks failed: %v", err)
	}
	for _, want := range []string{"ok resources page lists the resources with their protocols", "ok web terminal runs a command",
		"ok a WebSocket without the CSRF token is refused", "ok upload through the terminal page", "ok download through the terminal page",
		"ok the terminal session is recorded with its command and file activity",
		"ok the detail page lists the file activity, filterable by operation", "ok VNC viewer shows the desktop, live on the detail page too", "ok the VNC recording plays on the detail page",
		"ok database console runs SQL and shows the result",
		"ok an active SSH session is shown live on its detail page, then its recording", "ok terminate from the sessions list", "ok no script errors"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("consoles.mjs did not report %q", want)
		}
	}

	// The console sessions are normal sessions: the CLI sees them recorded.
	ids := map[string]string{}
	for _, m := range regexp.MustCompile(`session (terminal|desktop|sql) (\S+)`).FindAllStringSubmatch(string(out), -1) {
		ids[m[1]] = m[2]
	}
	for kind, want := range map[string]string{"terminal": "hello-from-web", "sql": "select 42 as answer"} {
		s := showSession(t, admin, ids[kind])
		if s.Status != api.StatusCompleted || s.User != "admin" {
			t.Errorf("%s session %+v", kind, s)
		}
		if r := admin.Run("sessions", "replay", ids[kind]); !strings.Contains(r.Stdout, want) {
			t.Errorf("onepam sessions replay %s (%s): %q missing\n%s%s", ids[kind], kind, want, r.Stdout, r.Stderr)
		}
	}
	for _, name := range []string{"resources.png", "terminal.png", "desktop.png", "sql.png"} {
		if st, err := os.Stat(filepath.Join(shots, name)); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
}
