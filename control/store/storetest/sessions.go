package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// newSession returns a pending session created at created.
func newSession(created time.Time, typ api.SessionType, user, resource string) api.Session {
	return api.Session{
		ID: store.IDAt(created), User: user, Type: typ, Status: api.StatusPending,
		Resource: resource, Agent: "agent-1", ClientIP: "127.0.0.1", CreatedAt: created,
	}
}

// reach moves a new session to status along the shortest legal path.
func reach(t *testing.T, s store.Store, id string, status api.SessionStatus, at time.Time) {
	t.Helper()
	ctx := ctxT(t)
	var path []api.SessionStatus
	switch status {
	case api.StatusPending:
	case api.StatusActive:
		path = []api.SessionStatus{api.StatusActive}
	default:
		path = []api.SessionStatus{api.StatusActive, status}
	}
	for i, st := range path {
		_, err := s.Transition(ctx, id, store.Transition{To: st, At: at.Add(time.Duration(i+1) * time.Second)})
		must(t, err, "reach "+string(st))
	}
}

func testSessions(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("create-get", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		want := newSession(base, api.TypeSSH, "alice", "web")
		want.Login = "root"
		want.NodeID = "node-1"
		must(t, s.CreateSession(ctx, want), "create")
		got, err := s.GetSession(ctx, want.ID)
		must(t, err, "get")
		if got.ID != want.ID || got.User != "alice" || got.Type != api.TypeSSH || got.Status != api.StatusPending || got.NodeID != "node-1" ||
			got.Resource != "web" || got.Agent != "agent-1" || got.Login != "root" || got.ClientIP != "127.0.0.1" ||
			got.StartedAt != nil || got.EndedAt != nil || got.DurationSeconds != 0 || got.BytesUp != 0 || got.BytesDown != 0 ||
			got.Error != "" || got.TerminatedBy != "" || got.TerminateReason != "" {
			t.Fatalf("get: got %+v, want %+v", got, want)
		}
		sameTime(t, got.CreatedAt, base, "created_at")
		if got.Recording != (api.Recording{Format: api.FormatAsciicast, State: api.RecordingNone}) {
			t.Fatalf("default recording: %+v", got.Recording)
		}
		if len(got.Timeline) != 1 {
			t.Fatalf("timeline: %+v", got.Timeline)
		}
		e := got.Timeline[0]
		if e.Event != api.EventCreated || e.Status != api.StatusPending || e.Actor != "alice" {
			t.Fatalf("created event: %+v", e)
		}
		sameTime(t, e.Time, base, "created event time")

		noTime := newSession(base, api.TypeTCP, "bob", "echo")
		noTime.CreatedAt = time.Time{}
		must(t, s.CreateSession(ctx, noTime), "create without created_at")
		got, err = s.GetSession(ctx, noTime.ID)
		must(t, err, "get")
		sameTime(t, got.CreatedAt, base.Truncate(time.Millisecond), "created_at taken from the id")
	})
	t.Run("create-errors", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		ok := newSession(base, api.TypeTCP, "alice", "echo")
		must(t, s.CreateSession(ctx, ok), "create")
		active := newSession(base, api.TypeTCP, "alice", "echo")
		active.Status = api.StatusActive
		badType := newSession(base, "gopher", "alice", "echo")
		upper := newSession(base, api.TypeTCP, "alice", "echo")
		upper.ID = "0195" + "5A3C-0000-7000-8000-000000000000"
		v4 := newSession(base, api.TypeTCP, "alice", "echo")
		v4.ID = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"
		tests := []struct {
			name   string
			s      api.Session
			target error
		}{
			{"duplicate id", ok, store.ErrConflict},
			{"not pending", active, store.ErrInvalid},
			{"unknown type", badType, store.ErrInvalid},
			{"uppercase id", upper, store.ErrInvalid},
			{"uuid v4 id", v4, store.ErrInvalid},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, s.CreateSession(ctx, tc.s), tc.target, tc.name) })
		}
		missing := store.IDAt(base)
		_, err := s.GetSession(ctx, missing)
		wantErr(t, err, store.ErrNotFound, "get missing")
		_, err = s.Transition(ctx, missing, store.Transition{To: api.StatusActive})
		wantErr(t, err, store.ErrNotFound, "transition missing")
		wantErr(t, s.AddSessionBytes(ctx, missing, 1, 1), store.ErrNotFound, "bytes of missing")
		wantErr(t, s.SetRecording(ctx, missing, api.Recording{}), store.ErrNotFound, "recording of missing")
		wantErr(t, s.AddSessionBytes(ctx, ok.ID, -1, 0), store.ErrInvalid, "negative bytes")
	})
	t.Run("bytes-concurrent", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		sess := newSession(base, api.TypeTCP, "alice", "echo")
		must(t, s.CreateSession(ctx, sess), "create")
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() { errs <- s.AddSessionBytes(ctx, sess.ID, 3, 1000) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err, "add bytes")
		}
		got, err := s.GetSession(ctx, sess.ID)
		must(t, err, "get")
		if got.BytesUp != 3*n || got.BytesDown != 1000*n {
			t.Fatalf("bytes: up %d down %d, want %d and %d", got.BytesUp, got.BytesDown, 3*n, 1000*n)
		}
	})
	t.Run("recording", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		sess := newSession(base, api.TypeTCP, "alice", "echo")
		must(t, s.CreateSession(ctx, sess), "create")
		for _, r := range []api.Recording{
			{Format: api.FormatConnlog, State: api.RecordingRecording, Size: 100},
			{Format: api.FormatConnlog, State: api.RecordingComplete, Size: 4096, Available: true},
			{Format: api.FormatConnlog, State: api.RecordingExpired},
		} {
			must(t, s.SetRecording(ctx, sess.ID, r), "set recording")
			got, err := s.GetSession(ctx, sess.ID)
			must(t, err, "get")
			if got.Recording != r {
				t.Fatalf("recording: got %+v, want %+v", got.Recording, r)
			}
		}
	})
	t.Run("unfinished-and-count", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		type row struct {
			typ    api.SessionType
			status api.SessionStatus
			agent  string
		}
		rows := []row{
			{api.TypeTCP, api.StatusPending, "a1"},
			{api.TypeTCP, api.StatusActive, "a1"},
			{api.TypeSSH, api.StatusActive, "a2"},
			{api.TypeSSH, api.StatusCompleted, "a1"},
			{api.TypeTCP, api.StatusFailed, "a1"},
			{api.TypeTCP, api.StatusFailed, "a2"},
			{api.TypeDB, api.StatusTerminated, "a2"},
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			sess := newSession(base.Add(time.Duration(i)*time.Minute), r.typ, "alice", "x")
			sess.Agent = r.agent
			must(t, s.CreateSession(ctx, sess), "create")
			reach(t, s, sess.ID, r.status, sess.CreatedAt)
			ids[i] = sess.ID
		}
		for _, tc := range []struct {
			agent string
			want  []int
		}{{"", []int{0, 1, 2}}, {"a1", []int{0, 1}}, {"a2", []int{2}}, {"a3", nil}} {
			got, err := s.UnfinishedSessions(ctx, tc.agent)
			must(t, err, "unfinished")
			if len(got) != len(tc.want) {
				t.Fatalf("unfinished %q: got %d sessions, want %d", tc.agent, len(got), len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].ID != ids[w] || len(got[i].Timeline) == 0 {
					t.Fatalf("unfinished %q [%d]: got %s (timeline %d), want %s", tc.agent, i, got[i].ID, len(got[i].Timeline), ids[w])
				}
			}
		}
		counts, err := s.CountSessions(ctx)
		must(t, err, "count")
		want := map[api.SessionType]map[api.SessionStatus]int64{
			api.TypeTCP: {api.StatusPending: 1, api.StatusActive: 1, api.StatusFailed: 2},
			api.TypeSSH: {api.StatusActive: 1, api.StatusCompleted: 1},
			api.TypeDB:  {api.StatusTerminated: 1},
		}
		if len(counts) != len(want) {
			t.Fatalf("counts: got %v, want %v", counts, want)
		}
		for typ, byStatus := range want {
			if len(counts[typ]) != len(byStatus) {
				t.Fatalf("counts of %s: got %v, want %v", typ, counts[typ], byStatus)
			}
			for st, n := range byStatus {
				if counts[typ][st] != n {
					t.Fatalf("count %s/%s: got %d, want %d", typ, st, counts[typ][st], n)
				}
			}
		}
	})
}
