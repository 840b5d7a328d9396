package consoles_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control"
	"github.com/onepam/onepam/control/controltest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// requirePeer fails in CI (CI=true) and skips elsewhere when ok is false.
func requirePeer(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing peer is a failure)", what)
	}
	t.Skip(what + " (a failure when CI=true)")
}

// env is a control server and an agent running in process on loopback.
type env struct {
	srv   *control.Server
	base  string // https://127.0.0.1:PORT
	token string
	hc    *http.Client
	c     *client.Client
}

func startEnv(t *testing.T, resources ...agent.ResourceConfig) *env {
	t.Helper()
	ce := controltest.Start(t, controltest.Options{AgentName: "console-agent", Resources: resources})
	e := &env{srv: ce.Server, base: ce.URL, token: ce.Token, c: ce.Admin,
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ce.Pool}}}}
	t.Cleanup(e.hc.CloseIdleConnections)
	return e
}

var waitFor = controltest.WaitFor

// do sends an authenticated request and decodes a JSON answer into out
// (when not nil); it returns the status.
func (e *env) do(t *testing.T, method, path, contentType string, body io.Reader, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		if eb, ok := out.(*api.ErrorBody); ok {
			_ = json.Unmarshal(b, eb)
		}
	}
	return resp.StatusCode
}

func (e *env) get(t *testing.T, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// dial opens a console WebSocket with the bearer token.
func (e *env) dial(t *testing.T, path string) (*websocket.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(e.base, "https://", "wss://", 1)+path, &websocket.DialOptions{
		HTTPClient: e.hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + e.token}},
	})
	return ws, err
}

func (e *env) session(t *testing.T, req api.CreateSessionRequest) api.Session {
	t.Helper()
	s, err := e.c.CreateSession(context.Background(), req)
	if err != nil {
		t.Fatalf("create session %+v: %v", req, err)
	}
	return s
}

// waitEnded waits for a session to reach want with its recording stored.
func (e *env) waitEnded(t *testing.T, id string, want api.SessionStatus) api.Session {
	t.Helper()
	var s api.Session
	waitFor(t, 20*time.Second, fmt.Sprintf("session %s %s with its recording", id, want), func() bool {
		var err error
		s, err = e.c.GetSession(context.Background(), id)
		return err == nil && s.Status == want && s.Recording.State == api.RecordingComplete
	})
	return s
}

func currentUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func hasProgram(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// contains reports whether b holds s.
func contains(b []byte, s string) bool { return bytes.Contains(b, []byte(s)) }
