package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

// world is one control server with one agent serving an echo resource, a
// PostgreSQL TCP resource and a resource on a closed port.
type world struct {
	ctl    *e2etest.Control
	admin  *e2etest.User
	agent  *e2etest.Agent
	echo   *e2etest.EchoServer
	closed int
}

func newWorld(t testing.TB, extra ...string) *world { return newWorldIn(t, t.TempDir(), extra...) }

// newWorldIn is newWorld on a control data dir the caller prepared; extra
// holds agent.yaml resource entries.
func newWorldIn(t testing.TB, dataDir string, extra ...string) *world {
	t.Helper()
	w := &world{echo: e2etest.StartEcho(t), closed: e2etest.FreePort(t)}
	w.ctl = e2etest.StartControlIn(t, dataDir)
	w.admin = w.ctl.Admin(t)
	w.agent = w.ctl.StartAgent(t, w.admin, "agent-1", fmt.Sprintf(`resources:
  - name: echo
    type: tcp
    address: %s
    labels: {env: test, tier: demo}
  - name: pg
    url: tcp://127.0.0.1:5432
    labels: {env: test, tier: db}
  - name: closed
    url: tcp://127.0.0.1:%d
`, w.echo.Addr, w.closed)+strings.Join(extra, ""))
	w.waitAgentOnline(t, "agent-1", 30*time.Second)
	return w
}

func (w *world) waitAgentOnline(t testing.TB, name string, d time.Duration) {
	t.Helper()
	e2etest.WaitFor(t, d, "agent "+name+" online", func() bool {
		var agents []api.Agent
		r := w.admin.Run("agents", "ls", "-o", "json")
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &agents) != nil {
			return false
		}
		for _, a := range agents {
			if a.Name == name && a.Online && len(a.Resources) > 0 {
				return true
			}
		}
		return false
	})
}

func sessions(t testing.TB, u *e2etest.User, args ...string) []api.Session {
	t.Helper()
	out := u.MustRun(append([]string{"sessions", "ls", "-o", "json"}, args...)...)
	var ss []api.Session
	if err := json.Unmarshal([]byte(out), &ss); err != nil {
		t.Fatalf("sessions ls -o json is not a JSON array of sessions: %v\n%s", err, out)
	}
	return ss
}

func session(t testing.TB, u *e2etest.User, id string) api.Session {
	t.Helper()
	out := u.MustRun("sessions", "show", id, "-o", "json")
	var s api.Session
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("sessions show -o json: %v\n%s", err, out)
	}
	return s
}

func waitStatus(t testing.TB, u *e2etest.User, id string, want api.SessionStatus, d time.Duration) api.Session {
	t.Helper()
	var s api.Session
	e2etest.WaitFor(t, d, fmt.Sprintf("session %s to be %s", id, want), func() bool {
		s = session(t, u, id)
		return s.Status == want
	})
	return s
}

var listenRE = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
var sessionIDRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}`)

// tunnel is a running `onepam tcp connect`.
type tunnel struct {
	*e2etest.Proc
	Addr string
	ID   string
}

// stopConnect ends a connect command with Ctrl-C, which must exit 0.
func stopConnect(t testing.TB, tun *tunnel) {
	t.Helper()
	tun.Signal(syscall.SIGINT)
	if code, err := tun.Wait(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("%s after Ctrl-C: exit %d %v\n%s", tun.Name, code, err, tun.Output())
	}
}

// tcpConnect starts `onepam tcp connect resource` and waits until it listens.
func tcpConnect(t testing.TB, u *e2etest.User, resource string) *tunnel {
	t.Helper()
	return connectType(t, u, "tcp", resource)
}
