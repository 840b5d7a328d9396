package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/agent/spool"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// registry holds the sessions running on the agent, by id.
type registry struct {
	mu sync.Mutex
	m  map[string]*session
}

func newRegistry() *registry { return &registry{m: map[string]*session{}} }

// reserve claims a session id; false when it is already in use.
func (r *registry) reserve(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[s.id]; ok {
		return false
	}
	r.m[s.id] = s
	return true
}

// ready returns a running session (one whose proxy session is open).
func (r *registry) ready(id string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.m[id]
	if s == nil || s.ps == nil {
		return nil
	}
	return s
}

func (r *registry) setReady(s *session, ps proxy.Session) {
	r.mu.Lock()
	s.ps = ps
	r.mu.Unlock()
}

func (r *registry) remove(s *session) {
	r.mu.Lock()
	if r.m[s.id] == s {
		delete(r.m, s.id)
	}
	r.mu.Unlock()
}

// count returns the number of registered sessions.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// teardownAll ends every session as cut (the link is gone).
func (r *registry) teardownAll(why string) {
	r.mu.Lock()
	all := make([]*session, 0, len(r.m))
	for _, s := range r.m {
		if s.ps != nil {
			all = append(all, s)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() { defer wg.Done(); s.end(endCut, why) }()
	}
	wg.Wait()
}

// session is one session running on the agent.
type session struct {
	a       *Agent
	id      string
	stream  net.Conn
	rec     record.Recorder
	log     *slog.Logger
	ps      proxy.Session // set (under the registry lock) once open
	started time.Time

	failMu     sync.Mutex
	failReason string // set by failWith: the session ends failed

	wmu  sync.Mutex // stream writes
	once sync.Once
	done chan struct{}
}

// How a session ended.
type endKind int

const (
	endNormal endKind = iota // control closed the stream or terminated it: recording complete
	endFailed                // the session broke on the agent: report failed, recording cut
	endCut                   // the link died: nothing can be reported, recording cut
)

func (s *session) write(v any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.stream.SetWriteDeadline(time.Now().Add(s.a.cfg.HandshakeTimeout))
	defer s.stream.SetWriteDeadline(time.Time{})
	return tunnel.WriteFrame(s.stream, v)
}

// end tears the session down once: target connections closed, recording
// finalised, a final report sent when the stream still works, stream
// closed.
func (s *session) end(kind endKind, why string) {
	s.once.Do(func() {
		defer close(s.done)
		if reason := s.forcedFailure(); reason != "" && kind == endNormal {
			kind, why = endFailed, reason
		}
		if s.ps != nil {
			s.ps.Close()
		}
		size, err := s.rec.Finalize(kind != endNormal)
		if err != nil {
			s.log.Error("finalise recording", "err", err)
		}
		s.a.sessions.remove(s)
		if kind == endFailed {
			if err := s.write(api.SessionReport{Type: api.ReportFailed, Error: why}); err != nil {
				s.log.Debug("send failed report", "err", err)
			}
		}
		if kind != endCut {
			if err := s.write(api.SessionReport{Type: api.ReportEnded, RecordingSize: size}); err != nil {
				s.log.Debug("send ended report", "err", err)
			}
		}
		s.stream.Close()
		s.stream.SetReadDeadline(time.Now()) // Close only ends our sending half
		s.log.Info("session ended", "why", why, "recording_size", size, "recording_cut", kind != endNormal)
	})
}

// refuseSession answers a session stream with an error and closes it.
func (a *Agent) refuseSession(st net.Conn, log *slog.Logger, msg string) {
	log.Warn("session refused", "err", msg)
	st.SetWriteDeadline(time.Now().Add(a.cfg.HandshakeTimeout))
	tunnel.WriteFrame(st, api.SessionOpenResult{Error: msg})
	st.Close()
}

// findResource returns the configured resource of that name.
func (a *Agent) findResource(name string) (ResourceConfig, bool) {
	for _, r := range a.cfg.Resources {
		if r.Name == name {
			return r, true
		}
	}
	return ResourceConfig{}, false
}

// serveSession runs a StreamSession: open the session through its proxy,
// answer SessionOpenResult, then follow SessionCommand frames until
// control closes the stream, terminates the session or the link dies.
func (a *Agent) serveSession(ctx context.Context, st net.Conn, body []byte) {
	log := a.cfg.Logger
	var open api.SessionOpen
	if err := tunnel.DecodeHeader(body, &open); err != nil {
		a.refuseSession(st, log, fmt.Sprintf("bad session header: %v", err))
		return
	}
	log = log.With("session", open.SessionID, "resource", open.Resource, "type", open.Type)
	if !spool.ValidID(open.SessionID) {
		a.refuseSession(st, log, fmt.Sprintf("invalid session id %q", open.SessionID))
		return
	}
	res, ok := a.findResource(open.Resource)
	if !ok {
		a.refuseSession(st, log, fmt.Sprintf("resource %q is not served by agent %s", open.Resource, a.id.Name))
		return
	}
	if res.Type != open.Type {
		a.refuseSession(st, log, fmt.Sprintf("resource %q is a %s resource, not %s", res.Name, res.Type, open.Type))
		return
	}
	p, ok := a.cfg.Proxies[res.Protocol]
	if !ok {
		a.refuseSession(st, log, fmt.Sprintf("this agent cannot serve %s sessions", res.Protocol))
		return
	}
	s := &session{a: a, id: open.SessionID, stream: st, log: log, done: make(chan struct{}), started: a.cfg.Clock()}
	if !a.sessions.reserve(s) {
		a.refuseSession(st, log, fmt.Sprintf("session %s is already open on this agent", open.SessionID))
		return
	}
	var sw *spool.Writer
	s.rec = record.Discard()
	if !a.cfg.DisableRecording {
		w, err := a.spool.Create(open.SessionID, api.RecordingFormatFor(open.Type))
		switch {
		case err == nil:
			sw = w
			s.rec = record.New(w, a.cfg.RecordingMode, log)
		case a.cfg.RecordingMode == record.FailOpen:
			log.Error("cannot record the session; it runs unrecorded (fail-open)", "err", err)
		default:
			a.sessions.remove(s)
			a.refuseSession(st, log, fmt.Sprintf("cannot record the session: %v", err))
			return
		}
	}
	info := &proxy.SessionInfo{
		Open:     open,
		Target:   res.target(),
		Recorder: s.rec,
		Logger:   log,
		Clock:    a.cfg.Clock,
		Dial:     a.cfg.Dial,
		Fail:     func(err error) { go s.end(endFailed, err.Error()) },
		Report: func(r api.SessionReport) {
			if err := s.write(r); err != nil {
				log.Debug("send report", "type", r.Type, "err", err)
			}
		},
	}
	ps, err := p.Open(ctx, info)
	if err != nil {
		if sw != nil {
			if aerr := sw.Abort(); aerr != nil {
				log.Error("discard recording", "err", aerr)
			}
		}
		a.sessions.remove(s)
		a.refuseSession(st, log, err.Error())
		return
	}
	a.sessions.setReady(s, ps)
	if err := s.write(api.SessionOpenResult{OK: true}); err != nil {
		s.end(endCut, fmt.Sprintf("answer session open: %v", err))
		return
	}
	log.Info("session started", "user", open.User, "client_ip", open.ClientIP, "target", res.Address)
	if open.MaxDurationSeconds > 0 {
		t := time.AfterFunc(time.Duration(open.MaxDurationSeconds)*time.Second, func() {
			s.end(endNormal, "maximum session duration reached")
		})
		defer t.Stop()
	}
	// Closing the stream (control ended the session, or the link died)
	// makes ReadFrame fail, which ends the loop.
	for {
		var cmd api.SessionCommand
		err := tunnel.ReadFrame(st, &cmd)
		switch {
		case errors.Is(err, io.EOF):
			s.end(endNormal, "control closed the session")
			return
		case errors.Is(err, tunnel.ErrMalformed):
			s.end(endFailed, fmt.Sprintf("bad frame on the session stream: %v", err))
			return
		case err != nil:
			s.end(endCut, fmt.Sprintf("session stream broke: %v", err))
			return
		}
		switch cmd.Type {
		case api.CmdTerminate:
			log.Info("session terminated by control", "actor", cmd.Actor, "reason", cmd.Reason)
			if n, ok := ps.(proxy.Notifier); ok {
				n.Notify("session terminated by an administrator")
			}
			s.end(endNormal, "terminated")
			return
		default:
			log.Warn("unknown session command ignored", "command", cmd.Type)
		}
	}
}

// serveConn runs a StreamConn: find the session and let its proxy carry
// the connection.
func (a *Agent) serveConn(ctx context.Context, st net.Conn, body []byte) {
	defer st.Close()
	refuse := func(msg string) {
		a.cfg.Logger.Warn("connection refused", "err", msg)
		st.SetWriteDeadline(time.Now().Add(a.cfg.HandshakeTimeout))
		tunnel.WriteFrame(st, api.ConnOpenResult{Error: msg})
	}
	var c api.ConnOpen
	if err := tunnel.DecodeHeader(body, &c); err != nil {
		refuse(fmt.Sprintf("bad connection header: %v", err))
		return
	}
	s := a.sessions.ready(c.SessionID)
	if s == nil {
		refuse(fmt.Sprintf("unknown session %q on this agent", c.SessionID))
		return
	}
	if err := s.ps.ServeConn(ctx, st, c); err != nil {
		s.log.Debug("connection ended", "conn", c.ConnID, "err", err)
	}
}
