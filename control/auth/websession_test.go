package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

func TestWebSessions(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	if err := st.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, clock, nil)
	tok, err := tokens.Create(ctx, "alice", 24*time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Login(ctx, "opt_wrong"); api.CodeOf(err) != api.CodeUnauthenticated {
		t.Fatalf("login with a wrong token: %v", err)
	}
	ws, err := tokens.Login(ctx, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if ws.ID == "" || ws.CSRF == "" || ws.ID == ws.CSRF || ws.Principal.User != "alice" || !ws.ExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("web session %+v", ws)
	}

	writeErr := func(w http.ResponseWriter, _ *http.Request, err error) {
		w.WriteHeader(api.CodeOf(err).HTTPStatus())
		json.NewEncoder(w).Encode(api.ErrorBody{Error: &api.Error{Code: api.CodeOf(err), Message: err.Error()}})
	}
	h := tokens.Middleware(writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		w.Write([]byte(p.User))
	}))
	do := func(method, cookie, csrf string) (int, string) {
		req := httptest.NewRequest(method, "/v1/sessions/x/kill", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: auth.CookieSession, Value: cookie})
		}
		if csrf != "" {
			req.Header.Set(auth.HeaderCSRF, csrf)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		name, method, cookie, csrf string
		wantCode                   int
		wantBody                   string
	}{
		{"get with cookie", "GET", ws.ID, "", 200, "alice"},
		{"post with cookie and csrf", "POST", ws.ID, ws.CSRF, 200, "alice"},
		{"post without csrf", "POST", ws.ID, "", 403, "X-CSRF-Token"},
		{"post with wrong csrf", "POST", ws.ID, ws.CSRF + "x", 403, "X-CSRF-Token"},
		{"delete without csrf", "DELETE", ws.ID, "", 403, "X-CSRF-Token"},
		{"unknown cookie", "GET", "nope", "", 401, "log in again"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.method, tc.cookie, tc.csrf)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.wantCode, tc.wantBody)
			}
		})
	}

	t.Run("idle timeout", func(t *testing.T) {
		ws2, err := tokens.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(auth.WebIdleTimeout - time.Minute)
		if _, err := tokens.WebSession(ctx, ws2.ID); err != nil {
			t.Fatalf("used within the idle timeout: %v", err)
		}
		now = now.Add(auth.WebIdleTimeout - time.Minute) // used just before: still alive
		if _, err := tokens.WebSession(ctx, ws2.ID); err != nil {
			t.Fatalf("used again within the idle timeout: %v", err)
		}
		now = now.Add(auth.WebIdleTimeout)
		if _, err := tokens.WebSession(ctx, ws2.ID); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Fatalf("idle session: %v", err)
		}
	})
	t.Run("token expiry ends the session", func(t *testing.T) {
		short, err := tokens.Create(ctx, "alice", time.Hour, "short")
		if err != nil {
			t.Fatal(err)
		}
		ws3, err := tokens.Login(ctx, short.Secret)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Hour)
		if _, err := tokens.WebSession(ctx, ws3.ID); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Fatalf("session of an expired token: %v", err)
		}
	})
	t.Run("revocation ends the session", func(t *testing.T) {
		tk, err := tokens.Create(ctx, "alice", time.Hour, "revoke-me")
		if err != nil {
			t.Fatal(err)
		}
		ws4, err := tokens.Login(ctx, tk.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeToken(ctx, tk.Token.ID, now); err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.WebSession(ctx, ws4.ID); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("session of a revoked token: %v", err)
		}
	})
	t.Run("logout", func(t *testing.T) {
		forever, err := tokens.Create(ctx, "alice", -1, "forever")
		if err != nil {
			t.Fatal(err)
		}
		ws5, err := tokens.Login(ctx, forever.Secret)
		if err != nil {
			t.Fatal(err)
		}
		tokens.Logout(ws5.ID)
		if _, err := tokens.WebSession(ctx, ws5.ID); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Fatalf("session after logout: %v", err)
		}
	})
}
