package sessions

import (
	"context"
	"errors"
	"fmt"
	"github.com/onepam/onepam/pkg/relay"
	"io"
	"net"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Attachment is a connection of a session that the agent accepted: the
// caller answers the person (101 Switching Protocols) and hands the
// person's connection to Serve, or calls Abort when it cannot.
type Attachment struct {
	m      *Manager
	l      *live
	lead   bool  // the session ends when this connection closes
	events bool  // the events channel (no data)
	c      *conn // the data connection; nil for events
	used   bool
}

// SessionID returns the id of the attached session.
func (a *Attachment) SessionID() string { return a.l.id }

// Attach prepares a connection of session id for p. channel is
// api.ChannelEvents or api.ChannelData ("" = data). The first connection
// of a pending session is its lead: the session stream is opened and the
// agent's answer makes the session active, or failed (a target_failed
// error carrying the agent's error). Data connections get their own
// stream to the agent. Errors are *api.Error: not_found, forbidden (not
// the owner), conflict (already ended), terminated, target_failed,
// other_node (carried by another live control node), unavailable.
func (m *Manager) Attach(ctx context.Context, p auth.Principal, id, channel, clientAddr string) (*Attachment, error) {
	if m.closing.Load() {
		return nil, api.Errorf(api.CodeUnavailable, "control server is shutting down: try again in a moment")
	}
	if channel == "" {
		channel = api.ChannelData
	}
	if channel != api.ChannelData && channel != api.ChannelEvents {
		return nil, api.Errorf(api.CodeInvalid, "unknown channel %q: want %s, %s or %s", channel, api.ChannelData, api.ChannelEvents, api.ChannelMux)
	}
	l, err := m.lookup(ctx, p, id)
	if err != nil {
		return nil, err
	}

	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return nil, l.endedErr()
	}
	lead := !l.leadClaimed
	if channel == api.ChannelEvents && !lead {
		l.mu.Unlock()
		return nil, api.Errorf(api.CodeConflict, "session %s already has its lead connection: attach with channel=data", id)
	}
	l.leadClaimed = true
	l.mu.Unlock()

	if lead {
		if err := m.openSession(ctx, l); err != nil {
			return nil, err
		}
	} else if err := l.waitActive(ctx); err != nil {
		return nil, err
	}
	a := &Attachment{m: m, l: l, lead: lead, events: channel == api.ChannelEvents}
	if a.events {
		// Counted under the lock, so that an ending that already waits for
		// the connections never sees a late Add.
		l.mu.Lock()
		if l.ended {
			l.mu.Unlock()
			return nil, l.endedErr()
		}
		l.wg.Add(1)
		l.mu.Unlock()
		return a, nil
	}
	c, err := m.openConn(ctx, l, clientAddr)
	if err != nil {
		if lead {
			m.finish(l, store.Transition{To: api.StatusFailed, Detail: err.Error()}, "")
		}
		return nil, err
	}
	a.c = c
	return a, nil
}

// lookup finds the live session id that p may connect to: p needs the
// connect permission and must own it. A session this control server does
// not run is not_found, ended (with why), or a conflict.
func (m *Manager) lookup(ctx context.Context, p auth.Principal, id string) (*live, error) {
	if err := auth.Check(p, auth.SessionsConnect, p.User); err != nil {
		return nil, err
	}
	l := m.get(id)
	if l == nil {
		s, err := m.cfg.Store.GetSession(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid):
			return nil, api.Errorf(api.CodeNotFound, "session %s not found", id)
		case err != nil:
			return nil, fmt.Errorf("get session %s: %w", id, err)
		case s.User != p.User:
			return nil, notOwner(id, s.User)
		case s.Status.Terminal():
			return nil, endedError(id, s.Status, s.Error)
		}
		if err := m.sessionElsewhere(ctx, s); err != nil {
			return nil, err
		}
		return nil, api.Errorf(api.CodeConflict, "session %s is not run by this control server", id)
	}
	if l.user != p.User {
		return nil, notOwner(id, l.user)
	}
	return l, nil
}

// waitActive waits until the lead's attach finished and returns nil when
// that made the session active, why not otherwise.
func (l *live) waitActive(ctx context.Context) error {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	ended, st := l.ended, l.status
	l.mu.Unlock()
	if ended || st != api.StatusActive {
		return l.endedErr()
	}
	return nil
}

func notOwner(id, owner string) error {
	return api.Errorf(api.CodeForbidden, "session %s belongs to user %q: only its owner can connect to it", id, owner)
}

