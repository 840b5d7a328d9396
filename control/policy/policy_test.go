package policy

import (
	"strings"
	"testing"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

func TestAllowed(t *testing.T) {
	bob := auth.Principal{User: "bob", Role: api.RoleUser}
	root := auth.Principal{User: "root", Role: api.RoleAdmin}
	pg := api.Resource{Name: "pg-prod", Type: api.TypeTCP, Labels: map[string]string{"env": "prod", "team": "db"}}
	web := api.Resource{Name: "web-1", Type: api.TypeSSH, Labels: map[string]string{"env": "staging"}}
	seed := api.PolicyRule{Subject: "role:admin", Resources: []string{"*"}, Logins: []string{"*"}}

	tests := []struct {
		name  string
		rules []api.PolicyRule
		p     auth.Principal
		res   api.Resource
		login string
		want  bool
		db    string
	}{
		{"databases empty allow any", []api.PolicyRule{{Subject: "user:bob"}}, bob, pg, "", true, "orders"},
		{"database glob", []api.PolicyRule{{Subject: "user:bob", Databases: []string{"ord*"}}}, bob, pg, "", true, "orders"},
		{"database glob misses", []api.PolicyRule{{Subject: "user:bob", Databases: []string{"ord*"}}}, bob, pg, "", false, "billing"},
		{"no rules", nil, bob, pg, "", false, ""},
		{"seed rule lets admin in with any login", []api.PolicyRule{seed}, root, web, "ubuntu", true, ""},
		{"seed rule lets admin in without login", []api.PolicyRule{seed}, root, pg, "", true, ""},
		{"seed rule does not apply to users", []api.PolicyRule{seed}, bob, pg, "", false, ""},
		{"user subject", []api.PolicyRule{{Subject: "user:bob"}}, bob, pg, "", true, ""},
		{"other user subject", []api.PolicyRule{{Subject: "user:alice"}}, bob, pg, "", false, ""},
		{"role subject", []api.PolicyRule{{Subject: "role:user"}}, bob, pg, "", true, ""},
		{"malformed subject never matches", []api.PolicyRule{{Subject: "bob"}}, bob, pg, "", false, ""},
		{"name glob matches", []api.PolicyRule{{Subject: "user:bob", Resources: []string{"pg-*"}}}, bob, pg, "", true, ""},
		{"name glob misses", []api.PolicyRule{{Subject: "user:bob", Resources: []string{"web-*"}}}, bob, pg, "", false, ""},
		{"second glob matches", []api.PolicyRule{{Subject: "user:bob", Resources: []string{"web-*", "pg-?rod"}}}, bob, pg, "", true, ""},
		{"bad glob never matches", []api.PolicyRule{{Subject: "user:bob", Resources: []string{"pg-["}}}, bob, pg, "", false, ""},
		{"type allowed", []api.PolicyRule{{Subject: "user:bob", Types: []api.SessionType{api.TypeTCP}}}, bob, pg, "", true, ""},
		{"type refused", []api.PolicyRule{{Subject: "user:bob", Types: []api.SessionType{api.TypeSSH}}}, bob, pg, "", false, ""},
		{"label equal", []api.PolicyRule{{Subject: "user:bob", Labels: map[string]string{"env": "prod"}}}, bob, pg, "", true, ""},
		{"label differs", []api.PolicyRule{{Subject: "user:bob", Labels: map[string]string{"env": "staging"}}}, bob, pg, "", false, ""},
		{"label any value", []api.PolicyRule{{Subject: "user:bob", Labels: map[string]string{"team": "*"}}}, bob, pg, "", true, ""},
		{"label absent", []api.PolicyRule{{Subject: "user:bob", Labels: map[string]string{"team": "*"}}}, bob, web, "", false, ""},
		{"all labels required", []api.PolicyRule{{Subject: "user:bob", Labels: map[string]string{"env": "prod", "team": "web"}}}, bob, pg, "", false, ""},
		{"empty logins allow no login", []api.PolicyRule{{Subject: "user:bob"}}, bob, web, "", true, ""},
		{"empty logins refuse a login", []api.PolicyRule{{Subject: "user:bob"}}, bob, web, "ubuntu", false, ""},
		{"login glob", []api.PolicyRule{{Subject: "user:bob", Logins: []string{"ub*"}}}, bob, web, "ubuntu", true, ""},
		{"login glob misses", []api.PolicyRule{{Subject: "user:bob", Logins: []string{"ub*"}}}, bob, web, "root", false, ""},
		{"login star allows empty", []api.PolicyRule{{Subject: "user:bob", Logins: []string{"*"}}}, bob, pg, "", true, ""},
		{"one of several rules", []api.PolicyRule{
			{Subject: "user:bob", Types: []api.SessionType{api.TypeSSH}},
			{Subject: "role:user", Resources: []string{"pg-prod"}},
		}, bob, pg, "", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := Allowed(tc.rules, tc.p, tc.res, Access{Login: tc.login, Database: tc.db})
			if ok != tc.want {
				t.Fatalf("Allowed = %v (%s), want %v", ok, reason, tc.want)
			}
			if ok && reason != "" {
				t.Errorf("allowed with reason %q", reason)
			}
			if !ok && (strings.Contains(reason, "\n") || !strings.Contains(reason, "onepam policy add")) {
				t.Errorf("deny reason %q is not one actionable line", reason)
			}
		})
	}
}

func TestDenyReason(t *testing.T) {
	bob := auth.Principal{User: "bob", Role: api.RoleUser}
	pg := api.Resource{Name: "pg", Type: api.TypeTCP}
	_, reason := Allowed([]api.PolicyRule{{Subject: "user:bob", Resources: []string{"web"}}}, bob, pg, Access{})
	want := `policy denies user "bob" access to resource "pg" (type tcp) with login "": no rule matches; ask an admin to add one with onepam policy add`
	if reason != want {
		t.Errorf("reason\n got %s\nwant %s", reason, want)
	}
	_, reason = Allowed(nil, bob, pg, Access{})
	if !strings.Contains(reason, `no rule applies to user "bob" or role user`) {
		t.Errorf("reason without applicable rules: %s", reason)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		rule    api.PolicyRule
		wantErr string
	}{
		{"seed", api.PolicyRule{Subject: "role:admin", Resources: []string{"*"}, Logins: []string{"*"}}, ""},
		{"user with everything", api.PolicyRule{Subject: "user:bob", Resources: []string{"pg-*"}, Types: []api.SessionType{api.TypeDB}, Labels: map[string]string{"env": "*"}, Logins: []string{"ro_*"}}, ""},
		{"no subject", api.PolicyRule{}, "want role:<role> or user:<name>"},
		{"subject kind", api.PolicyRule{Subject: "group:x"}, "want role:<role> or user:<name>"},
		{"empty user", api.PolicyRule{Subject: "user:"}, "want role:<role> or user:<name>"},
		{"unknown role", api.PolicyRule{Subject: "role:root"}, "unknown role"},
		{"bad resource glob", api.PolicyRule{Subject: "user:bob", Resources: []string{"a["}}, "resource glob"},
		{"empty login glob", api.PolicyRule{Subject: "user:bob", Logins: []string{""}}, "login glob"},
		{"bad type", api.PolicyRule{Subject: "user:bob", Types: []api.SessionType{"ftp"}}, `type "ftp"`},
		{"empty label key", api.PolicyRule{Subject: "user:bob", Labels: map[string]string{"": "x"}}, "empty label key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.rule)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
