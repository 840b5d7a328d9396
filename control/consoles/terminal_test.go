package consoles_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/consoles"
	"github.com/onepam/onepam/pkg/api"
)

// term reads a terminal WebSocket: output accumulates, text messages are
// decoded.
type term struct {
	t   *testing.T
	ws  *websocket.Conn
	out bytes.Buffer
}

// until reads until the output holds want (or a text message arrives
// when want is ""); it returns the text message, if any.
func (tm *term) until(want string) *consoles.TerminalMessage {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for want == "" || !strings.Contains(tm.out.String(), want) {
		typ, b, err := tm.ws.Read(ctx)
		if err != nil {
			tm.t.Fatalf("read the terminal waiting for %q: %v\noutput so far: %q", want, err, tm.out.String())
		}
		if typ == websocket.MessageBinary {
			tm.out.Write(b)
			continue
		}
		var m consoles.TerminalMessage
		if err := json.Unmarshal(b, &m); err != nil {
			tm.t.Fatalf("terminal text message %q: %v", b, err)
		}
		if want == "" {
			return &m
		}
		tm.t.Fatalf("terminal message %+v while waiting for %q; output %q", m, want, tm.out.String())
	}
	return nil
}

func (tm *term) send(typ websocket.MessageType, b []byte) {
	tm.t.Helper()
	if err := tm.ws.Write(context.Background(), typ, b); err != nil {
		tm.t.Fatal(err)
	}
}

func sshResource(t *testing.T) agent.ResourceConfig {
	t.Helper()
	r, err := agent.ParseResourceURL("shell", "ssh://"+currentUser(t)+"@builtin")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWebTerminal runs a shell on the agent's built-in SSH target through
// the terminal WebSocket: a command and its output, a resize, an upload
// and a download over SFTP on the same connection, the exit status, and
// afterwards the session's recording and file activity.
func TestWebTerminal(t *testing.T) {
	e := startEnv(t, sshResource(t))
	login := currentUser(t)
	s := e.session(t, api.CreateSessionRequest{Resource: "shell", Login: login})
	ws, err := e.dial(t, "/v1/sessions/"+s.ID+"/terminal?cols=100&rows=30")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	tm := &term{t: t, ws: ws}

	tm.send(websocket.MessageText, []byte(`{"type":"resize","cols":120,"rows":40}`))
	tm.send(websocket.MessageBinary, []byte("stty size; echo hello-from-web\r"))
	tm.until("\nhello-from-web\r")
	if !strings.Contains(tm.out.String(), "40 120") {
		t.Errorf("stty size after the resize: output %q lacks \"40 120\"", tm.out.String())
	}

	dir := t.TempDir()
	t.Run("upload", func(t *testing.T) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "notes.txt")
		fw.Write([]byte("uploaded through the web terminal\n"))
		mw.Close()
		var res consoles.UploadResult
		if st := e.do(t, http.MethodPost, "/v1/sessions/"+s.ID+"/terminal/files?dir="+url.QueryEscape(dir), mw.FormDataContentType(), &body, &res); st != http.StatusOK {
			t.Fatalf("upload: status %d", st)
		}
		want := filepath.Join(dir, "notes.txt")
		if len(res.Files) != 1 || res.Files[0].Path != want || res.Files[0].Bytes != 34 {
			t.Fatalf("upload answer %+v", res)
		}
		if b, err := os.ReadFile(want); err != nil || string(b) != "uploaded through the web terminal\n" {
			t.Fatalf("uploaded file: %q %v", b, err)
		}
	})
	t.Run("download", func(t *testing.T) {
		src := filepath.Join(dir, "report.bin")
		data := bytes.Repeat([]byte("0123456789abcdef"), 40000)
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := e.get(t, "/v1/sessions/"+s.ID+"/terminal/files?path="+url.QueryEscape(src)); !bytes.Equal(got, data) {
			t.Fatalf("downloaded %d bytes, want %d", len(got), len(data))
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			want               int
		}{
			{"missing file", http.MethodGet, "/terminal/files?path=" + url.QueryEscape(filepath.Join(dir, "nope")), http.StatusNotFound},
			{"no path", http.MethodGet, "/terminal/files", http.StatusBadRequest},
			{"directory", http.MethodGet, "/terminal/files?path=" + url.QueryEscape(dir), http.StatusBadRequest},
			{"not multipart", http.MethodPost, "/terminal/files", http.StatusBadRequest},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var eb api.ErrorBody
				if st := e.do(t, tc.method, "/v1/sessions/"+s.ID+tc.path, "text/plain", strings.NewReader("x"), &eb); st != tc.want || eb.Error == nil {
					t.Fatalf("status %d (want %d), body %+v", st, tc.want, eb.Error)
				}
			})
		}
	})

	tm.send(websocket.MessageBinary, []byte("exit 3\r"))
	m := tm.until("")
	if m.Type != "exit" || m.Status != 3 {
		t.Fatalf("exit message %+v", m)
	}
	e.waitEnded(t, s.ID, api.StatusCompleted)
	if cast := e.get(t, "/v1/sessions/"+s.ID+"/recording?format=native"); !contains(cast, "hello-from-web") {
		t.Fatalf("the recording lacks the command:\n%s", cast)
	}
	var files []api.FileEvent
	waitFor(t, 10*time.Second, "the upload in the session's file activity", func() bool {
		files = nil
		e.do(t, http.MethodGet, "/v1/sessions/"+s.ID+"/files", "", nil, &files)
		for _, f := range files {
			if f.Op == api.FileOpUpload && f.Path == filepath.Join(dir, "notes.txt") && f.Bytes == 34 && f.Protocol == "web" {
				return true
			}
		}
		return false
	})
	var eb api.ErrorBody
	if st := e.do(t, http.MethodGet, "/v1/sessions/"+s.ID+"/terminal/files?path=/etc/hostname", "", nil, &eb); st != http.StatusConflict {
		t.Fatalf("download after the terminal closed: status %d %+v", st, eb.Error)
	}
}

