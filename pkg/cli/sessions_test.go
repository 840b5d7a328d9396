package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
)

func TestSessionsListGolden(t *testing.T) {
	runGolden(t, []goldenCase{
		{"table", []string{"sessions", "ls"}, "sessions_ls.table.golden"},
		{"json", []string{"sessions", "ls", "-o", "json"}, "sessions_ls.json.golden"},
		{"show", []string{"sessions", "show", "0197a000-0000-7000-8000-000000000003"}, "sessions_show.golden"},
		{"show json", []string{"sessions", "show", "0197a000-0000-7000-8000-000000000003", "-o", "json"}, "sessions_show.json.golden"},
		{"replay", []string{"sessions", "replay", "0197a000-0000-7000-8000-000000000003"}, "sessions_replay.golden"},
		{"replay json", []string{"sessions", "replay", "0197a000-0000-7000-8000-000000000003", "-o", "json"}, "sessions_replay.json.golden"},
	})
}

func TestSessionsListJSONShape(t *testing.T) {
	e := newTestEnv(t)
	if code := e.run(t, "sessions", "ls", "-o", "json"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	var arr []map[string]any
	if err := json.Unmarshal(e.out.Bytes(), &arr); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	if len(arr) != 4 || arr[0]["id"] != "0197a000-0000-7000-8000-000000000004" {
		t.Fatalf("want 4 sessions newest first, got %d", len(arr))
	}
	for _, k := range []string{"id", "user", "type", "status", "resource", "agent", "login", "client_ip", "created_at", "started_at", "ended_at", "duration_seconds", "bytes_up", "bytes_down", "error", "terminated_by", "recording", "timeline"} {
		if _, ok := arr[0][k]; !ok {
			t.Errorf("field %q missing", k)
		}
	}
}

func TestSessionsListTTY(t *testing.T) {
	e := newTestEnv(t)
	e.ios.SetStdoutTTY(true)
	e.ios.SetColorEnabled(true)
	if code := e.run(t, "sessions", "ls"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	mustContain(t, e.out.String(), "\x1b[1;32m● active\x1b[0m", "1h02m01s")
	e.ios.SetColorEnabled(false) // NO_COLOR on a terminal: marked, not coloured
	e.run(t, "sessions", "ls")
	if strings.Contains(e.out.String(), "\x1b[") || !strings.Contains(e.out.String(), "● active") {
		t.Fatalf("output:\n%s", e.out)
	}
}

func TestSessionsListFilters(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		query string
	}{
		{"repeat and comma", []string{"--status", "active", "--status", "pending,failed", "--type", "tcp,ssh"}, "limit=50&status=active%2Cpending%2Cfailed&type=tcp%2Cssh"},
		{"user resource", []string{"--user", "bob", "--resource", "pg"}, "limit=50&resource=pg&user=bob"},
		{"since until", []string{"--since", "1h", "--until", "2025-06-01T11:30:00Z"}, "limit=50&since=2025-06-01T11%3A00%3A00Z&until=2025-06-01T11%3A30%3A00Z"},
		{"limit cursor", []string{"--limit", "10", "--cursor", "abc"}, "cursor=abc&limit=10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			if code := e.run(t, append([]string{"sessions", "ls"}, tc.args...)...); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			if got := e.fc.queries[len(e.fc.queries)-1]; got != tc.query {
				t.Fatalf("query %s\nwant  %s", got, tc.query)
			}
		})
	}
}

func TestSessionsListCursorHint(t *testing.T) {
	e := newTestEnv(t)
	if code := e.run(t, "sessions", "ls", "--limit", "2", "--status", "active,terminated"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	want := "more sessions: onepam sessions ls --limit 2 --status active,terminated --cursor c2\n"
	if e.errOut.String() != want {
		t.Fatalf("hint %q\nwant %q", e.errOut.String(), want)
	}
	e.run(t, "sessions", "ls", "--limit", "2", "-o", "json")
	if e.errOut.Len() != 0 {
		t.Fatalf("JSON mode printed a hint: %q", e.errOut)
	}
}

func TestSessionsKill(t *testing.T) {
	e := newTestEnv(t)
	id := "0197a000-0000-7000-8000-000000000004"
	if code := e.run(t, "sessions", "kill", id, "--reason", "not approved"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	if e.out.String() != "session "+id+" terminated\n" || e.fc.killed[id] != "not approved" {
		t.Fatalf("out %q, killed %v", e.out, e.fc.killed)
	}
	e.env["ONEPAM_TOKEN"] = "opt_auditor"
	if code := e.run(t, "sessions", "kill", id); code != cmdutil.ExitDenied {
		t.Fatalf("auditor kill: exit %d, want %d (%s)", code, cmdutil.ExitDenied, e.errOut)
	}
	mustContain(t, e.errOut.String(), "denied: auditors may not change anything")
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"ok", nil, []string{"whoami"}, cmdutil.ExitOK, ""},
		{"unknown flag", nil, []string{"sessions", "ls", "--bogus"}, cmdutil.ExitUsage, "unknown flag: --bogus"},
		{"unknown command", nil, []string{"sessions", "frobnicate"}, cmdutil.ExitUsage, `unknown command "frobnicate"`},
		{"bad status", nil, []string{"sessions", "ls", "--status", "running"}, cmdutil.ExitUsage, `unknown session status "running"`},
		{"missing arg", nil, []string{"sessions", "show"}, cmdutil.ExitUsage, "want the session's ID"},
		{"not logged in", map[string]string{"ONEPAM_TOKEN": "", "ONEPAM_CONTROL": ""}, []string{"sessions", "ls"}, cmdutil.ExitAuth, "not logged in: run onepam login --control URL --token TOKEN"},
		{"bad token", map[string]string{"ONEPAM_TOKEN": "opt_nope"}, []string{"whoami"}, cmdutil.ExitAuth, "not authenticated: unknown token"},
		{"not found", nil, []string{"sessions", "show", "nope"}, cmdutil.ExitNotFound, "no session nope"},
		{"unreachable", map[string]string{"ONEPAM_CONTROL": "https://127.0.0.1:1"}, []string{"whoami"}, cmdutil.ExitUnreachable, "cannot reach control at https://127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			for k, v := range tc.env {
				e.env[k] = v
			}
			if tc.name == "unreachable" {
				e.env["ONEPAM_TOKEN"], e.env["ONEPAM_CA_PIN"] = "opt_admin", e.srv.CAPin
			}
			code := e.run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, e.errOut)
			}
			if !strings.Contains(e.errOut.String(), tc.msg) {
				t.Fatalf("stderr %q lacks %q", e.errOut, tc.msg)
			}
		})
	}
}

func TestStatusMarks(t *testing.T) {
	e := newTestEnv(t)
	for _, s := range api.SessionStatuses {
		if got := formatStatus(e.ios, s); got != string(s) {
			t.Errorf("non-TTY %s rendered %q", s, got)
		}
	}
}
