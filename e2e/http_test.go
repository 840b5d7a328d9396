package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/devapp"
	"github.com/onepam/onepam/recordfmt/har"
	"github.com/onepam/onepam/recordfmt/har/hartest"
)

// Secrets the HTTP test sends; none may appear in a recording.
const (
	httpBearer   = "Bearer e2e-bearer-s3cret"
	httpPassword = "e2e-hunter2"
)

// newUpstream is a web application: an HTML page, a JSON echo API, a form
// login setting a cookie, deterministic downloads (/download?n=BYTES), a
// WebSocket echo and /whoami (the user header the gateway sent).
func newUpstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>e2e app</title><h1>Hello from the upstream</h1>")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(r.Header.Values("X-OnePAM-User"), ","))
	})
	mux.HandleFunc("POST /api/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, r.Body)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("password") != httpPassword {
			http.Error(w, "bad password", http.StatusUnauthorized)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "cookie-s3cret", Path: "/"})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		_, _ = io.CopyN(w, downloadSource(), n)
	})
	mux.HandleFunc("GET /ws", devapp.WebSocketEcho(32768))
	return mux
}

// downloadSource is the deterministic byte stream of /download.
func downloadSource() io.Reader { return &prng{r: rand.New(rand.NewPCG(1, 2))} }

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

// jsonEqual reports whether two JSON documents hold the same values.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return reflect.DeepEqual(va, vb)
}

