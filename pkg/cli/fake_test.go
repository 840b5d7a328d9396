package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client/clienttest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// testNow is the fixed clock of command tests.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func tp(t time.Time) *time.Time { return &t }

// fixtureSessions are what the fake control lists, newest first.
func fixtureSessions() []api.Session {
	at := func(h, m, s int) time.Time { return time.Date(2025, 6, 1, h, m, s, 0, time.UTC) }
	return []api.Session{
		{
			ID: "0197a000-0000-7000-8000-000000000004", User: "alice", Type: api.TypeTCP, Status: api.StatusActive,
			Resource: "echo", Agent: "dev-agent", ClientIP: "127.0.0.1", CreatedAt: at(10, 57, 58), StartedAt: tp(at(10, 57, 59)),
			DurationSeconds: 3721, BytesUp: 1 << 20, BytesDown: 1 << 19,
			Recording: api.Recording{Format: api.FormatConnlog, State: api.RecordingRecording, Size: 420, Available: true},
			Timeline: []api.TimelineEvent{
				{Time: at(10, 57, 58), Event: api.EventCreated, Status: api.StatusPending, Actor: "alice"},
				{Time: at(10, 57, 59), Event: api.EventStarted, Status: api.StatusActive},
			},
		},
		{
			ID: "0197a000-0000-7000-8000-000000000003", User: "bob", Type: api.TypeTCP, Status: api.StatusTerminated,
			Resource: "pg", Agent: "db-agent", NodeID: "0197a000-0000-7000-8000-0000000000c1", ClientIP: "10.0.0.7", CreatedAt: at(9, 0, 0), StartedAt: tp(at(9, 0, 1)), EndedAt: tp(at(9, 2, 6)),
			DurationSeconds: 125, BytesUp: 2048, BytesDown: 100, TerminatedBy: "alice", TerminateReason: "not approved",
			Recording: api.Recording{Format: api.FormatConnlog, State: api.RecordingComplete, Size: 300, Available: true},
			Timeline: []api.TimelineEvent{
				{Time: at(9, 0, 0), Event: api.EventCreated, Status: api.StatusPending, Actor: "bob"},
				{Time: at(9, 0, 1), Event: api.EventStarted, Status: api.StatusActive},
				{Time: at(9, 2, 6), Event: api.EventTerminated, Status: api.StatusTerminated, Actor: "alice", Detail: "not approved"},
			},
		},
		{
			ID: "0197a000-0000-7000-8000-000000000002", User: "bob", Type: api.TypeTCP, Status: api.StatusFailed,
			Resource: "closed", Agent: "dev-agent", ClientIP: "10.0.0.7", CreatedAt: at(8, 30, 0), EndedAt: tp(at(8, 30, 0)),
			Error:     "dial tcp 127.0.0.1:1: connect: connection refused",
			Recording: api.Recording{Format: api.FormatConnlog, State: api.RecordingNone},
			Timeline: []api.TimelineEvent{
				{Time: at(8, 30, 0), Event: api.EventCreated, Status: api.StatusPending, Actor: "bob"},
				{Time: at(8, 30, 0), Event: api.EventFailed, Status: api.StatusFailed, Detail: "dial tcp 127.0.0.1:1: connect: connection refused"},
			},
		},
		{
			ID: "0197a000-0000-7000-8000-000000000001", User: "alice", Type: api.TypeSSH, Status: api.StatusCompleted,
			Resource: "web-1", Agent: "web-agent", Login: "root", ClientIP: "192.168.1.20", CreatedAt: at(7, 0, 0), StartedAt: tp(at(7, 0, 0)), EndedAt: tp(at(7, 45, 30)),
			DurationSeconds: 2730, BytesUp: 15000, BytesDown: 3 << 30,
			Recording: api.Recording{Format: api.FormatAsciicast, State: api.RecordingComplete, Size: 1 << 20, Available: true},
		},
	}
}

// fixtureConnlog is the recording of the terminated session.
const fixtureConnlog = `{"t":0.012,"event":"open","conn":1,"peer":"10.0.0.7:50412","target":"127.0.0.1:5432","bytes_up":0,"bytes_down":0}
{"t":1.5,"event":"close","conn":1,"peer":"10.0.0.7:50412","target":"127.0.0.1:5432","bytes_up":2048,"bytes_down":100,"duration":1.488}
{"t":2,"event":"error","conn":2,"peer":"10.0.0.7:50413","target":"127.0.0.1:5432","bytes_up":0,"bytes_down":0,"error":"connection refused"}
`

