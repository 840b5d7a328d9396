package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/agentgw"
	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/metrics"
	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

type testAPI struct {
	t      *testing.T
	srv    *httptest.Server
	store  *sqlite.Store
	tokens map[string]string // user → secret
	pin    string
	recs   *recordings.Dir
}

func newTestAPI(t *testing.T) *testAPI { return newTestAPIWith(t, false) }

// newTestAPIWith is newTestAPI, with recording=true also with the
// recording routes' whole setup: the storage router, the recording Admin
// (settings) and the live hub. Each tweak edits the handler's Config
// before New.
func newTestAPIWith(t *testing.T, recording bool, tweaks ...func(*controlapi.Config)) *testAPI {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca, cert, err := pki.LoadOrCreate(filepath.Join(dir, "pki"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := recordings.NewDir(filepath.Join(dir, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	var blobs recordings.Store = recs
	var live *recordings.Hub
	cfg := controlapi.Config{}
	if recording {
		router, err := recordings.NewRouter(ctx, recs, st, api.RecordingStorage{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		admin, err := recordings.NewAdmin(recordings.AdminConfig{Store: st, Router: router})
		if err != nil {
			t.Fatal(err)
		}
		live = recordings.NewHub(0)
		blobs, cfg = router, controlapi.Config{RecordingAdmin: admin, Live: live}
	}
	gw, err := agentgw.New(agentgw.Config{Store: st, CA: ca, ServerCert: cert, Recordings: blobs, Live: live})
	if err != nil {
		t.Fatal(err)
	}
	m, err := sessions.New(sessions.Config{Store: st, Gateway: gw})
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, nil, nil)
	cfg.Store, cfg.Tokens, cfg.Sessions, cfg.Gateway, cfg.Recordings = st, tokens, m, gw, blobs
	cfg.Metrics, cfg.CAPin = metrics.New(nil), ca.Pin()
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	h, err := controlapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAPI{t: t, srv: httptest.NewServer(h), store: st, tokens: map[string]string{}, pin: ca.Pin(), recs: recs}
	t.Cleanup(ta.srv.Close)
	for _, u := range []api.User{{Name: "alice", Role: api.RoleAdmin}, {Name: "bob", Role: api.RoleUser}, {Name: "carol", Role: api.RoleAuditor}} {
		u.CreatedAt = time.Now().UTC()
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, err := tokens.Create(ctx, u.Name, time.Hour, "test")
		if err != nil {
			t.Fatal(err)
		}
		ta.tokens[u.Name] = tok.Secret
	}
	return ta
}

// call makes a request as user ("" = no token) and returns status and body.
func (ta *testAPI) call(user, method, path string, body any) (int, []byte) {
	ta.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ta.srv.URL+path, rd)
	if err != nil {
		ta.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+ta.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ta.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// errorOf decodes an error body, failing when it is not one.
func errorOf(t *testing.T, body []byte) api.Error {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error == nil {
		t.Fatalf("not an error body: %s", body)
	}
	return *eb.Error
}

func TestErrors(t *testing.T) {
	ta := newTestAPI(t)
	tests := []struct {
		name, user, method, path string
		body                     any
		status                   int
		code                     api.ErrorCode
		contains                 string
	}{
		{"no token", "", "GET", "/v1/whoami", nil, 401, api.CodeUnauthenticated, "not logged in"},
		{"unknown route", "alice", "GET", "/v1/nope", nil, 404, api.CodeNotFound, "no API route"},
		{"unknown field", "alice", "POST", "/v1/users", `{"nme":"x"}`, 400, api.CodeInvalid, `unknown field "nme"`},
		{"malformed json", "alice", "POST", "/v1/users", `{"name":`, 400, api.CodeInvalid, "request body"},
		{"empty body", "alice", "POST", "/v1/users", ``, 400, api.CodeInvalid, "empty request body"},
		{"trailing data", "alice", "POST", "/v1/users", `{"name":"x"} {}`, 400, api.CodeInvalid, "trailing data"},
		{"wrong type", "alice", "POST", "/v1/users", `{"name":7}`, 400, api.CodeInvalid, `field "name"`},
		{"huge body", "alice", "POST", "/v1/users", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 400, api.CodeInvalid, "larger than"},
		{"bad user name", "alice", "POST", "/v1/users", `{"name":"a b"}`, 400, api.CodeInvalid, "bad user name"},
		{"bad role", "alice", "POST", "/v1/users", `{"name":"dave","role":"root"}`, 400, api.CodeInvalid, "unknown role"},
		{"duplicate user", "alice", "POST", "/v1/users", `{"name":"bob"}`, 409, api.CodeConflict, `user "bob" already exists`},
		{"user may not create users", "bob", "POST", "/v1/users", `{"name":"eve"}`, 403, api.CodeForbidden, "users.create"},
		{"auditor may not list users", "carol", "GET", "/v1/users", nil, 403, api.CodeForbidden, "users.list"},
		{"delete self", "alice", "DELETE", "/v1/users/alice", nil, 409, api.CodeConflict, "cannot remove yourself"},
		{"delete unknown", "alice", "DELETE", "/v1/users/zed", nil, 404, api.CodeNotFound, `user "zed" not found`},
		{"limit zero", "alice", "GET", "/v1/sessions?limit=0", nil, 400, api.CodeInvalid, `limit="0": want a number from 1 to 1000`},
		{"limit word", "alice", "GET", "/v1/sessions?limit=ten", nil, 400, api.CodeInvalid, `limit="ten"`},
		{"limit too big", "alice", "GET", "/v1/sessions?limit=1001", nil, 400, api.CodeInvalid, "from 1 to 1000"},
		{"bad status", "alice", "GET", "/v1/sessions?status=active,running", nil, 400, api.CodeInvalid, `unknown session status "running"`},
		{"bad type", "alice", "GET", "/v1/sessions?type=ftp", nil, 400, api.CodeInvalid, `unknown session type "ftp"`},
		{"bad since", "alice", "GET", "/v1/sessions?since=yesterday", nil, 400, api.CodeInvalid, "RFC 3339"},
		{"bad cursor", "alice", "GET", "/v1/sessions?cursor=garbage", nil, 400, api.CodeInvalid, `cursor="garbage"`},
		{"session not found", "alice", "GET", "/v1/sessions/" + store.NewID(), nil, 404, api.CodeNotFound, "not found"},
		{"session id malformed", "alice", "GET", "/v1/sessions/xyz", nil, 404, api.CodeNotFound, "not found"},
		{"kill by auditor", "carol", "POST", "/v1/sessions/" + store.NewID() + "/kill", `{"reason":"x"}`, 403, api.CodeForbidden, "sessions.kill"},
		{"kill unknown", "alice", "POST", "/v1/sessions/" + store.NewID() + "/kill", `{}`, 404, api.CodeNotFound, "not found"},
		{"kill unknown field", "alice", "POST", "/v1/sessions/" + store.NewID() + "/kill", `{"why":"x"}`, 400, api.CodeInvalid, `unknown field "why"`},
		{"create unknown resource", "alice", "POST", "/v1/sessions", `{"resource":"pg"}`, 404, api.CodeNotFound, `resource "pg" not found`},
		{"connect without upgrade", "alice", "GET", "/v1/sessions/" + store.NewID() + "/connect", nil, 400, api.CodeInvalid, "Connection: Upgrade"},
		{"bad policy subject", "alice", "POST", "/v1/policy", `{"subject":"bob"}`, 400, api.CodeInvalid, "role:<role> or user:<name>"},
		{"policy by user", "bob", "POST", "/v1/policy", `{"subject":"user:bob"}`, 403, api.CodeForbidden, "policy.change"},
		{"policy file bad rule", "alice", "PUT", "/v1/policy", `{"rules":[{"subject":"role:admin"},{"subject":"x"}]}`, 400, api.CodeInvalid, "rule 2"},
		{"delete unknown rule", "alice", "DELETE", "/v1/policy/" + store.NewID(), nil, 404, api.CodeNotFound, "policy rule"},
		{"audit by user", "bob", "GET", "/v1/audit", nil, 403, api.CodeForbidden, "audit.list"},
		{"audit bad limit", "alice", "GET", "/v1/audit?limit=-1", nil, 400, api.CodeInvalid, "limit"},
		{"token for other user", "bob", "POST", "/v1/tokens", `{"user":"alice"}`, 403, api.CodeForbidden, "tokens.create"},
		{"token for unknown user", "alice", "POST", "/v1/tokens", `{"user":"zed"}`, 404, api.CodeNotFound, `user "zed"`},
		{"list others' tokens", "bob", "GET", "/v1/tokens?user=alice", nil, 403, api.CodeForbidden, "tokens.list"},
		{"revoke unknown token", "alice", "DELETE", "/v1/tokens/" + store.NewID(), nil, 404, api.CodeNotFound, "token"},
		{"agents by user", "bob", "GET", "/v1/agents", nil, 403, api.CodeForbidden, "agents.list"},
		{"remove unknown agent", "alice", "DELETE", "/v1/agents/ghost", nil, 404, api.CodeNotFound, `agent "ghost" not found`},
		{"enroll ttl negative", "alice", "POST", "/v1/agents/tokens", `{"ttl_seconds":-5}`, 400, api.CodeInvalid, "ttl_seconds"},
		{"bad label", "bob", "GET", "/v1/resources?label=env", nil, 400, api.CodeInvalid, "key=value"},
		{"bad resource type", "bob", "GET", "/v1/resources?type=ftp", nil, 400, api.CodeInvalid, "unknown session type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ta.call(tc.user, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			e := errorOf(t, body)
			if e.Code != tc.code || !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("error %+v, want code %s containing %q", e, tc.code, tc.contains)
			}
		})
	}
}

func TestWhoamiHealthMetrics(t *testing.T) {
	ta := newTestAPI(t)
	status, body := ta.call("", "GET", "/healthz", nil)
	if status != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Fatalf("healthz %d %s", status, body)
	}
	status, body = ta.call("carol", "GET", "/v1/whoami", nil)
	var who api.Whoami
	if status != 200 || json.Unmarshal(body, &who) != nil || who.User != "carol" || who.Role != api.RoleAuditor || who.TokenID == "" {
		t.Fatalf("whoami %d %s", status, body)
	}
	status, body = ta.call("", "GET", "/metrics", nil)
	if status != 200 || !strings.Contains(string(body), `onepam_http_requests_total{code="200",route="GET /v1/whoami"} 1`) {
		t.Fatalf("metrics %d %s", status, body)
	}
}

func TestSessionList(t *testing.T) {
	ta := newTestAPI(t)
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour)
	var ids []string
	for i, u := range []string{"bob", "alice", "bob"} {
		s := api.Session{ID: store.IDAt(base.Add(time.Duration(i) * time.Minute)), User: u, Type: api.TypeTCP, Status: api.StatusPending,
			Resource: "echo", Agent: "a1", CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := ta.store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	if _, err := ta.store.Transition(ctx, ids[0], store.Transition{To: api.StatusFailed, At: base, Detail: "boom"}); err != nil {
		t.Fatal(err)
	}

	list := func(user, query string) api.SessionList {
		t.Helper()
		status, body := ta.call(user, "GET", "/v1/sessions"+query, nil)
		if status != 200 {
			t.Fatalf("list %s: %d %s", query, status, body)
		}
		var l api.SessionList
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if l.Sessions == nil {
			t.Fatalf("sessions is null in %s", body)
		}
		return l
	}
	if l := list("alice", ""); len(l.Sessions) != 3 || l.Sessions[0].ID != ids[2] {
		t.Fatalf("admin list %+v", l)
	}
	if l := list("carol", "?user=alice"); len(l.Sessions) != 1 || l.Sessions[0].User != "alice" {
		t.Fatalf("auditor filtered list %+v", l)
	}
	// A user sees only its own sessions, whatever the filter says.
	if l := list("bob", "?user=alice"); len(l.Sessions) != 2 || l.Sessions[0].User != "bob" || l.Sessions[1].User != "bob" {
		t.Fatalf("user list %+v", l)
	}
	if l := list("alice", "?status=failed&type=tcp,ssh"); len(l.Sessions) != 1 || l.Sessions[0].Error != "boom" {
		t.Fatalf("status filter %+v", l)
	}
	if l := list("alice", "?status=pending&status=active"); len(l.Sessions) != 2 {
		t.Fatalf("repeated status filter %+v", l)
	}
	p1 := list("alice", "?limit=2")
	if len(p1.Sessions) != 2 || p1.NextCursor == "" {
		t.Fatalf("first page %+v", p1)
	}
	p2 := list("alice", "?limit=2&cursor="+p1.NextCursor)
	if len(p2.Sessions) != 1 || p2.Sessions[0].ID != ids[0] || p2.NextCursor != "" {
		t.Fatalf("second page %+v", p2)
	}
	if l := list("alice", "?since="+base.Add(90*time.Second).Format(time.RFC3339)); len(l.Sessions) != 1 {
		t.Fatalf("since filter %+v", l)
	}

	// Show: own or with the role; the JSON carries every documented field.
	status, body := ta.call("bob", "GET", "/v1/sessions/"+ids[1], nil)
	if status != 403 {
		t.Fatalf("bob shows alice's session: %d %s", status, body)
	}
	status, body = ta.call("bob", "GET", "/v1/sessions/"+ids[0], nil)
	if status != 200 {
		t.Fatalf("show %d %s", status, body)
	}
	var fields map[string]any
	json.Unmarshal(body, &fields)
	for _, k := range []string{"id", "user", "type", "status", "resource", "agent", "login", "client_ip", "created_at", "started_at",
		"ended_at", "duration_seconds", "bytes_up", "bytes_down", "error", "terminated_by", "terminate_reason", "recording", "timeline"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("session JSON lacks %q: %s", k, body)
		}
	}

	// Kill: ended sessions are a conflict, pending ones end terminated.
	status, body = ta.call("alice", "POST", "/v1/sessions/"+ids[0]+"/kill", `{"reason":"x"}`)
	if status != 409 || errorOf(t, body).Code != api.CodeConflict {
		t.Fatalf("kill of a failed session %d %s", status, body)
	}
	status, body = ta.call("alice", "POST", "/v1/sessions/"+ids[2]+"/kill", `{"reason":"cleanup"}`)
	var killed api.Session
	if status != 200 || json.Unmarshal(body, &killed) != nil || killed.Status != api.StatusTerminated || killed.TerminateReason != "cleanup" {
		t.Fatalf("kill pending %d %s", status, body)
	}
	// Recording of a session that has none.
	status, body = ta.call("alice", "GET", "/v1/sessions/"+ids[2]+"/recording", nil)
	if status != 404 || !strings.Contains(errorOf(t, body).Message, "no stored recording") {
		t.Fatalf("recording %d %s", status, body)
	}
}

func TestAdminFlows(t *testing.T) {
	ta := newTestAPI(t)
	// Users.
	status, body := ta.call("alice", "POST", "/v1/users", `{"name":"dave","role":"auditor","token_ttl_seconds":3600}`)
	var cu api.CreateUserResponse
	if status != 201 || json.Unmarshal(body, &cu) != nil || cu.User.Role != api.RoleAuditor || cu.Token == nil || !strings.HasPrefix(cu.Token.Secret, "opt_") {
		t.Fatalf("create user %d %s", status, body)
	}
	status, body = ta.call("alice", "GET", "/v1/users", nil)
	var users []api.User
	if status != 200 || json.Unmarshal(body, &users) != nil || len(users) != 4 {
		t.Fatalf("list users %d %s", status, body)
	}
	if status, body = ta.call("alice", "DELETE", "/v1/users/dave", nil); status != 204 {
		t.Fatalf("delete user %d %s", status, body)
	}

	// Tokens: a user manages its own.
	status, body = ta.call("bob", "POST", "/v1/tokens", `{"name":"ci","ttl_seconds":-1}`)
	var ct api.CreatedToken
	if status != 201 || json.Unmarshal(body, &ct) != nil || ct.Token.User != "bob" || ct.Token.ExpiresAt != nil {
		t.Fatalf("create token %d %s", status, body)
	}
	status, body = ta.call("bob", "GET", "/v1/tokens", nil)
	var toks []api.Token
	if status != 200 || json.Unmarshal(body, &toks) != nil || len(toks) != 2 {
		t.Fatalf("list own tokens %d %s", status, body)
	}
	status, body = ta.call("alice", "GET", "/v1/tokens", nil)
	if status != 200 || json.Unmarshal(body, &toks) != nil || len(toks) != 5 {
		t.Fatalf("admin lists all tokens %d %s", status, body)
	}
	if status, body = ta.call("bob", "DELETE", "/v1/tokens/"+ct.Token.ID, nil); status != 204 {
		t.Fatalf("revoke %d %s", status, body)
	}
	ta.tokens["bob-ci"] = ct.Secret
	status, body = ta.call("bob-ci", "GET", "/v1/whoami", nil)
	if status != 401 || !strings.Contains(errorOf(t, body).Message, "token revoked") {
		t.Fatalf("revoked token %d %s", status, body)
	}

	// Policy.
	status, body = ta.call("alice", "POST", "/v1/policy", `{"subject":"user:bob","resources":["pg-*"],"types":["tcp"]}`)
	var rule api.PolicyRule
	if status != 201 || json.Unmarshal(body, &rule) != nil || rule.ID == "" || rule.CreatedAt.IsZero() {
		t.Fatalf("add rule %d %s", status, body)
	}
	status, body = ta.call("carol", "GET", "/v1/policy", nil)
	var rules []api.PolicyRule
	if status != 200 || json.Unmarshal(body, &rules) != nil || len(rules) != 1 {
		t.Fatalf("list policy %d %s", status, body)
	}
	if status, body = ta.call("alice", "DELETE", "/v1/policy/"+rule.ID, nil); status != 204 {
		t.Fatalf("delete rule %d %s", status, body)
	}
	status, body = ta.call("alice", "PUT", "/v1/policy", `{"rules":[{"subject":"role:admin","resources":["*"],"logins":["*"]},{"subject":"role:user","labels":{"env":"dev"}}]}`)
	if status != 200 {
		t.Fatalf("replace policy %d %s", status, body)
	}
	status, body = ta.call("alice", "GET", "/v1/policy", nil)
	if status != 200 || json.Unmarshal(body, &rules) != nil || len(rules) != 2 {
		t.Fatalf("policy after replace %d %s", status, body)
	}

	// Enrollment token: secret.pinhex.
	status, body = ta.call("alice", "POST", "/v1/agents/tokens", `{}`)
	var et api.EnrollToken
	if status != 201 || json.Unmarshal(body, &et) != nil {
		t.Fatalf("enroll token %d %s", status, body)
	}
	if _, pin, ok := strings.Cut(et.Token, "."); !ok || "sha256:"+pin != ta.pin || et.CAPin != ta.pin {
		t.Fatalf("enroll token %+v, pin %s", et, ta.pin)
	}
	if d := time.Until(et.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("enroll token expires in %v, want 1h", d)
	}
	status, body = ta.call("alice", "GET", "/v1/agents", nil)
	if status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("agents %d %s", status, body)
	}
	status, body = ta.call("bob", "GET", "/v1/resources?type=tcp&label=env=prod", nil)
	if status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("resources %d %s", status, body)
	}

	// Every admin action is audited with actor, outcome and client IP.
	status, body = ta.call("carol", "GET", "/v1/audit?action=user.&limit=10", nil)
	var evs []api.AuditEvent
	if status != 200 || json.Unmarshal(body, &evs) != nil {
		t.Fatalf("audit %d %s", status, body)
	}
	actions := map[string]bool{}
	for _, e := range evs {
		actions[e.Action+"/"+e.Target+"/"+e.Outcome] = true
		if e.Actor != "alice" || e.ClientIP != "127.0.0.1" {
			t.Errorf("audit event %+v", e)
		}
	}
	if !actions["user.create/dave/success"] || !actions["user.delete/dave/success"] {
		t.Fatalf("audit events %v", actions)
	}
	status, body = ta.call("alice", "GET", "/v1/audit?actor=bob", nil)
	if status != 200 || json.Unmarshal(body, &evs) != nil {
		t.Fatalf("audit %d %s", status, body)
	}
	got := map[string]bool{}
	for _, e := range evs {
		got[e.Action] = true
	}
	if !got["token.create"] || !got["token.revoke"] {
		t.Fatalf("bob's audit events %v", got)
	}
}
