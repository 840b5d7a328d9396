package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testTokens(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("create-lookup-list", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: base}), "create alice")
		must(t, s.CreateUser(ctx, api.User{Name: "bob", Role: api.RoleUser, CreatedAt: base}), "create bob")
		exp := base.Add(30 * 24 * time.Hour)
		want := api.Token{ID: "tok-1", User: "alice", Name: "laptop", CreatedAt: base, ExpiresAt: &exp}
		must(t, s.CreateToken(ctx, want, []byte("hash-1")), "create token")
		must(t, s.CreateToken(ctx, api.Token{ID: "tok-2", User: "bob", Name: "ci", CreatedAt: base.Add(time.Second)}, []byte("hash-2")), "create token 2")
		must(t, s.CreateToken(ctx, api.Token{ID: "tok-3", User: "alice", Name: "ci", CreatedAt: base.Add(2 * time.Second)}, []byte("hash-3")), "create token 3")

		tk, u, err := s.TokenByHash(ctx, []byte("hash-1"))
		must(t, err, "by hash")
		if tk.ID != want.ID || tk.User != "alice" || tk.Name != "laptop" || u.Name != "alice" || u.Role != api.RoleAdmin {
			t.Fatalf("by hash: got %+v %+v", tk, u)
		}
		sameTime(t, tk.CreatedAt, base, "created_at")
		sameTimePtr(t, tk.ExpiresAt, &exp, "expires_at")
		if tk.RevokedAt != nil || tk.LastUsedAt != nil {
			t.Fatalf("new token has revoked/last used: %+v", tk)
		}
		got, err := s.GetToken(ctx, "tok-2")
		must(t, err, "get")
		if got.User != "bob" || got.ExpiresAt != nil {
			t.Fatalf("get tok-2: %+v", got)
		}
		for _, tc := range []struct {
			user string
			want []string
		}{{"alice", []string{"tok-1", "tok-3"}}, {"bob", []string{"tok-2"}}, {"", []string{"tok-1", "tok-2", "tok-3"}}, {"nobody", nil}} {
			list, err := s.ListTokens(ctx, tc.user)
			must(t, err, "list "+tc.user)
			var ids []string
			for _, tk := range list {
				ids = append(ids, tk.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
				t.Fatalf("list %q: got %v, want %v", tc.user, ids, tc.want)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin}), "create alice")
		must(t, s.CreateToken(ctx, api.Token{ID: "tok-1", User: "alice"}, []byte("h")), "create")
		tests := []struct {
			name   string
			err    error
			target error
		}{
			{"duplicate hash", s.CreateToken(ctx, api.Token{ID: "tok-2", User: "alice"}, []byte("h")), store.ErrConflict},
			{"duplicate id", s.CreateToken(ctx, api.Token{ID: "tok-1", User: "alice"}, []byte("other")), store.ErrConflict},
			{"unknown user", s.CreateToken(ctx, api.Token{ID: "tok-3", User: "nobody"}, []byte("h3")), store.ErrNotFound},
			{"unknown hash", func() error { _, _, err := s.TokenByHash(ctx, []byte("nope")); return err }(), store.ErrNotFound},
			{"get missing", func() error { _, err := s.GetToken(ctx, "nope"); return err }(), store.ErrNotFound},
			{"revoke missing", s.RevokeToken(ctx, "nope", base), store.ErrNotFound},
			{"touch missing", s.TouchToken(ctx, "nope", base), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.target, tc.name) })
		}
	})
	t.Run("revoke", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin}), "create alice")
		must(t, s.CreateToken(ctx, api.Token{ID: "tok-1", User: "alice", CreatedAt: base}, []byte("h")), "create")
		at := base.Add(time.Hour)
		must(t, s.RevokeToken(ctx, "tok-1", at), "revoke")
		must(t, s.RevokeToken(ctx, "tok-1", at.Add(time.Hour)), "revoke again")
		tk, _, err := s.TokenByHash(ctx, []byte("h"))
		must(t, err, "a revoked token is still found by hash")
		sameTimePtr(t, tk.RevokedAt, &at, "revoked_at (the first revocation is kept)")
	})
	t.Run("touch-coalesces", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin}), "create alice")
		must(t, s.CreateToken(ctx, api.Token{ID: "tok-1", User: "alice", CreatedAt: base}, []byte("h")), "create")
		steps := []struct {
			at, want time.Time
		}{
			{base.Add(time.Minute), base.Add(time.Minute)},           // first use is written
			{base.Add(90 * time.Second), base.Add(time.Minute)},      // 30 s later: coalesced
			{base.Add(2 * time.Minute), base.Add(2 * time.Minute)},   // a minute later: written
			{base.Add(150 * time.Second), base.Add(2 * time.Minute)}, // coalesced
			{base.Add(10 * time.Minute), base.Add(10 * time.Minute)}, // written
		}
		for i, st := range steps {
			must(t, s.TouchToken(ctx, "tok-1", st.at), "touch")
			tk, err := s.GetToken(ctx, "tok-1")
			must(t, err, "get")
			sameTimePtr(t, tk.LastUsedAt, &st.want, fmt.Sprintf("step %d: last_used_at", i))
		}
	})
}

func testEnrollTokens(t *testing.T, open func(t *testing.T) store.Store) {
	now := base
	t.Run("single-use", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateEnrollToken(ctx, []byte("good"), "alice", now.Add(time.Hour)), "create good")
		must(t, s.CreateEnrollToken(ctx, []byte("expired"), "alice", now.Add(-time.Second)), "create expired")
		must(t, s.CreateEnrollToken(ctx, []byte("edge"), "alice", now), "create edge")
		wantErr(t, s.CreateEnrollToken(ctx, []byte("good"), "bob", now.Add(time.Hour)), store.ErrConflict, "duplicate")
		steps := []struct {
			name string
			hash string
			want error
		}{
			{"first use", "good", nil},
			{"second use", "good", store.ErrTokenUsed},
			{"expired", "expired", store.ErrTokenUsed},
			{"expiring now", "edge", store.ErrTokenUsed},
			{"unknown", "nope", store.ErrTokenUsed},
		}
		for _, st := range steps {
			err := s.ConsumeEnrollToken(ctx, []byte(st.hash), now)
			if st.want == nil {
				must(t, err, st.name)
			} else {
				wantErr(t, err, st.want, st.name)
			}
		}
	})
	t.Run("concurrent-consume", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		must(t, s.CreateEnrollToken(ctx, []byte("race"), "alice", now.Add(time.Hour)), "create")
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = s.ConsumeEnrollToken(ctx, []byte("race"), now) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			default:
				wantErr(t, err, store.ErrTokenUsed, "losing consumer")
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d concurrent consumers succeeded, want exactly 1", wins, n)
		}
	})
}
