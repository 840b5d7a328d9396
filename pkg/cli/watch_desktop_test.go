package cli

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client/clienttest"
)

// watchEnv is a fake control with one active desktop session whose watch
// stream is the deskproto fixture; the session completes once watched.
func watchEnv(t *testing.T) (*testEnv, *atomic.Value) {
	t.Helper()
	rec := deskprotoFixture(t)
	var query atomic.Value
	query.Store("")
	var watched atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		s := api.Session{ID: vncSessionID, User: "alice", Type: api.TypeVNC, Status: api.StatusActive, Resource: "desk", CreatedAt: time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC),
			Recording: api.Recording{Format: api.FormatDeskproto, State: api.RecordingRecording}}
		if watched.Load() {
			s.Status = api.StatusCompleted
		}
		writeJSON(w, 200, s)
	})
	mux.HandleFunc("GET /v1/sessions/{id}/watch", func(w http.ResponseWriter, r *http.Request) {
		query.Store(r.URL.RawQuery)
		w.Header().Set("X-Onepam-Recording-Format", string(api.FormatDeskproto))
		_, _ = w.Write(rec)
		watched.Store(true)
	})
	srv := clienttest.NewServer(t, mux)
	ios, _, out, errOut := iostreams.Test()
	return &testEnv{srv: srv, ios: ios, out: out, errOut: errOut, env: map[string]string{
		"ONEPAM_CONFIG":  filepath.Join(t.TempDir(), "config.yaml"),
		"ONEPAM_CONTROL": srv.URL,
		"ONEPAM_TOKEN":   "opt_admin",
		"ONEPAM_CA_PIN":  srv.CAPin,
	}}, &query
}

func TestWatchDesktop(t *testing.T) {
	t.Run("terminal: live preview to the end", func(t *testing.T) {
		e, query := watchEnv(t)
		e.ios.SetStdoutTTY(true)
		if code := e.run(t, "sessions", "watch", vncSessionID, "--live"); code != 0 {
			t.Fatalf("exit %d: %s", code, e.errOut)
		}
		if q := query.Load().(string); strings.Contains(q, "live=1") {
			t.Fatalf("desktop watch asked for %q; control serves desktops from the start", q)
		}
		got := e.out.String()
		if !strings.HasPrefix(got, previewEnter) || !strings.HasSuffix(got, previewLeave) {
			t.Fatalf("the terminal is not entered and restored:\n%q", got)
		}
		// The last screen: the left half red, the right half blue.
		mustContain(t, got, "\x1b[38;2;255;0;0m\x1b[48;2;255;0;0m▀", "\x1b[38;2;0;0;255m\x1b[48;2;0;0;255m▀", "watching session "+vncSessionID)
		mustContain(t, e.errOut.String(), "session ended: completed")
	})
	t.Run("not a terminal", func(t *testing.T) {
		e, _ := watchEnv(t)
		if code := e.run(t, "sessions", "watch", vncSessionID); code == 0 {
			t.Fatal("watch of a desktop without a terminal succeeded")
		}
		mustContain(t, e.errOut.String(), "needs a terminal", "sessions snapshot "+vncSessionID)
	})
}