// writeServerCA writes the TLS test server's certificate (self-signed, so
// its own CA) as a PEM file.
func writeServerCA(t *testing.T, srv *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "upstream-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHTTPSessions runs issue 6's local-port acceptance through the real
// binaries: curl and Go clients through `onepam http connect` to plain and
// TLS upstreams, the request table and a HAR 1.2 export checked by
// har-validator with secrets redacted.
func TestHTTPSessions(t *testing.T) {
	requirePeer(t, "curl")
	plain := httptest.NewServer(newUpstream())
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(newUpstream())
	t.Cleanup(tlsSrv.Close)
	ca := writeServerCA(t, tlsSrv)
	w := newWorld(t, fmt.Sprintf(`  - name: web
    url: %s
  - name: webtls
    url: %s/?ca_file=%s
`, plain.URL, tlsSrv.URL, ca))

	t.Run("curl and Go clients through http connect; replay and HAR", func(t *testing.T) {
		tun := connectType(t, w.admin, "http", "web")
		base := "http://" + tun.Addr
		curl := func(args ...string) string {
			t.Helper()
			out, err := exec.Command("curl", append([]string{"-sS", "--fail-with-body", "--max-time", "60"}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		if got := curl(base + "/"); !strings.Contains(got, "Hello from the upstream") {
			t.Fatalf("GET /: %q", got)
		}
		if got := curl("-H", "X-OnePAM-User: mallory", base+"/whoami"); got != "admin" {
			t.Fatalf("/whoami saw user header %q, want admin only (the client's is stripped)", got)
		}
		if got := curl("-H", "Authorization: "+httpBearer, "-H", "Content-Type: application/json",
			"--data", `{"user":"alice","password":"`+httpPassword+`","n":1}`, base+"/api/echo"); !strings.Contains(got, httpPassword) {
			t.Fatalf("POST /api/echo: %q", got)
		}
		if got := curl("-i", "--data-urlencode", "user=alice", "--data-urlencode", "password="+httpPassword, base+"/login"); !strings.Contains(got, "303") || !strings.Contains(got, "sid=cookie-s3cret") {
			t.Fatalf("POST /login: %q", got)
		}

		const size = 10 << 20
		resp, err := http.Get(base + "/download?n=" + strconv.Itoa(size))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		want := sha256.New()
		_, _ = io.CopyN(want, downloadSource(), size)
		if err != nil || n != size || string(h.Sum(nil)) != string(want.Sum(nil)) {
			t.Fatalf("download: %d bytes, %v, checksum equal %v", n, err, string(h.Sum(nil)) == string(want.Sum(nil)))
		}

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ws, wsResp, err := websocket.Dial(ctx, "ws://"+tun.Addr+"/ws", nil)
		if err != nil {
			var body []byte
			if wsResp != nil {
				body, _ = io.ReadAll(wsResp.Body)
			}
			t.Fatalf("%v: %s", err, body)
		}
		for _, msg := range []string{"hello ws", "second message"} {
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			if _, got, err := ws.Read(ctx); err != nil || string(got) != msg {
				t.Fatalf("websocket echo: %q %v", got, err)
			}
		}
		ws.Close(websocket.StatusNormalClosure, "")

		stopConnect(t, tun)
		e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
			return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
		})

		table := w.admin.MustRun("sessions", "replay", tun.ID)
		for _, want := range []string{"METHOD", "GET", "/whoami", "POST", "/login", "303", "/download?n=10485760", "10.0 MiB", "/ws", "101"} {
			if !strings.Contains(table, want) {
				t.Errorf("request table lacks %q:\n%s", want, table)
			}
		}
		if got := w.admin.MustRun("sessions", "replay", tun.ID, "--grep", "POST"); strings.Contains(got, "/download") || !strings.Contains(got, "/api/echo") {
			t.Errorf("--grep POST:\n%s", got)
		}

		// The export a person opens in browser developer tools, and the
		// same document from replay -o json.
		harFile := filepath.Join(t.TempDir(), "session.har")
		w.admin.MustRun("sessions", "export", tun.ID, "-o", harFile)
		exported, err := os.ReadFile(harFile)
		if err != nil {
			t.Fatal(err)
		}
		hartest.Validate(t, exported)
		doc := w.admin.MustRun("sessions", "replay", tun.ID, "-o", "json")
		hartest.Validate(t, []byte(doc))
		if !jsonEqual(t, exported, []byte(doc)) {
			t.Errorf("sessions export -o FILE and sessions replay -o json give different documents")
		}
		for _, secret := range []string{httpPassword, "e2e-bearer-s3cret", "cookie-s3cret"} {
			if strings.Contains(doc, secret) {
				t.Errorf("the HAR holds the secret %q", secret)
			}
		}
		var d har.Document
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Log.Entries) != 6 {
			t.Errorf("HAR has %d entries, want 6 (/, /whoami, /api/echo, /login, /download, /ws and nothing else)", len(d.Log.Entries))
		}
		var sawWS bool
		for _, e := range d.Log.Entries {
			for _, m := range e.WebSocketMessages {
				sawWS = sawWS || m.Data == "hello ws"
			}
			if strings.Contains(e.Request.URL, "/download") && (e.Response.Content.Size != size || !strings.Contains(e.Response.Content.Comment, "truncated")) {
				t.Errorf("download entry: size %d comment %q", e.Response.Content.Size, e.Response.Content.Comment)
			}
		}
		if !sawWS {
			t.Error("the HAR lacks the WebSocket messages")
		}
	})

	t.Run("kill in the middle of a 200 MiB download cuts it; the HAR shows the cut request", func(t *testing.T) {
		tun := connectType(t, w.admin, "http", "web")
		const size = 200 << 20
		resp, err := http.Get("http://" + tun.Addr + "/download?n=" + strconv.Itoa(size))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
			t.Fatal(err)
		}
		w.admin.MustRun("sessions", "kill", tun.ID, "--reason", "e2e cut")
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil || n+1<<20 >= size {
			t.Fatalf("the download went on after kill: %d more bytes, err %v", n, err)
		}
		if code, err := tun.Wait(20 * time.Second); err != nil || code != 7 {
			t.Fatalf("http connect after kill: exit %d %v", code, err)
		}
		e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
			return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
		})
		if st := session(t, w.admin, tun.ID).Status; st != api.StatusTerminated {
			t.Errorf("killed session is %s, want %s", st, api.StatusTerminated)
		}
		doc := w.admin.MustRun("sessions", "replay", tun.ID, "-o", "json")
		hartest.Validate(t, []byte(doc))
		var d har.Document
		if err := json.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Log.Entries) != 1 {
			t.Fatalf("HAR of the killed download has %d entries, want 1: %+v", len(d.Log.Entries), d.Log.Entries)
		}
		e := d.Log.Entries[0]
		// The entry is the download as far as it went: the upstream's 200,
		// fewer bytes than announced, and a comment saying it was cut.
		if !strings.Contains(e.Request.URL, "/download?n=") || e.Response.Status != 200 ||
			e.Response.BodySize < 1<<20 || e.Response.BodySize >= size || e.Response.Content.Size != e.Response.BodySize ||
			!strings.Contains(e.Comment, "error") {
			t.Fatalf("cut entry: url %q status %d bodySize %d content size %d comment %q",
				e.Request.URL, e.Response.Status, e.Response.BodySize, e.Response.Content.Size, e.Comment)
		}
		t.Logf("cut entry: bodySize %d, comment %q", e.Response.BodySize, e.Comment)
	})

	t.Run("--open starts the BROWSER on the local address", func(t *testing.T) {
		dir := t.TempDir()
		got := filepath.Join(dir, "url")
		stub := filepath.Join(dir, "browser")
		script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + got + ".tmp' && mv '" + got + ".tmp' '" + got + "'\n"
		if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cli, _ := e2etest.Binaries(t)
		addr := fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t))
		p := e2etest.Start(t, "http-connect-open", append(w.admin.Env(), "BROWSER="+stub), cli, "http", "connect", "web", "--listen", addr, "--open")
		e2etest.WaitFor(t, 20*time.Second, "the browser stub to be started", func() bool {
			_, err := os.Stat(got)
			return err == nil || p.Exited()
		})
		b, err := os.ReadFile(got)
		if err != nil {
			t.Fatalf("the browser was not started: %v\n%s", err, p.Output())
		}
		url := strings.TrimSpace(string(b))
		if url != "http://"+addr+"/" {
			t.Fatalf("the browser got %q, want http://%s/", b, addr)
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "Hello from the upstream") {
			t.Fatalf("the opened address answers %d %q", resp.StatusCode, page)
		}
		p.Signal(syscall.SIGINT)
		if code, err := p.Wait(20 * time.Second); err != nil || code != 0 {
			t.Fatalf("http connect --open after Ctrl-C: exit %d %v\n%s", code, err, p.Output())
		}
	})

	t.Run("TLS upstream verified with its CA", func(t *testing.T) {
		tun := connectType(t, w.admin, "http", "webtls")
		defer tun.Signal(syscall.SIGINT)
		resp, err := http.Get("http://" + tun.Addr + "/whoami")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "admin" {
			t.Fatalf("GET /whoami over TLS upstream: %d %q", resp.StatusCode, b)
		}
	})
}
