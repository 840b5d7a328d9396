package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testAudit(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	events := []api.AuditEvent{
		{Actor: "alice", Action: "user.create", Target: "bob", Outcome: api.OutcomeSuccess},
		{Actor: "bob", Action: "session.denied", Target: "pg", Outcome: api.OutcomeDenied, Detail: "no rule", ClientIP: "127.0.0.1"},
		{Actor: "alice", Action: "session.kill", Target: "s1", Outcome: api.OutcomeSuccess, Fields: map[string]string{"reason": "test"}},
		{Actor: "system", Action: "agent.revoke", Target: "web", Outcome: api.OutcomeSuccess},
		{Actor: "alice", Action: "sessionx.other", Target: "x", Outcome: api.OutcomeError},
	}
	for i := range events {
		events[i].Time = base.Add(time.Duration(i) * time.Minute)
		events[i].ID = store.IDAt(events[i].Time)
		must(t, s.AddAudit(ctx, events[i]), "add")
	}
	wantErr(t, s.AddAudit(ctx, events[0]), store.ErrConflict, "duplicate id")
	wantErr(t, s.AddAudit(ctx, api.AuditEvent{ID: "not-a-uuid", Actor: "x"}), store.ErrInvalid, "bad id")

	tests := []struct {
		name string
		f    store.AuditFilter
		want []int // indexes into events, newest first
	}{
		{"all", store.AuditFilter{}, []int{4, 3, 2, 1, 0}},
		{"actor", store.AuditFilter{Actor: "alice"}, []int{4, 2, 0}},
		{"action prefix", store.AuditFilter{Action: "session."}, []int{2, 1}},
		{"exact action", store.AuditFilter{Action: "user.create"}, []int{0}},
		{"since", store.AuditFilter{Since: events[2].Time}, []int{4, 3, 2}},
		{"since just after", store.AuditFilter{Since: events[2].Time.Add(time.Nanosecond)}, []int{4, 3}},
		{"limit", store.AuditFilter{Limit: 2}, []int{4, 3}},
		{"all filters", store.AuditFilter{Actor: "alice", Action: "session", Since: events[1].Time, Limit: 5}, []int{4, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.f)
			must(t, err, "list")
			var gotIDs, wantIDs []string
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			for _, i := range tc.want {
				wantIDs = append(wantIDs, events[i].ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") {
				t.Fatalf("got %v, want %v", gotIDs, wantIDs)
			}
		})
	}
	got, err := s.ListAudit(ctx, store.AuditFilter{Action: "session.kill"})
	must(t, err, "list kill")
	if len(got) != 1 || fmt.Sprint(got[0].Fields) != "map[reason:test]" || got[0].Target != "s1" || got[0].Outcome != api.OutcomeSuccess {
		t.Fatalf("kill event: %+v", got)
	}
	sameTime(t, got[0].Time, events[2].Time, "time")
	got, err = s.ListAudit(ctx, store.AuditFilter{Actor: "bob"})
	must(t, err, "list bob")
	if e := got[0]; e.Detail != "no rule" || e.ClientIP != "127.0.0.1" || e.Fields != nil {
		t.Fatalf("bob's event: %+v", e)
	}
	must(t, s.AddAudit(ctx, api.AuditEvent{Actor: "zed", Action: "user.create"}), "add without id and time")
	got, err = s.ListAudit(ctx, store.AuditFilter{Actor: "zed"})
	must(t, err, "list zed")
	if len(got) != 1 || got[0].ID == "" || got[0].Time.IsZero() {
		t.Fatalf("an event without id and time was not completed: %+v", got)
	}
}
