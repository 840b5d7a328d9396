package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// newRecordingAPI is newTestAPIWith the recording setup, and dave, a
// second user.
func newRecordingAPI(t *testing.T) *testAPI {
	t.Helper()
	ta := newTestAPIWith(t, true)
	status, body := ta.call("alice", "POST", "/v1/users", `{"name":"dave","role":"user","token_ttl_seconds":3600}`)
	var cu api.CreateUserResponse
	if status != 201 || json.Unmarshal(body, &cu) != nil || cu.Token == nil {
		t.Fatalf("create dave: %d %s", status, body)
	}
	ta.tokens["dave"] = cu.Token.Secret
	return ta
}

// recordedSession stores a completed ssh session of user with a complete,
// signed recording (a connlog container: the format does not matter to
// who may read it) and returns its id.
func recordedSession(t *testing.T, ta *testAPI, user string, at time.Time) string {
	t.Helper()
	ctx := context.Background()
	id := store.IDAt(at)
	s := api.Session{ID: id, User: user, Type: api.TypeSSH, Status: api.StatusPending, Resource: "web", Agent: "a1", CreatedAt: at}
	if err := ta.store.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, to := range []api.SessionStatus{api.StatusActive, api.StatusCompleted} {
		if _, err := ta.store.Transition(ctx, id, store.Transition{To: to, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	w, err := container.NewWriter(&b, container.Header{SessionID: id, Format: api.FormatConnlog}, container.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(0, []byte(`{"t":0,"event":"open","conn":1}`+"\n")); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	if err := w.Finish(priv); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.recs.WriteAt(ctx, id, api.FormatConnlog, 0, []byte(b.String()), true); err != nil {
		t.Fatal(err)
	}
	if err := ta.store.SetRecording(ctx, id, api.Recording{Format: api.FormatConnlog, State: api.RecordingComplete, Available: true}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRecordingAccess: every route that reads a recording answers admins
// and auditors, a user for its own sessions only while the
// recording-access setting allows it, and nobody else; each answer,
// allowed or refused, is an audit event naming who, which session and
// what.
func TestRecordingAccess(t *testing.T) {
	ta := newRecordingAPI(t)
	now := time.Now().UTC().Add(-time.Hour)
	bobs := recordedSession(t, ta, "bob", now)
	alices := recordedSession(t, ta, "alice", now.Add(time.Minute))

	routes := []struct {
		name, path, action string
	}{
		{"replay", "/recording", "recording.read"},
		{"frames from a time", "/recording?from=0", "recording.read"},
		{"export", "/recording?format=native", "recording.export"},
		{"export container", "/recording?format=container", "recording.export"},
		{"verify", "/verify", "recording.verify"},
		{"watch", "/watch", "session.watch"},
		{"files", "/files", "recording.files"},
	}
	cases := []struct {
		name     string
		user     string
		session  string
		usersOwn bool
		allowed  bool
		reason   string
	}{
		{"admin, another's session", "alice", bobs, false, true, ""},
		{"auditor, any session", "carol", alices, false, true, ""},
		{"user, own session, switch on", "bob", bobs, true, true, ""},
		{"user, own session, switch off", "bob", bobs, false, false, "--users-own on"},
		{"user, another user's session", "dave", bobs, true, false, `not those of "bob"`},
		{"user, an admin's session", "bob", alices, true, false, `not those of "alice"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := ta.call("alice", "PUT", "/v1/settings/recording-access", api.RecordingAccess{UsersOwn: c.usersOwn})
			if status != 200 {
				t.Fatalf("set recording access: %d %s", status, body)
			}
			for _, rt := range routes {
				t.Run(rt.name, func(t *testing.T) {
					since := time.Now().UTC().Add(-time.Second)
					status, body := ta.call(c.user, "GET", "/v1/sessions/"+c.session+rt.path, nil)
					if c.allowed {
						if status != 200 {
							t.Fatalf("%s: %d %s", rt.path, status, body)
						}
					} else if status != 403 || errorOf(t, body).Code != api.CodeForbidden || !strings.Contains(errorOf(t, body).Message, c.reason) {
						t.Fatalf("%s: %d %s, want 403 with %q", rt.path, status, body, c.reason)
					}
					want := allowed // verify's outcome says whether the recording is intact
					if !c.allowed {
						want = api.OutcomeDenied
					}
					checkAudit(t, ta, c.user, rt.action, c.session, want, since)
				})
			}
		})
	}

	// Search reads the recordings' text: the same rule, a user's own
	// sessions only.
	searches := []struct {
		user     string
		usersOwn bool
		status   int
	}{
		{"alice", false, 200},
		{"carol", false, 200},
		{"bob", true, 200},
		{"bob", false, 403},
	}
	for _, s := range searches {
		t.Run(fmt.Sprintf("search as %s, users own %v", s.user, s.usersOwn), func(t *testing.T) {
			ta.call("alice", "PUT", "/v1/settings/recording-access", api.RecordingAccess{UsersOwn: s.usersOwn})
			since := time.Now().UTC().Add(-time.Second)
			status, body := ta.call(s.user, "GET", "/v1/search?q=open", nil)
			if status != s.status {
				t.Fatalf("search: %d %s", status, body)
			}
			want := api.OutcomeSuccess
			if status != 200 {
				want = api.OutcomeDenied
			}
			checkAudit(t, ta, s.user, "session.search", "open", want, since)
		})
	}
}

// allowed matches every audit outcome but denied.
const allowed = "allowed"

// checkAudit fails unless an audit event by actor with action, target and
// outcome (or allowed) was written since.
func checkAudit(t *testing.T, ta *testAPI, actor, action, target, outcome string, since time.Time) {
	t.Helper()
	evs, err := ta.store.ListAudit(context.Background(), store.AuditFilter{Actor: actor, Action: action, Since: since, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Target == target && (e.Outcome == outcome || outcome == allowed && e.Outcome != api.OutcomeDenied) {
			return
		}
	}
	b, _ := json.Marshal(evs)
	t.Fatalf("no audit event %s by %s on %s with outcome %s since %s: %s", action, actor, target, outcome, since.Format(time.RFC3339Nano), b)
}

// TestRecordingAccessSetting: admins change the setting (audited),
// auditors read it, users do neither; the default lets users read their
// own sessions' recordings.
func TestRecordingAccessSetting(t *testing.T) {
	ta := newRecordingAPI(t)
	get := func(user string) (int, api.RecordingAccess) {
		status, body := ta.call(user, "GET", "/v1/settings/recording-access", nil)
		var a api.RecordingAccess
		if status == 200 {
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("%s", body)
			}
		}
		return status, a
	}
	if status, a := get("carol"); status != 200 || !a.UsersOwn {
		t.Fatalf("default as the auditor: %d %+v", status, a)
	}
	if status, _ := get("bob"); status != 403 {
		t.Fatalf("user reads the setting: %d", status)
	}
	tests := []struct {
		name, user, body string
		status           int
		usersOwn         bool
	}{
		{"user may not change it", "bob", `{"users_own":true}`, 403, true},
		{"auditor may not change it", "carol", `{"users_own":false}`, 403, true},
		{"admin switches it off", "alice", `{"users_own":false}`, 200, false},
		{"unknown field", "alice", `{"users":true}`, 400, false},
		{"admin switches it on", "alice", `{"users_own":true}`, 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := time.Now().UTC().Add(-time.Second)
			status, body := ta.call(tc.user, "PUT", "/v1/settings/recording-access", tc.body)
			if status != tc.status {
				t.Fatalf("PUT: %d %s", status, body)
			}
			if _, a := get("alice"); a.UsersOwn != tc.usersOwn {
				t.Fatalf("setting now %+v, want users_own %v", a, tc.usersOwn)
			}
			if status == 200 {
				checkAudit(t, ta, "alice", "settings.recording_access", "", api.OutcomeSuccess, since)
			}
		})
	}
}

// TestExpiredRecordingReads: every read of a recording deleted by
// retention answers 404 with the retention notice, audited.
func TestExpiredRecordingReads(t *testing.T) {
	ta := newRecordingAPI(t)
	id := recordedSession(t, ta, "bob", time.Now().UTC().Add(-time.Hour))
	if err := ta.store.SetRecording(context.Background(), id, api.Recording{Format: api.FormatConnlog, State: api.RecordingExpired}); err != nil {
		t.Fatal(err)
	}
	const notice = "recording expired under the 7-day retention of plan free"
	for _, rt := range []struct{ path, action string }{
		{"/recording", "recording.read"},
		{"/recording?format=native", "recording.export"},
		{"/verify", "recording.verify"},
		{"/watch", "session.watch"},
	} {
		t.Run(rt.path, func(t *testing.T) {
			since := time.Now().UTC().Add(-time.Second)
			status, body := ta.call("carol", "GET", "/v1/sessions/"+id+rt.path, nil)
			if status != 404 || !strings.Contains(errorOf(t, body).Message, notice) {
				t.Fatalf("%d %s, want 404 with %q", status, body, notice)
			}
			checkAudit(t, ta, "carol", rt.action, id, api.OutcomeError, since)
		})
	}
	status, body := ta.call("bob", "GET", "/v1/sessions/"+id, nil)
	var s api.Session
	if status != 200 || json.Unmarshal(body, &s) != nil || !strings.Contains(s.Recording.Notice, notice) {
		t.Fatalf("show: %d %s", status, body)
	}
}
