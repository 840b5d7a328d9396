package storetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// listFixture is 1,000 sessions one minute apart with known attributes.
type listFixture struct {
	sessions []api.Session // oldest first, as stored
}

const listSessions = 1000

func buildListFixture(t *testing.T, s store.Store) listFixture {
	t.Helper()
	ctx := ctxT(t)
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	var fx listFixture
	for i := range listSessions {
		created := base.Add(time.Duration(i) * time.Minute)
		sess := newSession(created, api.SessionTypes[i%len(api.SessionTypes)], users[i%len(users)], fmt.Sprintf("res-%d", i%11))
		must(t, s.CreateSession(ctx, sess), "create")
		var status api.SessionStatus
		switch i % 13 {
		case 0:
			status = api.StatusPending
		case 1:
			status = api.StatusActive
		case 2, 3:
			status = api.StatusFailed
		case 4:
			status = api.StatusTerminated
		default:
			status = api.StatusCompleted
		}
		reach(t, s, sess.ID, status, created)
		sess.Status = status
		fx.sessions = append(fx.sessions, sess)
	}
	return fx
}

// expect returns the ids matching f, newest first, computed from the
// fixture.
func (fx listFixture) expect(f store.SessionFilter) []string {
	var out []string
	for i := len(fx.sessions) - 1; i >= 0; i-- {
		s := fx.sessions[i]
		if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, s.Status) ||
			len(f.Types) > 0 && !slices.Contains(f.Types, s.Type) ||
			len(f.Users) > 0 && !slices.Contains(f.Users, s.User) ||
			len(f.Resources) > 0 && !slices.Contains(f.Resources, s.Resource) ||
			!f.Since.IsZero() && s.CreatedAt.Before(f.Since) ||
			!f.Until.IsZero() && !s.CreatedAt.Before(f.Until) {
			continue
		}
		out = append(out, s.ID)
	}
	return out
}

