package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/har"
	"github.com/onepam/onepam/recordfmt/har/hartest"
)

// appUpstream is newUpstream plus an HTML login form posting to /login.
func appUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", newUpstream())
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>sign in</title><form method="post" action="/login">
<label for="user">User</label><input id="user" name="user" value="alice">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Sign in</button></form>`)
	})
	return mux
}

var appTokenRE = regexp.MustCompile(`opt_[A-Za-z0-9_-]{20,}`)

// TestPublishedAppInChromium runs issue 6's published-URL acceptance with
// the real binaries: Chromium (Playwright) opens https://web.localhost:PORT,
// is sent to the console's login, logs in, gets the app page, posts a
// form, calls the JSON API and the WebSocket; curl downloads 200 MiB
// through the published URL with the browser's app cookie (verifying
// control's certificate for the app host); a kill shows the "session
// terminated" page and a new login starts a new session; bob, whom no rule
// allows, gets the 403 page and a session.denied audit event; the HAR of
// the session lists the requests.
func TestPublishedAppInChromium(t *testing.T) {
	uiDir := filepath.Join("..", "control", "web", "ui")
	node, chromium := e2etest.RequireBrowser(t, uiDir)
	requirePeer(t, "curl")
	up := httptest.NewServer(appUpstream())
	t.Cleanup(up.Close)
	w := newWorld(t, fmt.Sprintf("  - name: web\n    url: %s\n", up.URL))
	out := w.admin.MustRun("users", "add", "bob", "--role", "user", "--token-ttl", "1h")
	bobToken := appTokenRE.FindString(out)
	if bobToken == "" {
		t.Fatalf("users add printed no token:\n%s", out)
	}
	appURL := fmt.Sprintf("https://web.localhost:%d", w.ctl.APIPort)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "apps.mjs"))
	cmd.Dir = uiDir
	cmd.Env = append(os.Environ(), "ONEPAM_APP_URL="+appURL, "ONEPAM_TOKEN="+w.ctl.AdminToken, "ONEPAM_BOB_TOKEN="+bobToken,
		"ONEPAM_UPSTREAM_PASSWORD="+httpPassword, "CHROMIUM="+chromium)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		output strings.Builder
		cookie string
		ready  = make(chan struct{})
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			output.WriteString(line + "\n")
			if v, ok := strings.CutPrefix(line, "cookie "); ok {
				cookie = v
			}
			mu.Unlock()
			if line == "ready" {
				close(ready)
			}
		}
	}()
	finish := func() string {
		_ = stdin.Close()
		<-readDone
		err := cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("apps.mjs:\n%s%s", output.String(), stderr.String())
		if err != nil {
			t.Fatalf("the browser checks failed: %v", err)
		}
		return output.String()
	}
	select {
	case <-ready:
	case <-readDone:
		finish()
		t.Fatal("apps.mjs ended before its first session was ready")
	case <-ctx.Done():
		t.Fatal("apps.mjs not ready in time")
	}

	active := sessions(t, w.admin, "--resource", "web", "--status", "active")
	if len(active) != 1 || active[0].User != "admin" || active[0].Type != api.TypeHTTP {
		t.Fatalf("want one active http session of web: %+v", active)
	}
	first := active[0]

	// 200 MiB through the published URL with curl: the browser's cookie,
	// control's CA, the app host resolved with --connect-to.
	const size = 200 << 20
	mu.Lock()
	appCookie := cookie
	mu.Unlock()
	curl := exec.CommandContext(ctx, "curl", "-sS", "--fail-with-body", "--max-time", "240",
		"--cacert", filepath.Join(w.ctl.DataDir, "ca.crt"),
		"--connect-to", fmt.Sprintf("web.localhost:%d:127.0.0.1:%d", w.ctl.APIPort, w.ctl.APIPort),
		"--cookie", "onepam_app="+appCookie,
		appURL+"/download?n="+strconv.Itoa(size))
	body, err := curl.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var curlErr strings.Builder
	curl.Stderr = &curlErr
	if err := curl.Start(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, copyErr := io.Copy(h, body)
	if err := curl.Wait(); err != nil || copyErr != nil {
		t.Fatalf("curl download: %v %v\n%s", err, copyErr, curlErr.String())
	}
	want := sha256.New()
	_, _ = io.CopyN(want, downloadSource(), size)
	if n != size || string(h.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("download through the published URL: %d bytes, checksum equal %v", n, string(h.Sum(nil)) == string(want.Sum(nil)))
	}
	if now := sessions(t, w.admin, "--resource", "web", "--status", "active"); len(now) != 1 || now[0].ID != first.ID {
		t.Fatalf("the download must ride the browser's session %s: %+v", first.ID, now)
	}

	w.admin.MustRun("sessions", "kill", first.ID, "--reason", "e2e kill")
	waitStatus(t, w.admin, first.ID, api.StatusTerminated, 20*time.Second)
	if _, err := io.WriteString(stdin, "killed\n"); err != nil {
		t.Fatal(err)
	}
	got := finish()
	for _, check := range []string{
		"an app without login goes to the console login page", "login brings back to the app page", "the upstream sees the user",
		"a form post logs in to the upstream (its cookie, redirect)", "the JSON API", "the WebSocket echo",
		"after a kill the next request gets the session terminated page", "signing in again starts over", "logout of the app",
		"a user without policy gets the 403 page", "no page errors",
	} {
		if !strings.Contains(got, "ok "+check+"\n") {
			t.Errorf("apps.mjs did not report %q", check)
		}
	}

	t.Run("sessions: the killed one, then a new one completed by the logout", func(t *testing.T) {
		all := sessions(t, w.admin, "--resource", "web")
		if len(all) != 2 || all[1].ID != first.ID || all[1].Status != api.StatusTerminated {
			t.Fatalf("sessions of web: %+v", all)
		}
		waitStatus(t, w.admin, all[0].ID, api.StatusCompleted, 20*time.Second)
		if bob := sessions(t, w.admin, "--user", "bob"); len(bob) != 0 {
			t.Fatalf("bob's denied requests made sessions: %+v", bob)
		}
	})
	t.Run("bob's denial is audited", func(t *testing.T) {
		var events []api.AuditEvent
		if err := json.Unmarshal([]byte(w.admin.MustRun("audit", "ls", "--action", "session.denied", "-o", "json")), &events); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			found = found || (e.Actor == "bob" && e.Target == "web" && e.Outcome == api.OutcomeDenied && strings.Contains(e.Detail, "policy denies"))
		}
		if !found {
			t.Fatalf("no session.denied event for bob on web: %+v", events)
		}
	})
	t.Run("the HAR of the browser's session lists its requests", func(t *testing.T) {
		e2etest.WaitFor(t, 30*time.Second, "the recording complete", func() bool {
			return session(t, w.admin, first.ID).Recording.State == api.RecordingComplete
		})
		doc := w.admin.MustRun("sessions", "replay", first.ID, "-o", "json")
		hartest.Validate(t, []byte(doc))
		var d har.Document
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range d.Log.Entries {
			path := e.Request.URL
			if i := strings.Index(path, "://"); i >= 0 {
				if j := strings.Index(path[i+3:], "/"); j >= 0 {
					path = path[i+3+j:]
				}
			}
			seen[e.Request.Method+" "+path] = true
		}
		if strings.Contains(doc, "onepam_app") || strings.Contains(doc, appCookie) {
			t.Error("control's app cookie reached the upstream (it is in the HAR)")
		}
		for _, want := range []string{"GET /", "GET /whoami", "GET /form", "POST /login", "POST /api/echo", "GET /ws", "GET /download?n=" + strconv.Itoa(size)} {
			if !seen[want] {
				t.Errorf("the HAR lacks %q; it has %v", want, seen)
			}
		}
		if strings.Contains(doc, httpPassword) {
			t.Error("the HAR holds the upstream password")
		}
	})
}
