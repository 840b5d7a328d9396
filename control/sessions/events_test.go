package sessions

import (
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

func TestSubscribe(t *testing.T) {
	e := newEnv(t, envOptions{})
	events, cancel := e.m.Subscribe()
	defer cancel()
	next := func() Event {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("subscription closed")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no session event within 10 s")
		}
		return Event{}
	}

	s, err := e.m.Create(e.ctx, bob, api.CreateSessionRequest{Resource: "echo"}, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	lead, err := e.attach(bob, s.ID, api.ChannelEvents, nil)
	if err != nil {
		t.Fatal(err)
	}
	lead.event(t)
	if _, err := e.m.Kill(e.ctx, alice, s.ID, "done", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind   string
		status api.SessionStatus
	}{
		{EventKindCreated, api.StatusPending},
		{EventKindChanged, api.StatusActive},
		{EventKindEnded, api.StatusTerminated},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			ev := next()
			if ev.Kind != tc.kind || ev.Session.ID != s.ID || ev.Session.Status != tc.status || ev.Session.User != "bob" || ev.Session.ClientIP != "192.0.2.7" {
				t.Fatalf("event %s %+v, want %s with status %s", ev.Kind, ev.Session, tc.kind, tc.status)
			}
		})
	}

	t.Run("a subscriber that falls behind is dropped", func(t *testing.T) {
		slow, cancelSlow := e.m.Subscribe()
		defer cancelSlow()
		for range subscriberBuffer + 1 {
			e.m.publish(EventKindChanged, api.Session{ID: "x"})
		}
		n := 0
		for range slow {
			n++
		}
		if n != subscriberBuffer {
			t.Fatalf("read %d events before the close, want %d", n, subscriberBuffer)
		}
	})
	t.Run("shutdown closes subscriptions", func(t *testing.T) {
		ch, cancel := e.m.Subscribe()
		defer cancel()
		e.m.Shutdown(time.Second)
		for range ch {
		}
		late, cancelLate := e.m.Subscribe()
		defer cancelLate()
		if _, ok := <-late; ok {
			t.Fatal("subscription after shutdown got an event")
		}
	})
}
