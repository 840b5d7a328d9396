package sqlite_test

import (
	"errors"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func TestBulkInsertSessions(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(i int) api.Session {
		created := base.Add(time.Duration(i) * time.Second)
		return api.Session{ID: store.IDAt(created), User: "alice", Type: api.TypeSSH, Status: api.StatusCompleted,
			Resource: "web", CreatedAt: created, StartedAt: &created, EndedAt: &created,
			Timeline: []api.TimelineEvent{
				{Time: created, Event: api.EventCreated, Status: api.StatusPending},
				{Time: created, Event: api.EventStarted, Status: api.StatusActive},
				{Time: created, Event: api.EventCompleted, Status: api.StatusCompleted},
			}}
	}
	// More than one multi-row chunk of sessions and of timeline events,
	// plus a remainder.
	const n = 333
	batch := make([]api.Session, n)
	for i := range batch {
		batch[i] = mk(i)
	}
	if err := s.BulkInsertSessions(ctx, batch); err != nil {
		t.Fatalf("bulk insert: %v", err)
	}
	count := func() int64 {
		t.Helper()
		c, err := s.CountSessions(ctx)
		if err != nil {
			t.Fatalf("count: %v", err)
		}
		return c[api.TypeSSH][api.StatusCompleted] + c[api.TypeTCP][api.StatusPending]
	}
	if got := count(); got != n {
		t.Fatalf("count after bulk insert: %d, want %d", got, n)
	}
	got, err := s.GetSession(ctx, batch[200].ID)
	if err != nil || len(got.Timeline) != 3 || got.Timeline[2].Event != api.EventCompleted {
		t.Fatalf("bulk inserted session: %+v, %v", got, err)
	}

	t.Run("conflict-inserts-nothing", func(t *testing.T) {
		again := []api.Session{mk(n + 1), batch[5], mk(n + 2)}
		err := s.BulkInsertSessions(ctx, again)
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("bulk insert of a taken id: %v, want ErrConflict", err)
		}
		if got := count(); got != n {
			t.Fatalf("count after a failed bulk insert: %d, want %d", got, n)
		}
		// The write connection is still usable.
		p := api.Session{ID: store.NewID(), User: "bob", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo"}
		if err := s.CreateSession(ctx, p); err != nil {
			t.Fatalf("create after a failed bulk insert: %v", err)
		}
		if got := count(); got != n+1 {
			t.Fatalf("count: %d, want %d", got, n+1)
		}
	})
	t.Run("invalid-inserts-nothing", func(t *testing.T) {
		bad := mk(n + 3)
		bad.Type = "gopher"
		if err := s.BulkInsertSessions(ctx, []api.Session{mk(n + 4), bad}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bulk insert of an invalid session: %v, want ErrInvalid", err)
		}
		if got := count(); got != n+1 {
			t.Fatalf("count after an invalid bulk insert: %d, want %d", got, n+1)
		}
	})
}
