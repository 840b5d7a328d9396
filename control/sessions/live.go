package sessions

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Bounds of the teardown of a session.
const (
	// eventWriteTimeout bounds writing a line to the events channel or a
	// command to the agent at the end of a session.
	eventWriteTimeout = 300 * time.Millisecond
	// closeTimeout bounds a graceful close of a client connection (TLS
	// close_notify) before its socket is closed outright.
	closeTimeout = 250 * time.Millisecond
	// teardownWait bounds the wait for a session's connection goroutines
	// before its final byte counts are written.
	teardownWait = 5 * time.Second
	// reportLinger bounds reading the agent's last reports after control
	// closed the session stream.
	reportLinger = 10 * time.Second
)

// live is a running session: its connections, counters and state.
type live struct {
	m                      *Manager
	id, agentID            string
	agentName, user        string
	resource, login        string
	clientIP               string
	typ                    api.SessionType
	createdAt              time.Time
	up, down               atomic.Int64 // bytes person → target, target → person
	nextConn               atomic.Int64 // last ConnID handed out
	wg                     sync.WaitGroup
	ready                  chan struct{} // closed when the lead attach finished (either way)
	readyOnce              sync.Once
	eventsMu               sync.Mutex // serialises writes to events
	flushMu                sync.Mutex
	flushedUp, flushedDown int64

	mu          sync.Mutex
	status      api.SessionStatus
	leadClaimed bool
	ended       bool
	final       *api.SessionEvent // the last event line, once ended
	database    string            // db sessions: the database asked for
	webConsole  atomic.Bool       // driven by the web console (its file transfers are protocol "web")
	stream      net.Conn          // the session stream to the agent
	events      net.Conn          // the person's events channel, once upgraded
	conns       map[int64]*conn
	muxes       map[*yamux.Session]struct{} // the person's channel=mux connections
}

// conn is one data connection of a session.
type conn struct {
	id     int64
	agent  net.Conn // the StreamConn
	client net.Conn // the person's upgraded connection, once spliced
}

func newLive(m *Manager, s api.Session, agentID string) *live {
	return &live{
		m: m, id: s.ID, agentID: agentID, agentName: s.Agent, user: s.User,
		resource: s.Resource, login: s.Login, clientIP: s.ClientIP, typ: s.Type,
		createdAt: s.CreatedAt, status: api.StatusPending,
		ready: make(chan struct{}), conns: map[int64]*conn{},
	}
}

func (l *live) markReady() { l.readyOnce.Do(func() { close(l.ready) }) }

// sendEvent writes one JSON line to the events channel, if attached.
func (l *live) sendEvent(ev api.SessionEvent) {
	l.mu.Lock()
	ec := l.events
	l.mu.Unlock()
	if ec != nil {
		l.writeEvent(ec, ev)
	}
}

func (l *live) writeEvent(ec net.Conn, ev api.SessionEvent) {
	l.eventsMu.Lock()
	defer l.eventsMu.Unlock()
	writeEventLocked(ec, ev)
}

// writeEventLocked writes one event line; the caller holds eventsMu.
func writeEventLocked(ec net.Conn, ev api.SessionEvent) {
	line, err := json.Marshal(ev)
	if err != nil {
		return
	}
	line = append(line, '\n')
	_ = ec.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	_, _ = ec.Write(line)
	_ = ec.SetWriteDeadline(time.Time{})
}

// finish ends a session: the first caller wins; it applies the transition
// in the store, writes the last event line (message, when not empty),
// closes every connection of the session and the session stream, and,
// in the background, waits for the connection goroutines, writes the final
// byte counts and removes the session from the registry. Later callers get
// a conflict (or terminated) error.
func (m *Manager) finish(l *live, t store.Transition, message string) (api.Session, error) {
	return m.end(l, t, message, nil)
}

// end is finish; with stored set, the session already reached t.To in
// the store (ended through another control node) and stored is its row:
// only the live side is ended.
func (m *Manager) end(l *live, t store.Transition, message string, stored *api.Session) (api.Session, error) {
	if t.At.IsZero() {
		t.At = m.now()
	}
	l.mu.Lock()
	if l.ended {
		st, final := l.status, l.final
		l.mu.Unlock()
		errText := ""
		if final != nil {
			errText = final.Error
		}
		return api.Session{}, endedError(l.id, st, errText)
	}
	l.ended = true
	wasActive := l.status == api.StatusActive
	l.status = t.To
	ev := &api.SessionEvent{Time: t.At, Status: t.To, Message: message}
	if t.To == api.StatusFailed {
		ev.Error = t.Detail
		if message == "" {
			ev.Message = "session failed: " + t.Detail
		}
	}
	if t.To == api.StatusCompleted && message == "" {
		ev.Message = "session completed"
	}
	l.final = ev
	stream, events := l.stream, l.events
	conns := make([]*conn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	muxes := make([]*yamux.Session, 0, len(l.muxes))
	for mx := range l.muxes {
		muxes = append(muxes, mx)
	}
	l.mu.Unlock()
	l.markReady()

	var (
		s   api.Session
		err error
	)
	if stored != nil {
		s = *stored
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err = m.transition(ctx, l.id, t)
		cancel()
		if err != nil {
			m.cfg.Logger.Error("end session", "session_id", l.id, "to", t.To, "err", err)
		}
	}
	m.cfg.Metrics.SessionEnded(l.id, l.typ, t.To, wasActive)
	m.cfg.Logger.Info("session ended", "session_id", l.id, "status", t.To, "actor", t.Actor, "detail", t.Detail)

	// Tell the person, then the agent, then cut every connection.
	if events != nil {
		l.writeEvent(events, *ev)
	}
	if stream != nil {
		if t.To == api.StatusTerminated {
			_ = stream.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
			_ = tunnel.WriteFrame(stream, api.SessionCommand{Type: api.CmdTerminate, Actor: t.Actor, Reason: t.Detail})
		}
		_ = stream.Close()
		_ = stream.SetReadDeadline(time.Now().Add(reportLinger))
		if t.To == api.StatusTerminated && l.typ == api.TypeSSH {
			// The agent writes the notice on the person's terminal and
			// closes the connections; cut them only if it does not.
			l.awaitConnsClosed(terminateNoticeWait)
		}
	}
	var closing sync.WaitGroup
	for _, c := range conns {
		closing.Add(1)
		go func() {
			defer closing.Done()
			abortAgent(c.agent)
			if c.client != nil {
				closeClient(c.client)
			}
		}()
	}
	if events != nil {
		closing.Add(1)
		go func() { defer closing.Done(); closeClient(events) }()
	}
	closing.Wait()
	for _, mx := range muxes {
		_ = mx.Close()
	}

	go func() {
		waitGroupTimeout(&l.wg, teardownWait)
		m.flush(l)
		m.unregister(l)
	}()
	if err != nil {
		return api.Session{}, err
	}
	m.Overlay(&s)
	m.publish(EventKindEnded, s)
	return s, nil
}

// abortAgent closes a stream to the agent at once: the agent sees the
// close, and local reads blocked on it return.
func abortAgent(c net.Conn) {
	if c == nil {
		return
	}
	_ = c.Close()
	_ = c.SetReadDeadline(time.Now())
}

// closeClient closes a person's connection, gracefully when that is quick
// (TLS close_notify), at the socket otherwise.
func closeClient(c net.Conn) {
	done := make(chan struct{})
	go func() {
		_ = c.Close()
		close(done)
	}()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
			_ = nc.NetConn().Close()
		}
	}
}

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
