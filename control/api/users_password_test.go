package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// TestSetUserPassword: an admin sets anyone's console password, a person
// their own, nobody else's; each change is audited without the password.
func TestSetUserPassword(t *testing.T) {
	ta := newTestAPI(t)
	ctx := context.Background()
	tests := []struct {
		name, caller, target, body string
		status                     int
		works                      string // the password that checks afterwards ("" none)
	}{
		{"admin sets bob's", "alice", "bob", `{"password":"bob pw 1"}`, http.StatusNoContent, "bob pw 1"},
		{"bob sets his own", "bob", "bob", `{"password":"bob pw 2"}`, http.StatusNoContent, "bob pw 2"},
		{"bob may not set carol's", "bob", "carol", `{"password":"x"}`, http.StatusForbidden, ""},
		{"auditor may not set bob's", "carol", "bob", `{"password":"x"}`, http.StatusForbidden, ""},
		{"unknown user", "alice", "nobody", `{"password":"x"}`, http.StatusNotFound, ""},
		{"too long", "alice", "carol", `{"password":"` + strings.Repeat("x", 80) + `"}`, http.StatusBadRequest, ""},
		{"unknown field", "alice", "carol", `{"pasword":"x"}`, http.StatusBadRequest, ""},
		{"no token", "", "carol", `{"password":"x"}`, http.StatusUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ta.call(tc.caller, "PUT", "/v1/users/"+tc.target+"/password", tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.works != "" {
				if _, err := ta.store.CheckUserPassword(ctx, tc.target, tc.works); err != nil {
					t.Fatalf("the new password does not check: %v", err)
				}
			}
		})
	}
	t.Run("remove", func(t *testing.T) {
		if status, body := ta.call("alice", "PUT", "/v1/users/bob/password", `{"password":""}`); status != http.StatusNoContent {
			t.Fatalf("%d %s", status, body)
		}
		if _, err := ta.store.CheckUserPassword(ctx, "bob", "bob pw 2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("password after removal: %v", err)
		}
	})
	t.Run("audited without the password", func(t *testing.T) {
		evs, err := ta.store.ListAudit(ctx, store.AuditFilter{Action: "user.password"})
		if err != nil {
			t.Fatal(err)
		}
		var ok int
		for _, e := range evs {
			if strings.Contains(e.Detail, "pw") {
				t.Fatalf("audit event holds the password: %+v", e)
			}
			if e.Outcome == api.OutcomeSuccess {
				ok++
			}
		}
		if ok != 3 {
			t.Fatalf("%d successful user.password events, want 3: %+v", ok, evs)
		}
	})
}
