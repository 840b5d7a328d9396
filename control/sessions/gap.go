package sessions

import (
	"context"
	"net"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/pkg/api"
)

// errAgentLost is the error of a running session whose agent's link to
// control died: the agent crashed, was killed or its host or network
// failed. What the agent had spooled is uploaded when it is back.
const errAgentLost = "agent lost: its connection to control dropped"

// recordingGap records an agent's api.ReportRecordingGap (the recording
// stopped at the agent's spool limit while the session goes on,
// fail-open) as the audit event "recording.gap" on the session.
func (m *Manager) recordingGap(l *live, detail string) {
	if detail == "" {
		detail = "the recording stopped; the session goes on unrecorded"
	}
	m.cfg.Logger.Warn("recording gap", "session_id", l.id, "agent", l.agentName, "detail", detail)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.audit(ctx, api.AuditEvent{Actor: "agent:" + l.agentName, Action: "recording.gap", Target: l.id, Outcome: api.OutcomeError, Detail: detail})
}

// agentLinkDead reports whether a stream to an agent ended because the
// agent's whole link (its yamux session) died: a killed agent's streams
// read a clean EOF, like a connection its target closed.
func agentLinkDead(c net.Conn) bool {
	st, ok := c.(interface{ Session() *yamux.Session })
	return ok && st.Session() != nil && st.Session().IsClosed()
}
