package sessions

import (
	"context"
	"slices"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// terminateNoticeWait is how long a kill of an SSH session lets the agent
// close the person's connections itself after the terminate command, so
// that the notice it writes on the person's terminal gets there before
// control cuts the connections.
const terminateNoticeWait = 300 * time.Millisecond

// recordFile stores a file operation the agent reported on the session
// stream (SFTP, scp). A report for another session or with an unknown
// operation is logged and dropped.
func (m *Manager) recordFile(l *live, e *api.FileEvent) {
	log := m.cfg.Logger.With("session_id", l.id)
	if e == nil {
		log.Warn("file report without a file event")
		return
	}
	ev := *e
	ev.SessionID = l.id
	if !slices.Contains(api.FileOps, ev.Op) {
		log.Warn("file report with an unknown operation dropped", "op", ev.Op)
		return
	}
	if ev.Time.IsZero() {
		ev.Time = m.now()
	}
	if l.webConsole.Load() && ev.Protocol == "sftp" {
		// The SFTP client was control's own, run for a browser.
		ev.Protocol = "web"
	}
	if ev.Result == "" {
		ev.Result = "ok"
		if ev.Error != "" {
			ev.Result = "error"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.cfg.Store.AddFileEvent(ctx, ev); err != nil {
		log.Error("store file event", "op", ev.Op, "path", ev.Path, "err", err)
		return
	}
	log.Info("file activity", "protocol", ev.Protocol, "op", ev.Op, "path", ev.Path, "path2", ev.Path2,
		"bytes", ev.Bytes, "result", ev.Result, "error", ev.Error)
}

// awaitConnsClosed waits until every data connection of the session has
// ended (the agent closed them), at most d.
func (l *live) awaitConnsClosed(d time.Duration) {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		l.mu.Lock()
		n := len(l.conns)
		l.mu.Unlock()
		if n == 0 || !time.Now().Before(deadline) {
			return
		}
		<-tick.C
	}
}

// MarkWebConsole records that session id is driven by the web console
// (control runs the SSH client for a browser): the agent reports its file
// transfers as SFTP, and they are stored as protocol "web".
func (m *Manager) MarkWebConsole(id string) {
	if l := m.get(id); l != nil {
		l.webConsole.Store(true)
	}
}