func (l *live) endedErr() error {
	l.mu.Lock()
	st, final := l.status, l.final
	l.mu.Unlock()
	if !st.Terminal() {
		return api.Errorf(api.CodeConflict, "session %s is not active (%s)", l.id, st)
	}
	errText := ""
	if final != nil {
		errText = final.Error
	}
	return endedError(l.id, st, errText)
}

// openSession opens the session stream and waits for the agent's answer.
func (m *Manager) openSession(ctx context.Context, l *live) error {
	defer l.markReady()
	hdr := api.SessionOpen{
		SessionID: l.id, Type: l.typ, Resource: l.resource, Login: l.login, Database: l.database,
		User: l.user, ClientIP: l.clientIP, CreatedAt: l.createdAt,
	}
	fail := func(detail string) error {
		m.finish(l, store.Transition{To: api.StatusFailed, Detail: detail}, "")
		return api.Errorf(api.CodeTargetFailed, "%s", detail)
	}
	stream, err := m.cfg.Gateway.OpenStream(ctx, l.agentID, api.StreamSession, hdr)
	if err != nil {
		return fail(fmt.Sprintf("cannot reach agent %q: %v", l.agentName, err))
	}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		abortAgent(stream)
		return l.endedErr()
	}
	l.stream = stream
	l.mu.Unlock()

	var res api.SessionOpenResult
	_ = stream.SetReadDeadline(time.Now().Add(m.cfg.OpenTimeout))
	err = tunnel.ReadFrame(stream, &res)
	_ = stream.SetReadDeadline(time.Time{})
	if err != nil {
		if l.isEnded() {
			return l.endedErr()
		}
		return fail(fmt.Sprintf("agent %q did not open the session: %v", l.agentName, err))
	}
	if !res.OK {
		if res.Error == "" {
			res.Error = "the agent refused the session"
		}
		return fail(res.Error)
	}

	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return l.endedErr()
	}
	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	started, err := m.transition(tctx, l.id, store.Transition{To: api.StatusActive, Agent: l.agentName})
	cancel()
	if err == nil {
		l.status = api.StatusActive
		m.cfg.Metrics.SessionStarted(l.id, l.typ)
	}
	l.mu.Unlock()
	if err != nil {
		m.finish(l, store.Transition{To: api.StatusFailed, Detail: "record session start: " + err.Error()}, "")
		return err
	}
	m.Overlay(&started)
	m.publish(EventKindChanged, started)
	m.cfg.Logger.Info("session active", "session_id", l.id, "agent", l.agentName, "resource", l.resource)
	go m.readReports(l, stream)
	return nil
}

func (l *live) isEnded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// readReports follows the agent's reports on the session stream until it
// closes; a break while the session runs fails it.
func (m *Manager) readReports(l *live, stream net.Conn) {
	sawEnded := false
	for {
		var r api.SessionReport
		err := tunnel.ReadFrame(stream, &r)
		if err != nil {
			if l.isEnded() {
				return
			}
			if sawEnded {
				m.finish(l, store.Transition{To: api.StatusCompleted, Detail: "ended by the agent"}, "session ended by the agent")
				return
			}
			detail := errAgentLost
			if errors.Is(err, tunnel.ErrMalformed) {
				detail = "agent sent a malformed report: " + err.Error()
			}
			m.cfg.Logger.Warn("session stream broke", "session_id", l.id, "err", err)
			m.finish(l, store.Transition{To: api.StatusFailed, Detail: detail}, "")
			return
		}
		switch r.Type {
		case api.ReportFailed:
			if r.Error == "" {
				r.Error = "the agent reported a failure"
			}
			m.finish(l, store.Transition{To: api.StatusFailed, Detail: r.Error}, "")
		case api.ReportFile:
			m.recordFile(l, r.File)
		case api.ReportRecordingGap:
			m.recordingGap(l, r.Error)
		case api.ReportEnded:
			sawEnded = true
			m.cfg.Logger.Debug("agent finalised session", "session_id", l.id, "recording_size", r.RecordingSize)
		default:
			m.cfg.Logger.Warn("unknown session report", "session_id", l.id, "type", r.Type)
		}
	}
}