// TestWebTerminalRefusals: malformed sizes, another type's session, a
// bad control message and a terminated session.
func TestWebTerminalRefusals(t *testing.T) {
	e := startEnv(t, sshResource(t))
	login := currentUser(t)
	t.Run("bad size", func(t *testing.T) {
		s := e.session(t, api.CreateSessionRequest{Resource: "shell", Login: login})
		var eb api.ErrorBody
		if st := e.do(t, http.MethodGet, "/v1/sessions/"+s.ID+"/terminal?cols=0", "", nil, &eb); st != http.StatusBadRequest {
			t.Fatalf("status %d %+v", st, eb.Error)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		ws, err := e.dial(t, "/v1/sessions/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/terminal")
		if err != nil {
			t.Fatal(err)
		}
		tm := &term{t: t, ws: ws}
		if m := tm.until(""); m.Type != "error" || !strings.Contains(m.Message, "not found") {
			t.Fatalf("message %+v", m)
		}
	})
	t.Run("unknown control message", func(t *testing.T) {
		s := e.session(t, api.CreateSessionRequest{Resource: "shell", Login: login})
		ws, err := e.dial(t, "/v1/sessions/"+s.ID+"/terminal")
		if err != nil {
			t.Fatal(err)
		}
		tm := &term{t: t, ws: ws}
		// The shell is up (startup files read) before the terminal closes.
		tm.send(websocket.MessageBinary, []byte("echo ready-$((40+2))\r"))
		tm.until("ready-42")
		tm.send(websocket.MessageText, []byte(`{"type":"launch"}`))
		if m := tm.until(""); m.Type != "error" || !strings.Contains(m.Message, `"launch"`) {
			t.Fatalf("message %+v", m)
		}
		e.waitEnded(t, s.ID, api.StatusCompleted)
	})
	t.Run("terminated", func(t *testing.T) {
		s := e.session(t, api.CreateSessionRequest{Resource: "shell", Login: login})
		ws, err := e.dial(t, "/v1/sessions/"+s.ID+"/terminal")
		if err != nil {
			t.Fatal(err)
		}
		tm := &term{t: t, ws: ws}
		tm.send(websocket.MessageBinary, []byte("echo ready-$((40+2))\r"))
		tm.until("ready-42")
		if _, err := e.c.KillSession(context.Background(), s.ID, "console test"); err != nil {
			t.Fatal(err)
		}
		m := tm.until("")
		if m.Type != "exit" || m.Status != -1 {
			t.Fatalf("message after the kill %+v", m)
		}
		e.waitEnded(t, s.ID, api.StatusTerminated)
	})
}
