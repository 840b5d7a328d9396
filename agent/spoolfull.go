package agent

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/agent/spool"
	"github.com/onepam/onepam/pkg/api"
)

// RecorderFlush is how often buffering recorders (the terminal recorder)
// hand their bytes to the spool, and SpoolFlush how soon the spool makes
// them durable: a crash loses at most their sum, under one second.
const (
	RecorderFlush = 400 * time.Millisecond
	SpoolFlush    = 500 * time.Millisecond
)

// spoolConfig is the recording spool's configuration.
func (a *Agent) spoolConfig() spool.Config {
	limit := a.cfg.SpoolLimit
	if limit < 0 {
		limit = 0
	}
	return spool.Config{
		Dir:      filepath.Join(a.cfg.DataDir, spoolDir),
		Logger:   a.cfg.Logger.With("part", "spool"),
		Clock:    a.cfg.Clock,
		AgentID:  a.id.AgentID,
		Signer:   a.signer,
		Limit:    limit,
		FailOpen: a.cfg.RecordingMode == record.FailOpen,
		OnFull:   a.spoolFull,

		FlushInterval: SpoolFlush,
	}
}

// spoolFull applies the recording mode when a recording hits the spool
// limit. Fail-closed: every running session ends, failed with "recording
// spool full" (new ones are refused by spool.Create). Fail-open: the
// session goes on unrecorded and control is told of the gap
// (api.ReportRecordingGap), which it puts on the session's timeline and in
// the audit log.
//
// It is called under the recording's lock (spool.Config.OnFull), so it only
// marks the session and leaves the rest to a goroutine.
func (a *Agent) spoolFull(sessionID string, err error) {
	s := a.sessions.ready(sessionID)
	if a.cfg.RecordingMode == record.FailOpen {
		if s == nil {
			return
		}
		msg := fmt.Sprintf("recording stopped at session time %s: %v; the session goes on unrecorded (fail-open)", a.sessionTime(s), err)
		s.log.Warn("recording gap", "err", err)
		go func() {
			if werr := s.write(api.SessionReport{Type: api.ReportRecordingGap, Error: msg}); werr != nil {
				s.log.Debug("send recording gap report", "err", werr)
			}
		}()
		return
	}
	if s != nil {
		// However the session ends now (the proxy closes it on the failed
		// write, the person disconnects), it ends failed; control hears it
		// before the proxy reacts to the failed write.
		s.failWith(err.Error())
		if werr := s.write(api.SessionReport{Type: api.ReportFailed, Error: err.Error()}); werr != nil {
			s.log.Debug("send failed report", "err", werr)
		}
	}
	go a.endAllFailed(err)
}

// endAllFailed ends every running session, failed (fail-closed at the
// spool limit).
func (a *Agent) endAllFailed(err error) {
	msg := err.Error()
	a.cfg.Logger.Error("recording spool full: ending every session (fail-closed)", "err", err)
	a.sessions.mu.Lock()
	all := make([]*session, 0, len(a.sessions.m))
	for _, s := range a.sessions.m {
		if s.ps != nil {
			all = append(all, s)
		}
	}
	a.sessions.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() { defer wg.Done(); s.end(endFailed, msg) }()
	}
	wg.Wait()
}

// sessionTime is how long a session has been running, to the second.
func (a *Agent) sessionTime(s *session) string {
	if s.ps == nil {
		return "0s"
	}
	return a.cfg.Clock().Sub(s.started).Round(1e9).String()
}

// failWith makes the session end failed with why, however it ends.
func (s *session) failWith(why string) {
	s.failMu.Lock()
	if s.failReason == "" {
		s.failReason = why
	}
	s.failMu.Unlock()
}

// forcedFailure returns the reason set by failWith.
func (s *session) forcedFailure() string {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failReason
}
