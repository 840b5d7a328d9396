package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testPolicy(t *testing.T, open func(t *testing.T) store.Store) {
	rules := []api.PolicyRule{
		{ID: "r-admin", Subject: "role:admin", Resources: []string{"*"}, Logins: []string{"*"}, Description: "admins", CreatedAt: base},
		{ID: "r-alice", Subject: "user:alice", Resources: []string{"pg-*", "echo"}, Types: []api.SessionType{api.TypeDB, api.TypeTCP},
			Labels: map[string]string{"env": "dev"}, Logins: []string{"postgres"}, Databases: []string{"orders", "bi_*"}, CreatedAt: base.Add(time.Second)},
		{ID: "r-users", Subject: "role:user", Types: []api.SessionType{api.TypeTCP}, CreatedAt: base.Add(2 * time.Second)},
	}
	ids := func(rs []api.PolicyRule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	t.Run("add-list-delete", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		for _, r := range rules {
			must(t, s.AddPolicyRule(ctx, r), "add "+r.ID)
		}
		got, err := s.ListPolicyRules(ctx)
		must(t, err, "list")
		wantRules(t, got, rules)
		wantErr(t, s.AddPolicyRule(ctx, rules[0]), store.ErrConflict, "duplicate id")
		must(t, s.DeletePolicyRule(ctx, "r-alice"), "delete")
		wantErr(t, s.DeletePolicyRule(ctx, "r-alice"), store.ErrNotFound, "delete again")
		got, err = s.ListPolicyRules(ctx)
		must(t, err, "list after delete")
		wantRules(t, got, []api.PolicyRule{rules[0], rules[2]})
		must(t, s.AddPolicyRule(ctx, api.PolicyRule{Subject: "user:bob"}), "add without id")
		got, err = s.ListPolicyRules(ctx)
		must(t, err, "list after add")
		if len(got) != 3 || got[2].ID == "" || got[2].CreatedAt.IsZero() || got[2].Subject != "user:bob" {
			t.Fatalf("a rule without id or time was not completed: %+v", got)
		}
	})
	t.Run("replace", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		for _, r := range rules {
			must(t, s.AddPolicyRule(ctx, r), "add "+r.ID)
		}
		next := []api.PolicyRule{rules[2], {ID: "r-new", Subject: "user:carol", Resources: []string{"web"}, CreatedAt: base}, rules[0]}
		must(t, s.ReplacePolicy(ctx, next), "replace")
		got, err := s.ListPolicyRules(ctx)
		must(t, err, "list")
		wantRules(t, got, next)
		// A failing replacement (two rules with one id) changes nothing.
		err = s.ReplacePolicy(ctx, []api.PolicyRule{{ID: "x", Subject: "user:a"}, {ID: "x", Subject: "user:b"}})
		wantErr(t, err, store.ErrConflict, "replace with duplicate ids")
		got, err = s.ListPolicyRules(ctx)
		must(t, err, "list after failed replace")
		if a, b := ids(got), ids(next); len(a) != len(b) || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] {
			t.Fatalf("a failed replace changed the rules: %v, want %v", a, b)
		}
		must(t, s.ReplacePolicy(ctx, nil), "replace with nothing")
		got, err = s.ListPolicyRules(ctx)
		must(t, err, "list after empty replace")
		if len(got) != 0 {
			t.Fatalf("rules after an empty replace: %v", ids(got))
		}
	})
}

// wantRules compares rules field by field (through JSON, so that nil and
// empty lists compare equal as the API shows them).
func wantRules(t *testing.T, got, want []api.PolicyRule) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rules, want %d", len(got), len(want))
	}
	norm := func(r api.PolicyRule) string {
		r.CreatedAt = r.CreatedAt.UTC()
		if len(r.Resources) == 0 {
			r.Resources = nil
		}
		if len(r.Types) == 0 {
			r.Types = nil
		}
		if len(r.Labels) == 0 {
			r.Labels = nil
		}
		if len(r.Databases) == 0 {
			r.Databases = nil
		}
		if len(r.Logins) == 0 {
			r.Logins = nil
		}
		b, _ := json.Marshal(r)
		return string(b)
	}
	for i := range want {
		if g, w := norm(got[i]), norm(want[i]); g != w {
			t.Fatalf("rule %d:\n got %s\nwant %s", i, g, w)
		}
	}
}
