package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
)

// testWebSessions: web sessions by key, touch forward only, delete (with
// the app logins made from them) and the expiry sweep.
func testWebSessions(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	abs := base.Add(24 * time.Hour)
	tokenWS := store.WebSession{Key: []byte("ws-token"), User: "alice", TokenID: "tok-1", TokenHash: []byte("token-hash"),
		CreatedAt: base, LastUsedAt: base, IdleExpiresAt: base.Add(12 * time.Hour), ExpiresAt: &abs}
	passWS := store.WebSession{Key: []byte("ws-pass"), User: "bob", CreatedAt: base, LastUsedAt: base, IdleExpiresAt: base.Add(time.Hour)}
	must(t, s.CreateWebSession(ctx, tokenWS), "create token web session")
	must(t, s.CreateWebSession(ctx, passWS), "create password web session")
	wantErr(t, s.CreateWebSession(ctx, passWS), store.ErrConflict, "create a taken key")
	wantErr(t, s.CreateWebSession(ctx, store.WebSession{User: "x"}), store.ErrInvalid, "create without key")

	t.Run("get", func(t *testing.T) {
		got, err := s.GetWebSession(ctx, tokenWS.Key)
		must(t, err, "get")
		if !bytes.Equal(got.Key, tokenWS.Key) || got.User != "alice" || got.TokenID != "tok-1" || !bytes.Equal(got.TokenHash, tokenWS.TokenHash) {
			t.Fatalf("got %+v", got)
		}
		sameTime(t, got.CreatedAt, base, "created_at")
		sameTime(t, got.LastUsedAt, base, "last_used_at")
		sameTime(t, got.IdleExpiresAt, base.Add(12*time.Hour), "idle_expires_at")
		sameTimePtr(t, got.ExpiresAt, &abs, "expires_at")
		p, err := s.GetWebSession(ctx, passWS.Key)
		must(t, err, "get password session")
		if p.User != "bob" || p.TokenID != "" || p.TokenHash != nil || p.ExpiresAt != nil {
			t.Fatalf("password session: %+v", p)
		}
		_, err = s.GetWebSession(ctx, []byte("nope"))
		wantErr(t, err, store.ErrNotFound, "get unknown")
	})

	t.Run("touch moves forward only", func(t *testing.T) {
		later := base.Add(time.Hour)
		must(t, s.TouchWebSession(ctx, tokenWS.Key, later, later.Add(12*time.Hour)), "touch")
		must(t, s.TouchWebSession(ctx, tokenWS.Key, base.Add(time.Minute), base.Add(time.Minute+12*time.Hour)), "touch earlier")
		got, err := s.GetWebSession(ctx, tokenWS.Key)
		must(t, err, "get")
		sameTime(t, got.LastUsedAt, later, "last_used_at")
		sameTime(t, got.IdleExpiresAt, later.Add(12*time.Hour), "idle_expires_at")
		must(t, s.TouchWebSession(ctx, []byte("nope"), later, later), "touch unknown")
	})

	t.Run("sweep", func(t *testing.T) {
		// At base+1h the password session reached its idle expiry; the
		// token session (touched at base+1h) lives.
		n, err := s.DeleteExpiredWebSessions(ctx, base.Add(time.Hour))
		must(t, err, "sweep")
		if n != 1 {
			t.Fatalf("swept %d, want 1", n)
		}
		_, err = s.GetWebSession(ctx, passWS.Key)
		wantErr(t, err, store.ErrNotFound, "idle session after sweep")
		_, err = s.GetWebSession(ctx, tokenWS.Key)
		must(t, err, "live session after sweep")
		// The absolute expiry ends it even though its idle expiry is later.
		must(t, s.TouchWebSession(ctx, tokenWS.Key, abs.Add(-time.Minute), abs.Add(12*time.Hour)), "touch near the end")
		n, err = s.DeleteExpiredWebSessions(ctx, abs)
		must(t, err, "sweep at expiry")
		if n != 1 {
			t.Fatalf("swept %d at the absolute expiry, want 1", n)
		}
		_, err = s.GetWebSession(ctx, tokenWS.Key)
		wantErr(t, err, store.ErrNotFound, "expired session after sweep")
	})

	t.Run("delete ends its app logins", func(t *testing.T) {
		ws := store.WebSession{Key: []byte("ws-del"), User: "carol", CreatedAt: base, LastUsedAt: base, IdleExpiresAt: base.Add(time.Hour)}
		must(t, s.CreateWebSession(ctx, ws), "create")
		must(t, s.CreateAppLogin(ctx, store.AppLogin{Key: []byte("al-1"), App: "wiki", WebSessionKey: ws.Key, User: "carol", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}), "app login of it")
		must(t, s.CreateAppLogin(ctx, store.AppLogin{Key: []byte("al-2"), App: "wiki", WebSessionKey: []byte("other"), User: "dave", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}), "app login of another")
		must(t, s.DeleteWebSession(ctx, ws.Key), "delete")
		must(t, s.DeleteWebSession(ctx, ws.Key), "delete again")
		_, err := s.GetWebSession(ctx, ws.Key)
		wantErr(t, err, store.ErrNotFound, "get deleted")
		_, err = s.GetAppLogin(ctx, []byte("al-1"))
		wantErr(t, err, store.ErrNotFound, "app login of the deleted web session")
		_, err = s.GetAppLogin(ctx, []byte("al-2"))
		must(t, err, "app login of another web session")
	})
}

