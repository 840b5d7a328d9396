package auth

import (
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/api"
)

func TestCheckRecording(t *testing.T) {
	admin := Principal{User: "alice", Role: api.RoleAdmin}
	auditor := Principal{User: "carol", Role: api.RoleAuditor}
	bob := Principal{User: "bob", Role: api.RoleUser}
	nobody := Principal{User: "x", Role: api.Role("guest")}
	tests := []struct {
		name     string
		p        Principal
		owner    string
		usersOwn bool
		denied   string // "" = allowed
	}{
		{"admin, any session", admin, "bob", false, ""},
		{"auditor, any session", auditor, "bob", false, ""},
		{"user, own session, allowed", bob, "bob", true, ""},
		{"user, own session, switched off", bob, "bob", false, "onepam settings recording-access set --users-own on"},
		{"user, another's session", bob, "alice", true, `not those of "alice"`},
		{"user, another's session, switched off", bob, "alice", false, `not those of "alice"`},
		{"unknown role", nobody, "x", true, "does not allow reading recordings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRecording(tc.p, tc.owner, tc.usersOwn)
			if tc.denied == "" {
				if err != nil {
					t.Fatalf("denied: %v", err)
				}
				return
			}
			if api.CodeOf(err) != api.CodeForbidden || !strings.Contains(err.Error(), tc.denied) {
				t.Fatalf("error %v, want forbidden with %q", err, tc.denied)
			}
		})
	}
}