// openConn opens a data connection's stream and waits for the agent's
// answer.
func (m *Manager) openConn(ctx context.Context, l *live, clientAddr string) (*conn, error) {
	id := l.nextConn.Add(1)
	agentConn, err := m.cfg.Gateway.OpenStream(ctx, l.agentID, api.StreamConn, api.ConnOpen{SessionID: l.id, ConnID: id, ClientAddr: clientAddr})
	if err != nil {
		return nil, api.Errorf(api.CodeTargetFailed, "cannot reach agent %q: %v", l.agentName, err)
	}
	c := &conn{id: id, agent: agentConn}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		abortAgent(agentConn)
		return nil, l.endedErr()
	}
	l.conns[id] = c
	l.wg.Add(1)
	l.mu.Unlock()

	var res api.ConnOpenResult
	_ = agentConn.SetReadDeadline(time.Now().Add(m.cfg.OpenTimeout))
	err = tunnel.ReadFrame(agentConn, &res)
	_ = agentConn.SetReadDeadline(time.Time{})
	if err == nil && !res.OK {
		if res.Error == "" {
			res.Error = "the agent refused the connection"
		}
		err = errors.New(res.Error)
	}
	if err != nil {
		l.dropConn(c)
		abortAgent(agentConn)
		if l.isEnded() {
			return nil, l.endedErr()
		}
		if errors.Is(err, io.EOF) || errors.Is(err, tunnel.ErrMalformed) || errors.Is(err, net.ErrClosed) {
			err = fmt.Errorf("agent %q did not open the connection: %w", l.agentName, err)
		}
		m.cfg.Logger.Info("connection refused by the agent", "session_id", l.id, "conn_id", id, "err", err)
		return nil, api.Errorf(api.CodeTargetFailed, "%v", err)
	}
	return c, nil
}

func (l *live) dropConn(c *conn) {
	l.mu.Lock()
	delete(l.conns, c.id)
	l.mu.Unlock()
	l.wg.Done()
}

// Abort gives up an attachment whose person could not be answered (the
// upgrade failed). A lead's session fails.
func (a *Attachment) Abort(reason string) {
	if a.used {
		return
	}
	a.used = true
	if a.c != nil {
		abortAgent(a.c.agent)
		a.l.dropConn(a.c)
	} else {
		a.l.wg.Done()
	}
	if a.lead {
		a.m.finish(a.l, store.Transition{To: api.StatusFailed, Detail: reason}, "")
	}
}

// Serve runs the attached connection with the person's connection client
// until it ends. buffered holds bytes the person sent that were already
// read (after the upgrade request); they are forwarded first. Serve closes
// client.
func (a *Attachment) Serve(client net.Conn, buffered []byte) {
	if a.used {
		_ = client.Close()
		return
	}
	a.used = true
	if a.events {
		a.serveEvents(client)
		return
	}
	l := a.l
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		abortAgent(a.c.agent)
		closeClient(client)
		l.dropConn(a.c)
		return
	}
	a.c.client = client
	l.mu.Unlock()

	if len(buffered) > 0 {
		// Bytes the HTTP server read past the upgrade request.
		l.up.Add(int64(len(buffered)))
		if _, err := a.c.agent.Write(buffered); err != nil {
			relay.Abort(client)
			relay.Abort(a.c.agent)
		}
	}
	_ = relay.Splice(client, a.c.agent, &l.up, &l.down)

	l.dropConn(a.c)
	a.m.flush(l)
	if a.lead {
		if agentLinkDead(a.c.agent) {
			// The agent's end closed because its link died, not because
			// the target or the person ended the connection.
			a.m.finish(l, store.Transition{To: api.StatusFailed, Detail: errAgentLost}, "")
			return
		}
		a.m.finish(l, store.Transition{To: api.StatusCompleted}, "")
	}
}

// serveEvents writes the session's event lines to the lead's events
// channel and ends the session (completed) when the person closes it.
func (a *Attachment) serveEvents(client net.Conn) {
	l := a.l
	l.mu.Lock()
	if l.ended {
		final := l.final
		l.mu.Unlock()
		if final != nil {
			l.writeEvent(client, *final)
		}
		closeClient(client)
		l.wg.Done()
		return
	}
	l.events = client
	l.eventsMu.Lock() // the first line goes out before any other
	l.mu.Unlock()
	writeEventLocked(client, api.SessionEvent{Time: a.m.now(), Status: api.StatusActive, Message: fmt.Sprintf("session active: connected to %s", l.resource)})
	l.eventsMu.Unlock()

	_, _ = io.Copy(io.Discard, client)
	_ = client.Close()
	l.wg.Done()
	a.m.finish(l, store.Transition{To: api.StatusCompleted}, "")
}
