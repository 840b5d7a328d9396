package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

func TestLoginPassword(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, u := range []api.User{{Name: "alice", Role: api.RoleAdmin, CreatedAt: now}, {Name: "bob", Role: api.RoleUser, CreatedAt: now}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetUserPassword(ctx, "alice", "s3cret pass"); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, clock, nil)
	for _, tc := range []struct{ name, user, password string }{
		{"wrong password", "alice", "nope"},
		{"unknown user", "mallory", "s3cret pass"},
		{"user without a password", "bob", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tokens.LoginPassword(ctx, tc.user, tc.password); api.CodeOf(err) != api.CodeUnauthenticated {
				t.Fatalf("got %v, want unauthenticated", err)
			}
		})
	}
	ws, err := tokens.LoginPassword(ctx, "alice", "s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	if ws.Principal.User != "alice" || ws.Principal.Role != api.RoleAdmin || !ws.ExpiresAt.IsZero() || ws.ID == "" || ws.CSRF == "" {
		t.Fatalf("web session %+v", ws)
	}
	t.Run("used within the idle timeout", func(t *testing.T) {
		now = now.Add(auth.WebIdleTimeout - time.Minute)
		if got, err := tokens.WebSession(ctx, ws.ID); err != nil || got.Principal.User != "alice" {
			t.Fatalf("%+v %v", got, err)
		}
	})
	t.Run("idle for 12 h", func(t *testing.T) {
		now = now.Add(auth.WebIdleTimeout)
		if _, err := tokens.WebSession(ctx, ws.ID); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Fatalf("idle session: %v", err)
		}
	})
	t.Run("user removed", func(t *testing.T) {
		ws, err := tokens.LoginPassword(ctx, "alice", "s3cret pass")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.WebSession(ctx, ws.ID); api.CodeOf(err) != api.CodeUnauthenticated {
			t.Fatalf("session of a removed user: %v", err)
		}
	})
}
