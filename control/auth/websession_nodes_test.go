package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// TestWebSessionsAcrossNodes runs two Tokens on one store (two control
// nodes) and a third made later (a restart): a web session opened on one
// is accepted by the others, with the same CSRF token; a logout on one
// ends it on the other within auth.WebSessionCacheTTL; revoking the token
// or removing the user ends it at once; uses are written at most once a
// minute; the sweep deletes expired rows.
func TestWebSessionsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, u := range []api.User{{Name: "alice", Role: api.RoleAdmin}, {Name: "bob", Role: api.RoleUser}} {
		u.CreatedAt = now
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetUserPassword(ctx, "bob", "bob's password"); err != nil {
		t.Fatal(err)
	}
	a := auth.NewTokens(st, clock, nil)
	b := auth.NewTokens(st, clock, nil)
	tok, err := a.Create(ctx, "alice", 24*time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}

	accepted := func(t *testing.T, node *auth.Tokens, ws auth.WebSession, what string) {
		t.Helper()
		got, err := node.WebSession(ctx, ws.ID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.Principal.User != ws.Principal.User || got.CSRF != ws.CSRF || got.ID != ws.ID {
			t.Fatalf("%s: got %+v, want the session of %+v", what, got, ws)
		}
	}
	refused := func(t *testing.T, node *auth.Tokens, ws auth.WebSession, what string) {
		t.Helper()
		if _, err := node.WebSession(ctx, ws.ID); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Fatalf("%s: got %v, want unauthenticated", what, err)
		}
	}

	t.Run("a session of one node is accepted by another", func(t *testing.T) {
		ws, err := a.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		accepted(t, b, ws, "node B")
		// A state-changing request through B's middleware passes the
		// CSRF check with the token A handed out.
		h := b.Middleware(func(w http.ResponseWriter, _ *http.Request, err error) {
			w.WriteHeader(api.CodeOf(err).HTTPStatus())
		}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.PrincipalFrom(r.Context())
			w.Write([]byte(p.User))
		}))
		for _, tc := range []struct {
			name, csrf string
			want       int
		}{{"with csrf", ws.CSRF, 200}, {"without csrf", "", 403}, {"wrong csrf", ws.CSRF[1:], 403}} {
			t.Run(tc.name, func(t *testing.T) {
				req := httptest.NewRequest("POST", "/v1/sessions/x/kill", nil)
				req.AddCookie(&http.Cookie{Name: auth.CookieSession, Value: ws.ID})
				if tc.csrf != "" {
					req.Header.Set(auth.HeaderCSRF, tc.csrf)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tc.want)
				}
			})
		}
		// A restart: a new Tokens on the same store knows the session.
		accepted(t, auth.NewTokens(st, clock, nil), ws, "after a restart")
	})

	t.Run("the store keeps hashes, not secrets", func(t *testing.T) {
		ws, err := a.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		row, err := st.GetWebSession(ctx, auth.HashSecret(ws.ID))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{row.Key, row.TokenHash, []byte(row.TokenID), []byte(row.User)} {
			if string(b) == ws.ID || string(b) == ws.CSRF || string(b) == tok.Secret {
				t.Fatalf("a secret is stored: %+v", row)
			}
		}
		if row.TokenID != tok.Token.ID || row.User != "alice" {
			t.Fatalf("row %+v", row)
		}
	})

	t.Run("logout on one node ends the session on the other within the cache bound", func(t *testing.T) {
		ws, err := a.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		accepted(t, b, ws, "node B before the logout") // B caches the row
		a.Logout(ws.ID)
		refused(t, a, ws, "node A after its logout")
		now = now.Add(auth.WebSessionCacheTTL)
		refused(t, b, ws, "node B once its cached copy is WebSessionCacheTTL old")
		refused(t, auth.NewTokens(st, clock, nil), ws, "a restarted node")
	})

	t.Run("token revocation ends the session on every node at once", func(t *testing.T) {
		tk, err := a.Create(ctx, "alice", time.Hour, "revoke-me")
		if err != nil {
			t.Fatal(err)
		}
		ws, err := a.Login(ctx, tk.Secret)
		if err != nil {
			t.Fatal(err)
		}
		accepted(t, b, ws, "node B before the revocation")
		if err := st.RevokeToken(ctx, tk.Token.ID, now); err != nil {
			t.Fatal(err)
		}
		refused(t, b, ws, "node B after the revocation")
		refused(t, a, ws, "node A after the revocation")
		if _, err := st.GetWebSession(ctx, ws.Key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the row of a revoked token's session: %v", err)
		}
	})

	t.Run("removing the user ends a password session on every node", func(t *testing.T) {
		ws, err := a.LoginPassword(ctx, "bob", "bob's password")
		if err != nil {
			t.Fatal(err)
		}
		accepted(t, b, ws, "node B")
		if err := st.DeleteUser(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		refused(t, b, ws, "node B after the user's removal")
	})

	t.Run("uses are written at most once a minute", func(t *testing.T) {
		ws, err := a.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		opened := now
		lastUsed := func() time.Time {
			t.Helper()
			row, err := st.GetWebSession(ctx, ws.Key)
			if err != nil {
				t.Fatal(err)
			}
			return row.LastUsedAt
		}
		for range 3 {
			now = now.Add(10 * time.Second)
			accepted(t, b, ws, "node B")
		}
		if got := lastUsed(); !got.Equal(opened) {
			t.Fatalf("last use written after 30s: %v, want still %v", got, opened)
		}
		now = now.Add(time.Minute)
		accepted(t, b, ws, "node B a minute later")
		if got := lastUsed(); !got.Equal(now) {
			t.Fatalf("last use %v, want %v", got, now)
		}
	})

	t.Run("the sweep deletes expired sessions", func(t *testing.T) {
		ws, err := a.Login(ctx, tok.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := b.SweepWebSessions(ctx); err != nil {
			t.Fatal(err)
		} else if _, err := st.GetWebSession(ctx, ws.Key); err != nil {
			t.Fatalf("a live session after a sweep (%d deleted): %v", n, err)
		}
		now = now.Add(auth.WebIdleTimeout)
		n, err := b.SweepWebSessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("the sweep deleted nothing")
		}
		if _, err := st.GetWebSession(ctx, ws.Key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an idle session after the sweep: %v", err)
		}
		refused(t, a, ws, "node A after the sweep")
	})
}