// testAppLogins: app logins and one-time codes, taken once whatever the
// number of takers, and the expiry sweep.
func testAppLogins(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	l := store.AppLogin{Key: []byte("login"), App: "wiki", WebSessionKey: []byte("ws"), User: "alice", CreatedAt: base, ExpiresAt: base.Add(12 * time.Hour)}
	must(t, s.CreateAppLogin(ctx, l), "create login")
	wantErr(t, s.CreateAppLogin(ctx, l), store.ErrConflict, "create a taken key")
	got, err := s.GetAppLogin(ctx, l.Key)
	must(t, err, "get login")
	if got.App != "wiki" || got.User != "alice" || !bytes.Equal(got.WebSessionKey, l.WebSessionKey) {
		t.Fatalf("got %+v", got)
	}
	sameTime(t, got.CreatedAt, base, "created_at")
	sameTime(t, got.ExpiresAt, base.Add(12*time.Hour), "expires_at")

	t.Run("code is taken once", func(t *testing.T) {
		c := store.AppCode{Hash: []byte("code-1"), App: "wiki", State: "S", WebSessionKey: []byte("ws"), User: "alice", ExpiresAt: base.Add(time.Minute)}
		must(t, s.CreateAppCode(ctx, c), "create code")
		wantErr(t, s.CreateAppCode(ctx, c), store.ErrConflict, "create a taken code")
		const takers = 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  []store.AppCode
			errs []error
		)
		for range takers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.TakeAppCode(ctx, c.Hash, base)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won = append(won, got)
				} else if !errors.Is(err, store.ErrNotFound) {
					errs = append(errs, err)
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("take: %v", errs)
		}
		if len(won) != 1 {
			t.Fatalf("%d of %d takers got the code, want 1", len(won), takers)
		}
		if w := won[0]; w.App != "wiki" || w.State != "S" || w.User != "alice" || !bytes.Equal(w.WebSessionKey, c.WebSessionKey) {
			t.Fatalf("taken %+v", w)
		}
		sameTime(t, won[0].ExpiresAt, c.ExpiresAt, "code expires_at")
	})

	t.Run("expired code", func(t *testing.T) {
		c := store.AppCode{Hash: []byte("code-2"), App: "wiki", State: "S", User: "alice", ExpiresAt: base.Add(time.Minute)}
		must(t, s.CreateAppCode(ctx, c), "create code")
		_, err := s.TakeAppCode(ctx, c.Hash, base.Add(time.Minute))
		wantErr(t, err, store.ErrNotFound, "take at expiry")
		c.ExpiresAt = base.Add(2 * time.Hour)
		must(t, s.CreateAppCode(ctx, c), "the expired code's row is gone")
	})

	t.Run("sweep and delete", func(t *testing.T) {
		must(t, s.CreateAppCode(ctx, store.AppCode{Hash: []byte("code-3"), App: "wiki", User: "alice", ExpiresAt: base.Add(time.Minute)}), "create code")
		must(t, s.CreateAppLogin(ctx, store.AppLogin{Key: []byte("short"), App: "wiki", User: "bob", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}), "create short login")
		// At base+1h: code-3 and the short login are expired; code-2
		// (base+2h) and the first login (base+12h) are not.
		n, err := s.DeleteExpiredAppLogins(ctx, base.Add(time.Hour))
		must(t, err, "sweep")
		if n != 2 {
			t.Fatalf("swept %d, want 2", n)
		}
		_, err = s.GetAppLogin(ctx, []byte("short"))
		wantErr(t, err, store.ErrNotFound, "expired login")
		_, err = s.TakeAppCode(ctx, []byte("code-3"), base)
		wantErr(t, err, store.ErrNotFound, "expired code")
		_, err = s.TakeAppCode(ctx, []byte("code-2"), base)
		must(t, err, "live code")
		must(t, s.DeleteAppLogin(ctx, l.Key), "delete login")
		must(t, s.DeleteAppLogin(ctx, l.Key), "delete again")
		_, err = s.GetAppLogin(ctx, l.Key)
		wantErr(t, err, store.ErrNotFound, "deleted login")
	})
}
