package sessions

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// bus is an in-memory Notifier: what PostgreSQL's NOTIFY and LISTEN do
// for the relay (control's tests run the relay on PostgreSQL).
type bus struct {
	mu        sync.Mutex
	listeners map[*busListener]struct{}
	pid       uint32
	// failListens makes the next Listen calls fail before listening.
	failListens int
}

type busListener struct {
	pid      uint32
	payloads chan string
	killed   chan struct{}
}

func newBus() *bus { return &bus{listeners: map[*busListener]struct{}{}} }

func (b *bus) Notify(_ context.Context, _ string, payload string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range b.listeners {
		l.payloads <- payload
	}
	return nil
}

func (b *bus) Listen(ctx context.Context, _ string, ready func(pid uint32), handle func(payload string)) error {
	b.mu.Lock()
	if b.failListens > 0 {
		b.failListens--
		b.mu.Unlock()
		return errors.New("test: database unreachable")
	}
	b.pid++
	pid := b.pid
	l := &busListener{pid: pid, payloads: make(chan string, 1024), killed: make(chan struct{})}
	b.listeners[l] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.listeners, l)
		b.mu.Unlock()
	}()
	ready(pid)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.killed:
			return errors.New("test: connection terminated")
		case p := <-l.payloads:
			handle(p)
		}
	}
}

// kill ends the listening connection of pid.
func (b *bus) kill(pid uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range b.listeners {
		if l.pid == pid {
			close(l.killed)
			delete(b.listeners, l)
		}
	}
}

// relayStore is the database of a relay test: GetSession only.
type relayStore struct {
	Store
	mu   sync.Mutex
	rows map[string]api.Session
}

func (s *relayStore) GetSession(_ context.Context, id string) (api.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[id]
	if !ok {
		return api.Session{}, store.ErrNotFound
	}
	return r, nil
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// relayNode is a manager (its hub and its store only) with a running
// relay.
type relayNode struct {
	m     *Manager
	relay *EventRelay
	log   *syncBuffer
}

func startRelayNode(t *testing.T, id string, n Notifier, st *relayStore, cfg RelayConfig) *relayNode {
	t.Helper()
	logs := &syncBuffer{}
	m := &Manager{cfg: Config{Store: st, Node: Node{ID: id}, Logger: slog.New(slog.NewTextHandler(logs, nil))}.withDefaults(),
		live: map[string]*live{}, changed: make(chan struct{})}
	cfg.Notifier = n
	r, err := m.NewEventRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewEventRelay(cfg); err == nil {
		t.Fatal("a second relay of one manager")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay of %s: %v", id, err)
		}
	})
	return &relayNode{m: m, relay: r, log: logs}
}

// waitUntil waits for cond, failing the test after 15 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listening waits until the relay listens for the n-th time.
func (r *relayNode) listening(t *testing.T, n int) RelayStatus {
	t.Helper()
	var st RelayStatus
	waitUntil(t, "the relay to listen", func() bool {
		st = r.relay.Status()
		return st.Listening && st.Listens >= n
	})
	return st
}

// nextEvent returns the next event of ch; ok is false when it was closed.
func nextEvent(t *testing.T, ch <-chan Event) (Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		return ev, ok
	case <-time.After(15 * time.Second):
		t.Fatal("no session event within 15 s")
	}
	return Event{}, false
}

func wantEvent(t *testing.T, ch <-chan Event, kind, id string) Event {
	t.Helper()
	ev, ok := nextEvent(t, ch)
	if !ok {
		t.Fatalf("subscription closed, want %s of %s", kind, id)
	}
	if ev.Kind != kind || ev.Session.ID != id {
		t.Fatalf("event %s of %s, want %s of %s", ev.Kind, ev.Session.ID, kind, id)
	}
	return ev
}

func wantClosed(t *testing.T, ch <-chan Event) {
	t.Helper()
	for {
		ev, ok := nextEvent(t, ch)
		if !ok {
			return
		}
		t.Logf("event %s of %s before the close", ev.Kind, ev.Session.ID)
	}
}

