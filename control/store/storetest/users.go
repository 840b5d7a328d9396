package storetest

import (
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testUsers(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("create-get-list-count", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		users := []api.User{
			{Name: "carol", Role: api.RoleUser, CreatedAt: base},
			{Name: "alice", Role: api.RoleAdmin, CreatedAt: base.Add(time.Second)},
			{Name: "bob", Role: api.RoleAuditor, CreatedAt: base.Add(2 * time.Second)},
		}
		for _, u := range users {
			must(t, s.CreateUser(ctx, u), "create "+u.Name)
		}
		for _, u := range users {
			got, err := s.GetUser(ctx, u.Name)
			must(t, err, "get "+u.Name)
			if got.Name != u.Name || got.Role != u.Role {
				t.Fatalf("get %s: got %+v, want %+v", u.Name, got, u)
			}
			sameTime(t, got.CreatedAt, u.CreatedAt, "created_at")
		}
		list, err := s.ListUsers(ctx)
		must(t, err, "list")
		if len(list) != 3 || list[0].Name != "alice" || list[1].Name != "bob" || list[2].Name != "carol" {
			t.Fatalf("list: got %+v, want alice, bob, carol", list)
		}
		n, err := s.CountUsers(ctx)
		must(t, err, "count")
		if n != 3 {
			t.Fatalf("count: got %d, want 3", n)
		}
	})
	t.Run("errors", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin}), "create")
		tests := []struct {
			name   string
			err    error
			target error
		}{
			{"duplicate name", s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleUser}), store.ErrConflict},
			{"unknown role", s.CreateUser(ctx, api.User{Name: "x", Role: "root"}), store.ErrInvalid},
			{"empty name", s.CreateUser(ctx, api.User{Role: api.RoleUser}), store.ErrInvalid},
			{"get missing", func() error { _, err := s.GetUser(ctx, "nobody"); return err }(), store.ErrNotFound},
			{"delete missing", s.DeleteUser(ctx, "nobody"), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.target, tc.name) })
		}
		got, err := s.GetUser(ctx, "alice")
		must(t, err, "get alice")
		if got.Role != api.RoleAdmin {
			t.Fatalf("a refused duplicate changed the user: %+v", got)
		}
		if got.CreatedAt.IsZero() {
			t.Fatalf("a zero CreatedAt was not filled in")
		}
	})
	t.Run("delete-revokes-tokens", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleUser, CreatedAt: base}), "create alice")
		must(t, s.CreateUser(ctx, api.User{Name: "bob", Role: api.RoleUser, CreatedAt: base}), "create bob")
		must(t, s.CreateToken(ctx, api.Token{ID: "t1", User: "alice", Name: "laptop", CreatedAt: base}, []byte("h1")), "token 1")
		must(t, s.CreateToken(ctx, api.Token{ID: "t2", User: "alice", Name: "ci", CreatedAt: base}, []byte("h2")), "token 2")
		must(t, s.CreateToken(ctx, api.Token{ID: "t3", User: "bob", Name: "bob", CreatedAt: base}, []byte("h3")), "token 3")
		must(t, s.DeleteUser(ctx, "alice"), "delete alice")
		_, err := s.GetUser(ctx, "alice")
		wantErr(t, err, store.ErrNotFound, "get deleted user")
		for _, id := range []string{"t1", "t2"} {
			tk, err := s.GetToken(ctx, id)
			must(t, err, "get token "+id)
			if tk.RevokedAt == nil {
				t.Fatalf("token %s of a deleted user is not revoked", id)
			}
		}
		tk, err := s.GetToken(ctx, "t3")
		must(t, err, "get t3")
		if tk.RevokedAt != nil {
			t.Fatalf("another user's token was revoked")
		}
		_, _, err = s.TokenByHash(ctx, []byte("h1"))
		wantErr(t, err, store.ErrNotFound, "token of a deleted user by hash")
		n, err := s.CountUsers(ctx)
		must(t, err, "count")
		if n != 1 {
			t.Fatalf("count after delete: got %d, want 1", n)
		}
	})
}