// fakeControl serves the routes the command tests need.
type fakeControl struct {
	mu        sync.Mutex
	queries   []string // raw queries of GET /v1/sessions
	sessions  []api.Session
	killed    map[string]string // id → reason
	agents    []api.Agent
	resources []api.Resource
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code api.ErrorCode, msg string) {
	writeJSON(w, code.HTTPStatus(), api.ErrorBody{Error: &api.Error{Code: code, Message: msg}})
}

func (fc *fakeControl) handler() http.Handler {
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch r.Header.Get("Authorization") {
			case "Bearer opt_admin":
				h(w, r)
			case "Bearer opt_auditor":
				if r.Method != http.MethodGet {
					writeErr(w, api.CodeForbidden, "auditors may not change anything")
					return
				}
				h(w, r)
			default:
				writeErr(w, api.CodeUnauthenticated, "unknown token")
			}
		}
	}
	mux.HandleFunc("GET /v1/whoami", auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.Whoami{User: "alice", Role: api.RoleAdmin, TokenID: "tok1"})
	}))
	mux.HandleFunc("GET /v1/sessions", auth(func(w http.ResponseWriter, r *http.Request) {
		fc.mu.Lock()
		fc.queries = append(fc.queries, r.URL.RawQuery)
		fc.mu.Unlock()
		list := api.SessionList{Sessions: fc.sessions}
		if r.URL.Query().Get("limit") == "2" {
			list = api.SessionList{Sessions: fc.sessions[:2], NextCursor: "c2"}
		}
		writeJSON(w, 200, list)
	}))
	mux.HandleFunc("GET /v1/sessions/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		for _, s := range fc.sessions {
			if s.ID == r.PathValue("id") {
				writeJSON(w, 200, s)
				return
			}
		}
		writeErr(w, api.CodeNotFound, "no session "+r.PathValue("id"))
	}))
	mux.HandleFunc("POST /v1/sessions/{id}/kill", auth(func(w http.ResponseWriter, r *http.Request) {
		var req api.KillSessionRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		for _, s := range fc.sessions {
			if s.ID == r.PathValue("id") {
				fc.mu.Lock()
				fc.killed[s.ID] = req.Reason
				fc.mu.Unlock()
				s.Status = api.StatusTerminated
				writeJSON(w, 200, s)
				return
			}
		}
		writeErr(w, api.CodeNotFound, "no session "+r.PathValue("id"))
	}))
	mux.HandleFunc("GET /v1/agents", auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, fc.agents)
	}))
	mux.HandleFunc("GET /v1/resources", auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, fc.resources)
	}))
	mux.HandleFunc("GET /v1/sessions/{id}/recording", auth(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(fixtureConnlog))
	}))
	return mux
}

type testEnv struct {
	fc     *fakeControl
	srv    *clienttest.Server
	env    map[string]string
	ios    *iostreams.IOStreams
	out    *bytes.Buffer
	errOut *bytes.Buffer
}

// newTestEnv starts a fake control and a factory logged in to it as admin
// through the environment.
func newTestEnv(t *testing.T) *testEnv {
	fc := &fakeControl{sessions: fixtureSessions(), killed: map[string]string{}, agents: fixtureAgents(), resources: fixtureResources()}
	srv := clienttest.NewServer(t, fc.handler())
	ios, _, out, errOut := iostreams.Test()
	return &testEnv{
		fc:  fc,
		srv: srv,
		env: map[string]string{
			"ONEPAM_CONFIG":  filepath.Join(t.TempDir(), "config.yaml"),
			"ONEPAM_CONTROL": srv.URL,
			"ONEPAM_TOKEN":   "opt_admin",
			"ONEPAM_CA_PIN":  srv.CAPin,
		},
		ios: ios, out: out, errOut: errOut,
	}
}

func (e *testEnv) factory() *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: e.ios,
		Getenv:    func(k string) string { return e.env[k] },
		Now:       func() time.Time { return testNow },
		Location:  time.UTC,
		Version:   "test",
	}
}

// run runs onepam with args and returns the exit code.
func (e *testEnv) run(t *testing.T, args ...string) int {
	t.Helper()
	e.out.Reset()
	e.errOut.Reset()
	return Run(context.Background(), e.factory(), args)
}

// goldenCase is a command line whose standard output is testdata/golden.
type goldenCase struct {
	name   string
	args   []string
	golden string
}

// runGolden runs each case on a fresh test environment: exit 0, and the
// output equal to its golden file.
func runGolden(t *testing.T, cases []goldenCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if code := e.run(t, tc.args...); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			golden(t, tc.golden, e.out.String())
		})
	}
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func mustContain(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("output lacks %q:\n%s", w, got)
		}
	}
}
