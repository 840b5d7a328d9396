package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	if err := st.CreateUser(ctx, api.User{Name: "bob", Role: api.RoleUser, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, clock, nil)

	valid, err := tokens.Create(ctx, "bob", time.Hour, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(valid.Secret, "opt_") || len(valid.Secret) != 4+43 {
		t.Fatalf("secret %q: want opt_ + 43 base64url characters", valid.Secret)
	}
	if valid.Token.ExpiresAt == nil || !valid.Token.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("expires_at = %v", valid.Token.ExpiresAt)
	}
	forever, err := tokens.Create(ctx, "bob", -1, "robot")
	if err != nil {
		t.Fatal(err)
	}
	if forever.Token.ExpiresAt != nil {
		t.Fatalf("negative ttl made an expiring token")
	}
	def, err := tokens.Create(ctx, "bob", 0, "default")
	if err != nil {
		t.Fatal(err)
	}
	if !def.Token.ExpiresAt.Equal(now.Add(auth.DefaultTokenTTL)) {
		t.Fatalf("default expiry %v", def.Token.ExpiresAt)
	}
	short, err := tokens.Create(ctx, "bob", time.Minute, "short")
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := tokens.Create(ctx, "bob", time.Hour, "revoked")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeToken(ctx, revoked.Token.ID, now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute) // short has expired

	tests := []struct {
		name    string
		secret  string
		wantErr string
	}{
		{"valid", valid.Secret, ""},
		{"never expires", forever.Secret, ""},
		{"expired", short.Secret, "token expired: create a new one with onepam tokens create, then onepam login"},
		{"revoked", revoked.Secret, "token revoked"},
		{"unknown", "opt_" + strings.Repeat("A", 43), "unknown token"},
		{"malformed", "hunter2", "malformed token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tokens.Authenticate(ctx, tc.secret)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if p.User != "bob" || p.Role != api.RoleUser || p.TokenID == "" {
					t.Fatalf("principal %+v", p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Authenticate = %v, want %q", err, tc.wantErr)
			}
			if api.CodeOf(err) != api.CodeUnauthenticated {
				t.Fatalf("code %s, want unauthenticated", api.CodeOf(err))
			}
		})
	}
	got, err := st.GetToken(ctx, valid.Token.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil {
		t.Errorf("use of the token not recorded")
	}
}

func TestMiddleware(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if err := st.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, nil, nil)
	tok, err := tokens.Create(ctx, "alice", time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	writeErr := func(w http.ResponseWriter, _ *http.Request, err error) {
		w.WriteHeader(api.CodeOf(err).HTTPStatus())
		json.NewEncoder(w).Encode(api.ErrorBody{Error: &api.Error{Code: api.CodeOf(err), Message: err.Error()}})
	}
	h := tokens.Middleware(writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		if !ok {
			t.Error("no principal in context")
		}
		w.Write([]byte(p.User))
	}))
	tests := []struct {
		name, header string
		wantCode     int
		wantBody     string
	}{
		{"bearer", "Bearer " + tok.Secret, 200, "alice"},
		{"lowercase scheme", "bearer " + tok.Secret, 200, "alice"},
		{"missing", "", 401, "not logged in"},
		{"basic", "Basic Zm9vOmJhcg==", 401, "want Bearer TOKEN"},
		{"unknown", "Bearer opt_nope", 401, "unknown token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/whoami", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", rec.Code, rec.Body, tc.wantCode, tc.wantBody)
			}
			if tc.wantCode == 401 && !strings.Contains(rec.Body.String(), `"code":"unauthenticated"`) {
				t.Fatalf("body %s lacks code unauthenticated", rec.Body)
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	admin := auth.Principal{User: "root", Role: api.RoleAdmin}
	aud := auth.Principal{User: "eve", Role: api.RoleAuditor}
	bob := auth.Principal{User: "bob", Role: api.RoleUser}
	tests := []struct {
		p      auth.Principal
		action auth.Action
		owner  string
		ok     bool
	}{
		{admin, auth.SessionsList, "bob", true},
		{aud, auth.SessionsList, "bob", true},
		{bob, auth.SessionsList, "bob", true},
		{bob, auth.SessionsShow, "alice", false},
		{bob, auth.SessionsReplay, "bob", true},
		{aud, auth.SessionsReplay, "bob", true},
		{admin, auth.SessionsKill, "bob", true},
		{aud, auth.SessionsKill, "bob", false},
		{bob, auth.SessionsKill, "bob", false},
		{admin, auth.SessionsConnect, "root", true},
		{bob, auth.SessionsConnect, "bob", true},
		{aud, auth.SessionsConnect, "eve", false},
		{admin, auth.UsersCreate, "", true},
		{bob, auth.UsersCreate, "", false},
		{aud, auth.UsersList, "", false},
		{bob, auth.TokensCreate, "bob", true},
		{bob, auth.TokensCreate, "alice", false},
		{bob, auth.TokensRevoke, "bob", true},
		{admin, auth.TokensRevoke, "bob", true},
		{admin, auth.AgentsRemove, "", true},
		{aud, auth.AgentsList, "", false},
		{bob, auth.PolicyChange, "", false},
		{aud, auth.PolicyList, "", true},
		{aud, auth.AuditList, "", true},
		{bob, auth.AuditList, "", false},
		{bob, auth.ResourcesList, "", true},
		{bob, auth.Action("no.such.action"), "", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.p.Role)+"/"+string(tc.action)+"/"+tc.owner, func(t *testing.T) {
			err := auth.Check(tc.p, tc.action, tc.owner)
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && api.CodeOf(err) != api.CodeForbidden {
				t.Fatalf("code %s, want forbidden", api.CodeOf(err))
			}
		})
	}
	if err := auth.CheckAny(bob, auth.SessionsList); err != nil {
		t.Errorf("user may list own sessions: %v", err)
	}
	if err := auth.CheckAny(aud, auth.SessionsKill); err == nil {
		t.Errorf("auditor may not kill")
	}
}

func TestCreateEnrollToken(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Now()
	pin := "sha256:" + strings.Repeat("ab", 32)
	et, err := auth.CreateEnrollToken(ctx, st, pin, 0, "root", now)
	if err != nil {
		t.Fatal(err)
	}
	secret, pinHex, ok := strings.Cut(et.Token, ".")
	if !ok || pinHex != strings.Repeat("ab", 32) || et.CAPin != pin {
		t.Fatalf("token %q pin %q", et.Token, et.CAPin)
	}
	if !et.ExpiresAt.Equal(now.UTC().Add(auth.DefaultEnrollTTL)) {
		t.Fatalf("expires %v", et.ExpiresAt)
	}
	if err := st.ConsumeEnrollToken(ctx, auth.HashSecret(secret), now); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if err := st.ConsumeEnrollToken(ctx, auth.HashSecret(secret), now); err == nil {
		t.Fatalf("token consumed twice")
	}
}
