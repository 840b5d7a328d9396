package cli

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client/clienttest"
	"github.com/onepam/onepam/recordfmt/deskproto"
	"github.com/onepam/onepam/recordfmt/har"
	"github.com/onepam/onepam/recordfmt/querylog"
)

const (
	dbSessionID   = "0197b000-0000-7000-8000-00000000000d"
	httpSessionID = "0197b000-0000-7000-8000-00000000000e"
	vncSessionID  = "0197b000-0000-7000-8000-00000000000f"
)

// recordedEnv is a fake control serving one session of each format with
// a recording written by the format's own encoder.
func recordedEnv(t *testing.T) *testEnv {
	t.Helper()
	recs := map[string][]byte{
		dbSessionID:   querylogFixture(t),
		httpSessionID: harFixture(t),
		vncSessionID:  deskprotoFixture(t),
	}
	at := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
	ss := []api.Session{
		{ID: dbSessionID, User: "alice", Type: api.TypeDB, Status: api.StatusCompleted, Resource: "pg", CreatedAt: at,
			Recording: api.Recording{Format: api.FormatQuerylog, State: api.RecordingComplete, Size: int64(len(recs[dbSessionID])), Available: true}},
		{ID: httpSessionID, User: "alice", Type: api.TypeHTTP, Status: api.StatusCompleted, Resource: "web", CreatedAt: at,
			Recording: api.Recording{Format: api.FormatHAR, State: api.RecordingComplete, Size: int64(len(recs[httpSessionID])), Available: true}},
		{ID: vncSessionID, User: "alice", Type: api.TypeVNC, Status: api.StatusCompleted, Resource: "desk", CreatedAt: at,
			Recording: api.Recording{Format: api.FormatDeskproto, State: api.RecordingComplete, Size: int64(len(recs[vncSessionID])), Available: true}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range ss {
			if s.ID == r.PathValue("id") {
				writeJSON(w, 200, s)
				return
			}
		}
		writeErr(w, api.CodeNotFound, "no session")
	})
	mux.HandleFunc("GET /v1/sessions/{id}/recording", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(recs[r.PathValue("id")])
	})
	srv := clienttest.NewServer(t, mux)
	ios, _, out, errOut := iostreams.Test()
	return &testEnv{srv: srv, ios: ios, out: out, errOut: errOut, env: map[string]string{
		"ONEPAM_CONFIG":  filepath.Join(t.TempDir(), "config.yaml"),
		"ONEPAM_CONTROL": srv.URL,
		"ONEPAM_TOKEN":   "opt_admin",
		"ONEPAM_CA_PIN":  srv.CAPin,
	}}
}

