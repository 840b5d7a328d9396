package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testTransitions(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("every-move", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		i := 0
		for _, from := range api.SessionStatuses {
			for _, to := range api.SessionStatuses {
				i++
				t.Run(fmt.Sprintf("%s-to-%s", from, to), func(t *testing.T) {
					created := base.Add(time.Duration(i) * time.Hour)
					sess := newSession(created, api.TypeTCP, "alice", "echo")
					must(t, s.CreateSession(ctx, sess), "create")
					reach(t, s, sess.ID, from, created)
					before, err := s.GetSession(ctx, sess.ID)
					must(t, err, "get before")
					at := created.Add(time.Minute)
					tr := store.Transition{To: to, At: at, Actor: "bob", Detail: "because", Agent: "agent-9"}
					got, err := s.Transition(ctx, sess.ID, tr)
					if api.CheckTransition(from, to) != nil {
						if !errors.Is(err, api.ErrIllegalTransition) {
							t.Fatalf("%s → %s: got error %v, want an illegal transition", from, to, err)
						}
						after, err := s.GetSession(ctx, sess.ID)
						must(t, err, "get after")
						if after.Status != from || len(after.Timeline) != len(before.Timeline) {
							t.Fatalf("a refused move changed the session: %+v", after)
						}
						return
					}
					must(t, err, "legal move")
					checkMoved(t, before, got, tr)
					stored, err := s.GetSession(ctx, sess.ID)
					must(t, err, "get after")
					if stored.Status != to || len(stored.Timeline) != len(got.Timeline) {
						t.Fatalf("stored session differs from the returned one: %+v vs %+v", stored, got)
					}
				})
			}
		}
	})
	t.Run("defaults-and-duration", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		sess := newSession(base, api.TypeTCP, "alice", "echo")
		must(t, s.CreateSession(ctx, sess), "create")
		_, err := s.Transition(ctx, sess.ID, store.Transition{To: api.StatusActive, At: base.Add(time.Second)})
		must(t, err, "start")
		got, err := s.Transition(ctx, sess.ID, store.Transition{To: api.StatusCompleted, At: base.Add(91500 * time.Millisecond)})
		must(t, err, "complete")
		if got.DurationSeconds != 90.5 {
			t.Fatalf("duration: got %v, want 90.5", got.DurationSeconds)
		}
		if got.Agent != "agent-1" {
			t.Fatalf("a transition without agent changed it: %q", got.Agent)
		}
		sess = newSession(base, api.TypeTCP, "alice", "echo")
		must(t, s.CreateSession(ctx, sess), "create")
		got, err = s.Transition(ctx, sess.ID, store.Transition{To: api.StatusTerminated, Actor: "admin"})
		must(t, err, "terminate pending without time")
		if got.EndedAt == nil || got.EndedAt.IsZero() || got.StartedAt != nil || got.DurationSeconds != 0 {
			t.Fatalf("terminated pending session: %+v", got)
		}
	})
	t.Run("concurrent-end", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		for round := range 5 {
			sess := newSession(base.Add(time.Duration(round)*time.Minute), api.TypeTCP, "alice", "echo")
			must(t, s.CreateSession(ctx, sess), "create")
			reach(t, s, sess.ID, api.StatusActive, sess.CreatedAt)
			const n = 20
			type result struct {
				to  api.SessionStatus
				err error
			}
			results := make([]result, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				to := api.StatusCompleted
				if i%2 == 1 {
					to = api.StatusTerminated
				}
				wg.Go(func() {
					<-start
					_, err := s.Transition(ctx, sess.ID, store.Transition{To: to, At: sess.CreatedAt.Add(time.Hour), Actor: "admin"})
					results[i] = result{to, err}
				})
			}
			close(start)
			wg.Wait()
			var winner api.SessionStatus
			wins := 0
			for _, r := range results {
				if r.err == nil {
					wins++
					winner = r.to
					continue
				}
				if !errors.Is(r.err, api.ErrIllegalTransition) {
					t.Fatalf("a losing transition failed with %v, want an illegal transition", r.err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d of %d racing transitions won, want exactly 1", round, wins, n)
			}
			got, err := s.GetSession(ctx, sess.ID)
			must(t, err, "get")
			if got.Status != winner || len(got.Timeline) != 3 || got.Timeline[2].Status != winner {
				t.Fatalf("round %d: session after the race: status %s, timeline %+v; winner %s", round, got.Status, got.Timeline, winner)
			}
		}
	})
}

// checkMoved checks what a legal transition wrote.
func checkMoved(t *testing.T, before, got api.Session, tr store.Transition) {
	t.Helper()
	if got.Status != tr.To {
		t.Fatalf("status: got %s, want %s", got.Status, tr.To)
	}
	if len(got.Timeline) != len(before.Timeline)+1 {
		t.Fatalf("timeline: got %d events, want %d", len(got.Timeline), len(before.Timeline)+1)
	}
	if got.Agent != tr.Agent {
		t.Fatalf("agent: got %q, want %q", got.Agent, tr.Agent)
	}
	e := got.Timeline[len(got.Timeline)-1]
	if e.Event != api.EventFor(tr.To) || e.Status != tr.To || e.Actor != tr.Actor || e.Detail != tr.Detail {
		t.Fatalf("timeline event: %+v", e)
	}
	sameTime(t, e.Time, tr.At, "event time")
	switch tr.To {
	case api.StatusActive:
		sameTimePtr(t, got.StartedAt, &tr.At, "started_at")
		if got.EndedAt != nil {
			t.Fatalf("active: ended %v", got.EndedAt)
		}
		return
	case api.StatusFailed:
		if got.Error != tr.Detail || got.TerminatedBy != "" {
			t.Fatalf("failed: error %q, terminated_by %q", got.Error, got.TerminatedBy)
		}
	case api.StatusTerminated:
		if got.TerminatedBy != tr.Actor || got.TerminateReason != tr.Detail || got.Error != "" {
			t.Fatalf("terminated: by %q reason %q error %q", got.TerminatedBy, got.TerminateReason, got.Error)
		}
	case api.StatusCompleted:
		if got.Error != "" || got.TerminatedBy != "" {
			t.Fatalf("completed: error %q, terminated_by %q", got.Error, got.TerminatedBy)
		}
	}
	sameTimePtr(t, got.EndedAt, &tr.At, "ended_at")
	sameTimePtr(t, got.StartedAt, before.StartedAt, "started_at unchanged")
	want := 0.0
	if got.StartedAt != nil {
		want = tr.At.Sub(*got.StartedAt).Seconds()
	}
	if got.DurationSeconds != want {
		t.Fatalf("duration: got %v, want %v", got.DurationSeconds, want)
	}
}