// walk reads every page of f and returns the ids in order.
func walk(t *testing.T, s store.Store, f store.SessionFilter) []string {
	t.Helper()
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	var ids []string
	for pages := 0; ; pages++ {
		if pages > listSessions+1 {
			t.Fatalf("pagination does not end")
		}
		page, next, err := s.ListSessions(ctxT(t), f)
		must(t, err, "list page")
		if len(page) > limit {
			t.Fatalf("page of %d sessions, limit %d", len(page), limit)
		}
		if next != "" && len(page) != limit {
			t.Fatalf("a short page (%d of %d) has a next cursor", len(page), limit)
		}
		for _, sess := range page {
			want := 1 // created, then started if it started, then the end
			if sess.StartedAt != nil {
				want++
			}
			if sess.Status.Terminal() {
				want++
			}
			if len(sess.Timeline) != want {
				t.Fatalf("session %s (%s) has %d timeline events, want %d", sess.ID, sess.Status, len(sess.Timeline), want)
			}
			ids = append(ids, sess.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
}

func testListSessions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	fx := buildListFixture(t, s)
	at := func(i int) time.Time { return fx.sessions[i].CreatedAt }
	st := func(v ...api.SessionStatus) []api.SessionStatus { return v }
	ty := func(v ...api.SessionType) []api.SessionType { return v }

	t.Run("walk", func(t *testing.T) {
		tests := []struct {
			name string
			f    store.SessionFilter
		}{
			{"no filter, default limit", store.SessionFilter{}},
			{"no filter, limit 7", store.SessionFilter{Limit: 7}},
			{"no filter, limit 1000", store.SessionFilter{Limit: 1000}},
			{"no filter, limit 1", store.SessionFilter{Limit: 1}},
			{"status active", store.SessionFilter{Statuses: st(api.StatusActive)}},
			{"status active, type tcp", store.SessionFilter{Statuses: st(api.StatusActive), Types: ty(api.TypeTCP), Limit: 3}},
			{"statuses completed+failed", store.SessionFilter{Statuses: st(api.StatusCompleted, api.StatusFailed), Limit: 37}},
			{"repeated status", store.SessionFilter{Statuses: st(api.StatusFailed, api.StatusFailed), Limit: 20}},
			{"every status and type", store.SessionFilter{Statuses: api.SessionStatuses, Types: api.SessionTypes, Limit: 99}},
			{"types ssh+db+tcp, statuses 2", store.SessionFilter{Types: ty(api.TypeSSH, api.TypeDB, api.TypeTCP),
				Statuses: st(api.StatusCompleted, api.StatusTerminated), Limit: 11}},
			{"type rdp", store.SessionFilter{Types: ty(api.TypeRDP), Limit: 13}},
			{"user", store.SessionFilter{Users: []string{"carol"}, Limit: 17}},
			{"users 2, status", store.SessionFilter{Users: []string{"alice", "grace"}, Statuses: st(api.StatusCompleted)}},
			{"resource", store.SessionFilter{Resources: []string{"res-3"}, Limit: 9}},
			{"resources 2", store.SessionFilter{Resources: []string{"res-3", "res-10"}, Limit: 9}},
			{"user and resource", store.SessionFilter{Users: []string{"bob"}, Resources: []string{"res-1", "res-2", "res-5"}}},
			{"everything", store.SessionFilter{Statuses: st(api.StatusCompleted, api.StatusActive), Types: ty(api.TypeSSH, api.TypeTCP),
				Users: []string{"alice", "bob", "dave"}, Resources: []string{"res-1", "res-4", "res-7", "res-8"},
				Since: at(100), Until: at(900), Limit: 4}},
			{"window", store.SessionFilter{Since: at(250), Until: at(750), Limit: 64}},
			{"window and status", store.SessionFilter{Since: at(250), Until: at(750), Statuses: st(api.StatusFailed), Limit: 5}},
			{"since only", store.SessionFilter{Since: at(990)}},
			{"until only", store.SessionFilter{Until: at(10)}},
			{"nothing matches", store.SessionFilter{Users: []string{"nobody"}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := walk(t, s, tc.f)
				want := fx.expect(tc.f)
				if !slices.Equal(got, want) {
					t.Fatalf("got %d ids, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
				}
				seen := map[string]bool{}
				for _, id := range got {
					if seen[id] {
						t.Fatalf("id %s listed twice", id)
					}
					seen[id] = true
				}
			})
		}
	})

	t.Run("since-until-bounds", func(t *testing.T) {
		ns := time.Nanosecond
		tests := []struct {
			name        string
			since, till time.Time
			first, last int // newest and oldest index expected
		}{
			{"exact bounds", at(10), at(20), 19, 10},
			{"since just after", at(10).Add(ns), at(20), 19, 11},
			{"until just after", at(10), at(20).Add(ns), 20, 10},
			{"since just before", at(10).Add(-ns), at(20).Add(-ns), 19, 10},
			{"millisecond bounds", at(10).Truncate(time.Millisecond), at(20).Truncate(time.Millisecond), 19, 10},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := walk(t, s, store.SessionFilter{Since: tc.since, Until: tc.till, Limit: 1000})
				if len(got) != tc.first-tc.last+1 || got[0] != fx.sessions[tc.first].ID || got[len(got)-1] != fx.sessions[tc.last].ID {
					t.Fatalf("got %d sessions, want %d..%d", len(got), tc.last, tc.first)
				}
			})
		}
	})

	t.Run("single-session-fields", func(t *testing.T) {
		page, _, err := s.ListSessions(ctxT(t), store.SessionFilter{Statuses: st(api.StatusTerminated), Limit: 1})
		must(t, err, "list")
		got, err := s.GetSession(ctxT(t), page[0].ID)
		must(t, err, "get")
		a, _ := json.Marshal(page[0])
		b, _ := json.Marshal(got)
		if string(a) != string(b) {
			t.Fatalf("listed session differs from GetSession:\n%s\n%s", a, b)
		}
	})

	t.Run("bad-arguments", func(t *testing.T) {
		v4 := base64.RawURLEncoding.EncodeToString([]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x41, 0xd1, 0x80, 0xb4, 0, 0xc0, 0x4f, 0xd4, 0x30, 0xc8})
		tests := []struct {
			name string
			f    store.SessionFilter
		}{
			{"garbage cursor", store.SessionFilter{Cursor: "garbage!!"}},
			{"short cursor", store.SessionFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("short"))}},
			{"cursor of a non-v7 uuid", store.SessionFilter{Cursor: v4}},
			{"cursor that is a raw id", store.SessionFilter{Cursor: fx.sessions[5].ID}},
			{"limit too big", store.SessionFilter{Limit: 1001}},
			{"negative limit", store.SessionFilter{Limit: -1}},
			{"unknown status", store.SessionFilter{Statuses: st("running")}},
			{"unknown type", store.SessionFilter{Types: ty("telnet")}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := s.ListSessions(ctxT(t), tc.f)
				wantErr(t, err, store.ErrInvalid, tc.name)
			})
		}
	})

	t.Run("new-sessions-do-not-disturb-a-walk", func(t *testing.T) {
		ctx := ctxT(t)
		page, next, err := s.ListSessions(ctx, store.SessionFilter{Limit: 100})
		must(t, err, "first page")
		// A session created after the first page was read is newer than
		// every cursor and never shows up in the rest of the walk.
		late := newSession(at(listSessions-1).Add(time.Hour), api.TypeTCP, "alice", "res-1")
		must(t, s.CreateSession(ctx, late), "create late")
		rest := walk(t, s, store.SessionFilter{Limit: 100, Cursor: next})
		var got []string
		for _, p := range page {
			got = append(got, p.ID)
		}
		got = append(got, rest...)
		if want := fx.expect(store.SessionFilter{}); !slices.Equal(got, want) {
			t.Fatalf("walk with a concurrent insert: got %d ids, want %d", len(got), len(want))
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testSeed(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	now := base.Add(24 * time.Hour)
	const n = 3000
	must(t, Seed(ctx, s, n, now), "seed")
	counts, err := s.CountSessions(ctx)
	must(t, err, "count")
	var total, running int64
	types := 0
	for _, byStatus := range counts {
		types++
		for st, c := range byStatus {
			total += c
			if !st.Terminal() {
				running += c
			}
		}
	}
	if total != n {
		t.Fatalf("seeded %d sessions, want %d", total, n)
	}
	if running == 0 || running > n/100 {
		t.Fatalf("seeded %d running sessions, want a few", running)
	}
	if types != len(api.SessionTypes) {
		t.Fatalf("seeded %d types, want all %d", types, len(api.SessionTypes))
	}
	all := walk(t, s, store.SessionFilter{Limit: 1000})
	if len(all) != n {
		t.Fatalf("walked %d seeded sessions, want %d", len(all), n)
	}
	for _, id := range all[:50] {
		sess, err := s.GetSession(ctx, id)
		must(t, err, "get seeded")
		if sess.CreatedAt.After(now) || sess.User == "" || sess.Resource == "" {
			t.Fatalf("seeded session: %+v", sess)
		}
	}
}