func querylogFixture(t *testing.T) []byte {
	var b bytes.Buffer
	enc := querylog.NewEncoder(&b)
	for _, e := range []querylog.Entry{
		{T: 0.01, Conn: 1, Database: "orders", User: "app", Kind: querylog.KindQuery, Statement: "select 1", Duration: 0.0004, Rows: 1, Tag: "SELECT 1"},
		{T: 0.02, Conn: 1, Database: "orders", User: "app", Kind: querylog.KindPrepare, Statement: "insert into t values ($1, $2)", Rows: -1},
		{T: 0.03, Conn: 1, Database: "orders", User: "app", Kind: querylog.KindExecute, Statement: "insert into t values ($1, $2)",
			Params: []any{int64(42), "it's\nmultiline " + strings.Repeat("x", 80)}, Duration: 0.002, Rows: 1},
		{T: 1.5, Conn: 2, Database: "orders", User: "app", Kind: querylog.KindQuery, Statement: "selec 1", Rows: -1, ErrorCode: "42601", Error: `syntax error at or near "selec"`},
	} {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("{not json\n")
	return b.Bytes()
}

func harFixture(t *testing.T) []byte {
	var b bytes.Buffer
	enc, err := har.NewEncoder(&b, har.Header{Creator: har.Creator{Name: "onepam", Version: "test"}, Started: "2025-06-01T11:00:00.000Z"}, har.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range []string{"http://app.test/", "http://app.test/api/items?page=2"} {
		e := &har.Entry{StartedDateTime: "2025-06-01T11:00:01.000Z", Time: 12.5, Conn: 1, T: float64(i + 1),
			Request:  har.Request{Method: "GET", URL: u, HTTPVersion: "HTTP/1.1", Headers: []har.NameValue{{Name: "Authorization", Value: "Bearer secret"}}, HeadersSize: -1, BodySize: 0},
			Response: har.Response{Status: 200, StatusText: "OK", HTTPVersion: "HTTP/1.1", Content: har.Content{Size: 2048, MimeType: "text/html"}, HeadersSize: -1, BodySize: 2048},
			Timings:  har.Timings{Send: 0.5, Wait: 10, Receive: 2},
		}
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func deskprotoFixture(t *testing.T) []byte {
	var b bytes.Buffer
	enc, err := deskproto.NewEncoder(&b, deskproto.Header{Width: 64, Height: 48}, deskproto.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []error{
		enc.Fill(0, image.Rect(0, 0, 64, 48), color.RGBA{0, 0, 255, 255}),
		enc.Fill(2*time.Second, image.Rect(0, 0, 32, 48), color.RGBA{255, 0, 0, 255}),
		enc.Key(2500*time.Millisecond, true, 'a', 0),
		enc.Key(2600*time.Millisecond, false, 'a', 0),
		enc.Pointer(2700*time.Millisecond, 3, 4, 1),
		enc.Close(3 * time.Second),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestReplayQuerylog(t *testing.T) {
	e := recordedEnv(t)
	code := e.run(t, "sessions", "replay", dbSessionID)
	if code != cmdutil.ExitError {
		t.Fatalf("exit %d, want %d for the damaged last line\n%s", code, cmdutil.ExitError, e.errOut)
	}
	mustContain(t, e.out.String(), "TIME", "STATEMENT", "PARAMS", "select 1", `[42,"it's\nmultiline xxx`, "42601 syntax error", "0.40ms", "orders")
	mustContain(t, e.errOut.String(), "damaged after 4 entries")

	code = e.run(t, "sessions", "replay", dbSessionID, "-o", "json", "--grep", "^insert")
	if code != cmdutil.ExitError {
		t.Fatalf("exit %d", code)
	}
	var got []querylog.Entry
	if err := json.Unmarshal(e.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, e.out)
	}
	if len(got) != 2 || got[1].Kind != querylog.KindExecute || got[1].Params[0] != float64(42) || !strings.Contains(got[1].Params[1].(string), "\n") {
		t.Fatalf("--grep ^insert -o json: %+v", got)
	}

	e.ios.SetStdoutTTY(true)
	e.run(t, "sessions", "replay", dbSessionID, "--grep", "insert")
	if strings.Contains(e.out.String(), strings.Repeat("x", 80)) || !strings.Contains(e.out.String(), "…") {
		t.Fatalf("terminal output not truncated:\n%s", e.out)
	}
	if code := e.run(t, "sessions", "replay", dbSessionID, "--grep", "("); code != cmdutil.ExitUsage {
		t.Fatalf("bad --grep: exit %d", code)
	}
}

func TestSessionsShowQuerylogCounts(t *testing.T) {
	e := recordedEnv(t)
	e.run(t, "sessions", "show", dbSessionID)
	out := e.out.String()
	i := strings.Index(out, "Statements")
	if i < 0 {
		t.Fatalf("no Statements section:\n%s", out)
	}
	fields := strings.Fields(out[i:])
	want := []string{"Statements", "Statements", "3", "Errors", "1", "Rows", "2", "Damaged"}
	for j, w := range want {
		if j >= len(fields) || fields[j] != w {
			t.Fatalf("Statements section %q, want %q", fields, want)
		}
	}
}

func TestReplayHAR(t *testing.T) {
	e := recordedEnv(t)
	if code := e.run(t, "sessions", "replay", httpSessionID, "--grep", "api"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	mustContain(t, e.out.String(), "METHOD", "http://app.test/api/items?page=2", "200", "2.0 KiB", "12.5ms")
	if strings.Contains(e.out.String(), "http://app.test/\n") {
		t.Fatalf("--grep kept another request:\n%s", e.out)
	}
	if code := e.run(t, "sessions", "replay", httpSessionID, "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	var doc har.Document
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil {
		t.Fatalf("-o json is not a HAR document: %v\n%s", err, e.out)
	}
	if doc.Log.Version != "1.2" || len(doc.Log.Entries) != 2 {
		t.Fatalf("HAR: %+v", doc.Log)
	}
	if strings.Contains(e.out.String(), "Bearer secret") {
		t.Fatal("the HAR shows the Authorization header")
	}
}

func TestReplayDeskprotoAndFrames(t *testing.T) {
	e := recordedEnv(t)
	if code := e.run(t, "sessions", "replay", vncSessionID); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	mustContain(t, e.out.String(), "64×48", "2 screen updates", "2 key events, 1 pointer events", "onepam sessions frames "+vncSessionID)
	if code := e.run(t, "sessions", "replay", vncSessionID, "-o", "json"); code != 0 {
		t.Fatal(e.errOut)
	}
	var sum DesktopSummary
	if err := json.Unmarshal(e.out.Bytes(), &sum); err != nil || !sum.Complete || sum.Duration != 3 || sum.Keys != 2 {
		t.Fatalf("summary %+v %v", sum, err)
	}

	dir := t.TempDir()
	if code := e.run(t, "sessions", "frames", vncSessionID, dir, "--at", "2s"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	img := readPNG(t, strings.TrimSpace(e.out.String()))
	if r, g, b, _ := img.At(10, 10).RGBA(); r>>8 != 255 || g != 0 || b != 0 {
		t.Fatalf("left half at 2s is %v, want red", img.At(10, 10))
	}
	if _, _, b, _ := img.At(50, 10).RGBA(); b>>8 != 255 {
		t.Fatalf("right half at 2s is %v, want blue", img.At(50, 10))
	}
	if code := e.run(t, "sessions", "frames", vncSessionID, dir, "--every", "1s"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	if paths := strings.Fields(e.out.String()); len(paths) != 4 {
		t.Fatalf("--every 1s over 3s wrote %d frames: %v", len(paths), paths)
	}
	if code := e.run(t, "sessions", "frames", dbSessionID, dir); code != cmdutil.ExitError {
		t.Fatalf("frames of a db session: exit %d", code)
	}
	mustContain(t, e.errOut.String(), "only for desktop sessions")
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
