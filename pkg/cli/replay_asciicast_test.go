package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client/clienttest"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

const sshSessionID = "0197a000-0000-7000-8000-0000000000aa"

// sshFixture is a small terminal recording in the stored form.
func sshFixture(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	r, err := asciicast.NewRecorder(&b, asciicast.Header{Width: 80, Height: 24, SessionID: sshSessionID, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	r.Output(10*time.Millisecond, []byte("$ "))
	r.Input(time.Second, []byte("ls\r"))
	r.Output(1100*time.Millisecond, []byte("ls\r\n\x1b[1;34mdocs\x1b[0m  notes.txt\r\n$ "))
	r.Resize(2*time.Second, 100, 30)
	r.Close()
	return b.Bytes()
}

// newSSHTestEnv is newTestEnv with a control that serves one ssh session,
// its recording, file activity, search hits and a live watch.
func newSSHTestEnv(t *testing.T) *testEnv {
	e := newTestEnv(t)
	rec := sshFixture(t)
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	s := api.Session{ID: sshSessionID, User: "alice", Type: api.TypeSSH, Status: api.StatusCompleted, Resource: "web-1",
		CreatedAt: at, StartedAt: &at, EndedAt: &at,
		Recording: api.Recording{Format: api.FormatAsciicast, State: api.RecordingComplete, Size: int64(len(rec)), Available: true}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s) })
	mux.HandleFunc("GET /v1/sessions/{id}/recording", func(w http.ResponseWriter, r *http.Request) { w.Write(rec) })
	mux.HandleFunc("GET /v1/sessions/{id}/watch", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Onepam-Recording-Format", "asciicast")
		w.Write(rec)
	})
	mux.HandleFunc("GET /v1/sessions/{id}/files", func(w http.ResponseWriter, r *http.Request) {
		evs := []api.FileEvent{
			{SessionID: sshSessionID, Time: at, Protocol: "sftp", Op: api.FileOpUpload, Path: "/tmp/a.txt", Bytes: 1234, Result: "ok"},
			{SessionID: sshSessionID, Time: at, Protocol: "sftp", Op: api.FileOpRename, Path: "/tmp/a.txt", Path2: "/tmp/b.txt", Result: "ok"},
		}
		if r.URL.Query().Get("op") == "upload" {
			evs = evs[:1]
		}
		writeJSON(w, 200, evs)
	})
	mux.HandleFunc("GET /v1/search", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") != "notes" || r.URL.Query().Get("type") != "ssh" {
			writeErr(w, api.CodeInvalid, "unexpected query "+r.URL.RawQuery)
			return
		}
		writeJSON(w, 200, []api.SearchHit{{SessionID: sshSessionID, OffsetSeconds: 1.1, Line: "docs  notes.txt", User: "alice", Resource: "web-1", Type: api.TypeSSH, CreatedAt: at}})
	})
	srv := clienttest.NewServer(t, mux)
	e.env["ONEPAM_CONTROL"] = srv.URL
	e.env["ONEPAM_CA_PIN"] = srv.CAPin
	return e
}

func TestSSHCommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the output, in order
	}{
		{"replay prints the text when not on a terminal", []string{"sessions", "replay", sshSessionID}, []string{"$ ls\n", "docs  notes.txt\n"}},
		{"replay --input", []string{"sessions", "replay", sshSessionID, "--input"}, []string{"1s", "ls\n"}},
		{"replay -o json", []string{"sessions", "replay", sshSessionID, "-o", "json"}, []string{`[0.01,"o","$ "]`, `[1,"i","ls\r"]`, `[2,"r","100x30"]`}},
		{"files", []string{"sessions", "files", sshSessionID}, []string{"OP", "upload", "/tmp/a.txt", "1234", "rename", "/tmp/a.txt -> /tmp/b.txt"}},
		{"files --op", []string{"sessions", "files", sshSessionID, "--op", "upload", "-o", "json"}, []string{`"op": "upload"`, `"bytes": 1234`}},
		{"show lists file activity", []string{"sessions", "show", sshSessionID}, []string{"Timeline", "File activity", "upload"}},
		{"search", []string{"sessions", "search", "notes", "--type", "ssh"}, []string{"SESSION", "TIME", sshSessionID, "1.1s", "alice", "web-1", "docs  notes.txt"}},
		{"watch", []string{"sessions", "watch", sshSessionID}, []string{"$ ls\r\n", "notes.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSSHTestEnv(t)
			if code := e.run(t, tt.args...); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			out := strings.ReplaceAll(e.out.String(), "\x1b[0m", "")
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestSSHShowJSON(t *testing.T) {
	e := newSSHTestEnv(t)
	if code := e.run(t, "sessions", "show", sshSessionID, "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	var got struct {
		api.Session
		Files []api.FileEvent `json:"files"`
	}
	if err := json.Unmarshal(e.out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != sshSessionID || len(got.Files) != 2 || got.Files[1].Path2 != "/tmp/b.txt" {
		t.Fatalf("show -o json: %+v", got)
	}
}

func TestSSHCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown file op", []string{"sessions", "files", sshSessionID, "--op", "chmod"}, `--op "chmod"`},
		{"search limit", []string{"sessions", "search", "x", "--limit", "0"}, "--limit"},
		{"watch of a tcp session", []string{"sessions", "watch", "0197a000-0000-7000-8000-000000000004"}, "watch shows terminal (ssh) sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			if code := e.run(t, tt.args...); code == 0 {
				t.Fatalf("exit 0: %s", e.out)
			}
			mustContain(t, e.errOut.String(), tt.msg)
		})
	}
}

func TestReadKeys(t *testing.T) {
	keys := make(chan key, 16)
	readKeys(strings.NewReader(" +-\x1b[C\x1b[Dxq\x1bOC"), keys)
	var got []key
	for k := range keys {
		got = append(got, k)
	}
	want := []key{keyPause, keyFaster, keySlower, keyForward, keyBack, keyQuit, keyForward}
	if len(got) != len(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("keys %v, want %v", got, want)
		}
	}
}
