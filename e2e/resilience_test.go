package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

func apiClient(t *testing.T, c *e2etest.Control, token string) *client.Client {
	t.Helper()
	cl, err := client.New(client.Config{URL: c.URL(), Token: token, CAPin: c.CAPin})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestControlCrash: kill -9 of control in the middle of a session, then a
// restart: the agent is back within 5 s and the session ends failed.
func TestControlCrash(t *testing.T) {
	w := newWorld(t)
	tun := tcpConnect(t, w.admin, "echo")
	echoRoundTrip(t, tun.Addr, 1000)
	waitStatus(t, w.admin, tun.ID, api.StatusActive, 10*time.Second)

	w.ctl.Kill9()
	// The CLI loses its events channel: it must stop and say why, not hang.
	code, err := tun.Wait(20 * time.Second)
	if err != nil || code == 0 {
		t.Fatalf("tcp connect after control died: exit %d, %v\n%s", code, err, tun.Output())
	}
	w.ctl.Restart()
	start := time.Now()
	w.waitAgentOnline(t, "agent-1", 5*time.Second)
	t.Logf("agent back online %s after control's restart", time.Since(start).Round(time.Millisecond))
	s := waitStatus(t, w.admin, tun.ID, api.StatusFailed, 5*time.Second)
	if !strings.Contains(s.Error, "interrupted") {
		t.Fatalf("failed session error %q does not say it was interrupted", s.Error)
	}
	// And the restarted control serves new sessions through the same agent.
	tun2 := tcpConnect(t, w.admin, "echo")
	echoRoundTrip(t, tun2.Addr, 100000)
	tun2.Signal(syscall.SIGINT)
	_, _ = tun2.Wait(10 * time.Second)
	waitStatus(t, w.admin, tun2.ID, api.StatusCompleted, 10*time.Second)
}

// TestAgentLifecycle: enrollment tokens work once; a removed agent is
// disconnected and cannot come back.
func TestAgentLifecycle(t *testing.T) {
	w := newWorld(t)

	t.Run("enrollment token works once", func(t *testing.T) {
		out := w.admin.MustRun("agents", "token", "create", "--ttl", "10m")
		tok := regexp.MustCompile(`[A-Za-z0-9_-]{20,}\.[0-9a-f]{64}`).FindString(out)
		_, agentBin := e2etest.Binaries(t)
		run := func(name string) *e2etest.Proc {
			return e2etest.Start(t, name, nil, agentBin, "run", "--control", w.ctl.AgentAddr(), "--token", tok,
				"--data-dir", t.TempDir(), "--name", name)
		}
		first := run("agent-once-a")
		w.waitAgentOnlineNoResources(t, "agent-once-a")
		second := run("agent-once-b")
		code, err := second.Wait(20 * time.Second)
		if err != nil || code == 0 {
			t.Fatalf("second enrollment with the same token: exit %d %v\n%s", code, err, second.Output())
		}
		if !strings.Contains(second.Output(), "already used") {
			t.Fatalf("second enrollment error does not say the token was used:\n%s", second.Output())
		}
		first.Signal(syscall.SIGTERM)
		if code, err := first.Wait(10 * time.Second); err != nil || code != 0 {
			t.Fatalf("agent after SIGTERM: exit %d %v", code, err)
		}
	})

	t.Run("removed agent is disconnected for good", func(t *testing.T) {
		tun := tcpConnect(t, w.admin, "echo")
		w.admin.MustRun("agents", "rm", "agent-1")
		code, err := w.agent.Wait(10 * time.Second)
		if err != nil || code == 0 {
			t.Fatalf("removed agent: exit %d %v", code, err)
		}
		if !strings.Contains(w.agent.Output(), "revoked") {
			t.Fatalf("removed agent does not say it was revoked:\n%s", w.agent.Output())
		}
		waitStatus(t, w.admin, tun.ID, api.StatusFailed, 10*time.Second)
		w.ctl.RestartAgent(t, "agent-1", w.agent)
		code, err = w.agent.Wait(20 * time.Second)
		if err != nil || code == 0 || !strings.Contains(w.agent.Output(), "revoked") {
			t.Fatalf("revoked agent restarted: exit %d %v\n%s", code, err, w.agent.Output())
		}
		var agents []api.Agent
		if err := json.Unmarshal([]byte(w.admin.MustRun("agents", "ls", "-o", "json")), &agents); err != nil {
			t.Fatal(err)
		}
		for _, a := range agents {
			if a.Name == "agent-1" && (a.Online || a.RevokedAt == nil) {
				t.Fatalf("removed agent listed as %+v", a)
			}
		}
		if r := w.admin.Run("tcp", "connect", "echo", "--listen", "127.0.0.1:0"); r.Code == 0 {
			t.Fatal("connected through a removed agent")
		}
	})
}

func (w *world) waitAgentOnlineNoResources(t *testing.T, name string) {
	t.Helper()
	e2etest.WaitFor(t, 30*time.Second, "agent "+name+" online", func() bool {
		var agents []api.Agent
		r := w.admin.Run("agents", "ls", "-o", "json")
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &agents) != nil {
			return false
		}
		for _, a := range agents {
			if a.Name == name && a.Online {
				return true
			}
		}
		return false
	})
}

// TestMetricsAndHealth checks the Prometheus endpoint after a session.
func TestMetricsAndHealth(t *testing.T) {
	w := newWorld(t)
	tun := tcpConnect(t, w.admin, "echo")
	echoRoundTrip(t, tun.Addr, 4096)
	tun.Signal(syscall.SIGINT)
	_, _ = tun.Wait(10 * time.Second)
	waitStatus(t, w.admin, tun.ID, api.StatusCompleted, 10*time.Second)

	resp, err := insecureHTTP().Get(w.ctl.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`onepam_agents_online 1`,
		`onepam_sessions_ended_total{status="completed",type="tcp"} 1`,
		`onepam_bytes_total{direction="up"} 4096`,
		`onepam_bytes_total{direction="down"} 4096`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// insecureHTTP reaches /metrics and /healthz, which need no authentication.
func insecureHTTP() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}