func TestEventRelay(t *testing.T) {
	b := newBus()
	st := &relayStore{rows: map[string]api.Session{}}
	nodeA := startRelayNode(t, "node-a", b, st, RelayConfig{})
	nodeB := startRelayNode(t, "node-b", b, st, RelayConfig{})
	nodeA.listening(t, 1)
	nodeB.listening(t, 1)
	onA, cancelA := nodeA.m.Subscribe()
	onB, cancelB := nodeB.m.Subscribe()
	defer func() { cancelA(); cancelB() }() // the last subscriptions
	s := api.Session{ID: "0197a000-0000-7000-8000-00000000000a", User: "bob", Type: api.TypeTCP, Status: api.StatusPending, NodeID: "node-a"}

	t.Run("another node's events, each once on its own node", func(t *testing.T) {
		for _, kind := range []string{EventKindCreated, EventKindChanged, EventKindEnded} {
			nodeA.m.publish(kind, s)
		}
		for _, kind := range []string{EventKindCreated, EventKindChanged, EventKindEnded} {
			ev := wantEvent(t, onB, kind, s.ID)
			if ev.Session.User != "bob" || ev.Session.NodeID != "node-a" {
				t.Fatalf("B got session %+v", ev.Session)
			}
			wantEvent(t, onA, kind, s.ID)
		}
		// B's event reaches A after A's own notices: nothing of A's came
		// back to A's subscriber meanwhile.
		other := api.Session{ID: "0197a000-0000-7000-8000-00000000000b", NodeID: "node-b"}
		nodeB.m.publish(EventKindCreated, other)
		wantEvent(t, onB, EventKindCreated, other.ID)
		wantEvent(t, onA, EventKindCreated, other.ID)
	})

	t.Run("a session too large for a notice is read from the database", func(t *testing.T) {
		big := s
		big.Error = strings.Repeat("x", 2*maxNoticeBytes)
		big.Status = api.StatusFailed
		st.mu.Lock()
		st.rows[big.ID] = big
		st.mu.Unlock()
		nodeA.m.publish(EventKindEnded, big)
		wantEvent(t, onA, EventKindEnded, big.ID)
		ev := wantEvent(t, onB, EventKindEnded, big.ID)
		if ev.Session.Error != big.Error || ev.Session.Status != api.StatusFailed {
			t.Fatalf("B got status %s and an error of %d bytes", ev.Session.Status, len(ev.Session.Error))
		}
	})

	t.Run("malformed notices are dropped and logged", func(t *testing.T) {
		for _, p := range []string{"", "garbage", `{"v":1,"node":"x","kind":"deleted","id":"a"}`, `{"v":1,"node":"x","kind":"ended","id":"a","session":{"id":"b"}}`} {
			if err := b.Notify(t.Context(), DefaultRelayChannel, p); err != nil {
				t.Fatal(err)
			}
		}
		next := api.Session{ID: "0197a000-0000-7000-8000-00000000000c"}
		nodeA.m.publish(EventKindCreated, next)
		wantEvent(t, onA, EventKindCreated, next.ID)
		wantEvent(t, onB, EventKindCreated, next.ID)
		if got := nodeB.relay.Status().Dropped; got != 4 {
			t.Fatalf("B dropped %d notices, want 4", got)
		}
		if n := strings.Count(nodeB.log.String(), "dropped a malformed notice"); n != 4 {
			t.Fatalf("B logged %d dropped notices, want 4:\n%s", n, nodeB.log)
		}
	})

	t.Run("an unknown session's event makes subscribers reload", func(t *testing.T) {
		if err := b.Notify(t.Context(), DefaultRelayChannel, `{"v":1,"node":"node-c","kind":"ended","id":"0197a000-0000-7000-8000-0000000000ff"}`); err != nil {
			t.Fatal(err)
		}
		wantClosed(t, onB)
		onB, cancelB = nodeB.m.Subscribe()
		wantClosed(t, onA)
		onA, cancelA = nodeA.m.Subscribe()
	})

	t.Run("after its connection is lost the relay listens again and subscribers reload", func(t *testing.T) {
		before := nodeB.relay.Status()
		b.kill(before.PID)
		wantClosed(t, onB)
		after := nodeB.listening(t, before.Listens+1)
		if after.PID == before.PID {
			t.Fatalf("listening again on connection %d", after.PID)
		}
		onB, cancelB = nodeB.m.Subscribe()
		later := api.Session{ID: "0197a000-0000-7000-8000-00000000000d"}
		nodeA.m.publish(EventKindCreated, later)
		wantEvent(t, onB, EventKindCreated, later.ID)
		wantEvent(t, onA, EventKindCreated, later.ID)
		if !strings.Contains(nodeB.log.String(), "listening connection to the database was lost") {
			t.Fatalf("B did not log the loss:\n%s", nodeB.log)
		}
	})
}

// TestEventRelayBackoff checks the waits between attempts to listen:
// doubling up to MaxBackoff while the database cannot be reached, from
// MinBackoff again once the relay listened.
func TestEventRelayBackoff(t *testing.T) {
	b := newBus()
	b.failListens = 5
	var mu sync.Mutex
	var waits []time.Duration
	after := func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	n := startRelayNode(t, "node-a", b, &relayStore{}, RelayConfig{MinBackoff: time.Second, MaxBackoff: 4 * time.Second, After: after})
	st := n.listening(t, 1)
	b.kill(st.PID)
	n.listening(t, 2)
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second, time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}

// TestEventRelayLost checks that events that could not be queued or
// sent make the other nodes' subscribers reload.
func TestEventRelayLost(t *testing.T) {
	b := newBus()
	gate := &gatedNotifier{bus: b, open: make(chan struct{})}
	st := &relayStore{}
	nodeA := startRelayNode(t, "node-a", gate, st, RelayConfig{Queue: 1})
	nodeB := startRelayNode(t, "node-b", b, st, RelayConfig{})
	nodeA.listening(t, 1)
	nodeB.listening(t, 1)
	onB, cancelB := nodeB.m.Subscribe()
	defer cancelB()
	// The sender holds the first event at the gate, the queue holds the
	// second; the third is lost.
	for i := range 3 {
		nodeA.m.publish(EventKindCreated, api.Session{ID: "0197a000-0000-7000-8000-00000000001" + string(rune('0'+i))})
		if i == 0 {
			waitUntil(t, "the first event at the gate", func() bool { return gate.waiting() })
		}
	}
	close(gate.open)
	// The resync follows the event sent when the loss was noticed.
	wantEvent(t, onB, EventKindCreated, "0197a000-0000-7000-8000-000000000010")
	wantClosed(t, onB)
	if !strings.Contains(nodeA.log.String(), "queue to the other control nodes is full") {
		t.Fatalf("A did not log the lost event:\n%s", nodeA.log)
	}
}

// gatedNotifier holds every Notify until open is closed.
type gatedNotifier struct {
	*bus
	open    chan struct{}
	mu      sync.Mutex
	blocked bool
}

func (g *gatedNotifier) Notify(ctx context.Context, channel, payload string) error {
	g.mu.Lock()
	g.blocked = true
	g.mu.Unlock()
	<-g.open
	return g.bus.Notify(ctx, channel, payload)
}

func (g *gatedNotifier) waiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked
}
