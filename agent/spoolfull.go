package agent

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/agent/spool"
	"github.com/onepam/onepam/pkg/api"
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
	}
}

// spoolFull applies the recording mode when a recording hits the spool
// limit. Fail-closed: every running session ends, failed with "recording
// spool full" (new ones are refused by spool.Create). Fail-open: the
// session goes on unrecorded and control is told of the gap
// (api.ReportRecordingGap), which it puts on the session's timeline and in
// the audit log.
func (a *Agent) spoolFull(sessionID string, err error) {
	if a.cfg.RecordingMode == record.FailOpen {
		s := a.sessions.ready(sessionID)
		if s == nil {
			return
		}
		msg := fmt.Sprintf("recording stopped at session time %s: %v; the session goes on unrecorded (fail-open)", a.sessionTime(s), err)
		s.log.Warn("recording gap", "err", err)
		if werr := s.write(api.SessionReport{Type: api.ReportRecordingGap, Error: msg}); werr != nil {
			s.log.Debug("send recording gap report", "err", werr)
		}
		return
	}
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
