package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// TestLoginPassword logs in with a user name and password against the
// real token service and store: the cookie session works for the API,
// failures are audited, and an address is refused after LoginFailures
// failures until LoginWindow has passed.
func TestLoginPassword(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetUserPassword(ctx, "alice", "wonderland"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tokens := auth.NewTokens(st, nil, nil)
	tok, err := tokens.Create(ctx, "alice", time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	writeErr := func(w http.ResponseWriter, _ *http.Request, err error) { writeAPIError(w, err) }
	apiH := http.NewServeMux()
	apiH.Handle("/v1/", tokens.Middleware(writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		_, _ = w.Write([]byte("api " + r.Method + " " + r.URL.Path + " as " + p.User))
	})))
	srv := httptest.NewTLSServer(newHandler(Config{API: apiH, Auth: tokens, Audit: st.AddAudit, Clock: clock, LoginFailures: 3, LoginWindow: time.Minute}, nil))
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, token: tok.Secret}
	jsonHdr := map[string]string{"Content-Type": "application/json"}
	login := func(body string) *http.Response { return f.do(t, "POST", "/web/login", body, jsonHdr, nil) }

	t.Run("bad bodies", func(t *testing.T) {
		for _, body := range []string{`{}`, `{"user":"alice"}`[:10], `{"token":"` + tok.Secret + `","user":"alice","password":"wonderland"}`, `{"password":"wonderland"}`} {
			if resp := login(body); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s", body, resp.StatusCode, readAll(t, resp))
			}
		}
	})
	t.Run("right password", func(t *testing.T) {
		resp := login(`{"user":"alice","password":"wonderland"}`)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"user":"alice"`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == auth.CookieSession {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode {
			t.Fatalf("session cookie %+v", session)
		}
		if got := readAll(t, f.do(t, "GET", "/v1/whoami", "", nil, []*http.Cookie{session})); got != "api GET /v1/whoami as alice" {
			t.Fatalf("API with the password session's cookie: %q", got)
		}
	})
	t.Run("wrong password is audited", func(t *testing.T) {
		resp := login(`{"user":"alice","password":"looking glass"}`)
		if body := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		evs, err := st.ListAudit(ctx, store.AuditFilter{Action: "web.login"})
		if err != nil {
			t.Fatal(err)
		}
		var denied int
		for _, e := range evs {
			if e.Outcome == api.OutcomeDenied && e.Actor == "alice" && e.ClientIP == "127.0.0.1" && e.Fields["method"] == "password" {
				denied++
			}
		}
		if denied != 1 {
			t.Fatalf("audit events %+v: want one denied password login of alice from 127.0.0.1", evs)
		}
	})
	t.Run("rate limited per address", func(t *testing.T) {
		for range 2 { // with the failure above: 3
			if resp := login(`{"user":"mallory","password":"guess"}`); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure: %d", resp.StatusCode)
			}
		}
		resp := login(`{"user":"alice","password":"wonderland"}`)
		if body := readAll(t, resp); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many failed logins") {
			t.Fatalf("right password after 3 failures: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if resp := login(`{"token":"` + tok.Secret + `"}`); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("token login from the limited address: %d", resp.StatusCode)
		}
		now = now.Add(time.Minute)
		if resp := login(`{"user":"alice","password":"wonderland"}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("after the window: %d %s", resp.StatusCode, readAll(t, resp))
		}
	})
}

func TestFailLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := &failLimiter{max: 2, window: time.Minute, now: func() time.Time { return now }}
	steps := []struct {
		name string
		do   func()
		ip   string
		want bool // limited
	}{
		{"fresh", func() {}, "a", false},
		{"one failure", func() { l.fail("a") }, "a", false},
		{"two failures", func() { l.fail("a") }, "a", true},
		{"another address", func() {}, "b", false},
		{"window over", func() { now = now.Add(time.Minute) }, "a", false},
		{"success clears", func() { l.fail("b"); l.fail("b"); l.succeed("b") }, "b", false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			if got := l.retryAfter(s.ip) > 0; got != s.want {
				t.Fatalf("limited %v, want %v", got, s.want)
			}
		})
	}
}
