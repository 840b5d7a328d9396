package agentgw

import (
	"sort"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Stats are the gateway's counters, for metrics.
type Stats struct {
	AgentsOnline      int
	Enrollments       int64 // successful since start
	EnrollmentsDenied int64
	RecordingBytes    int64 // chunk bytes received and stored since start
	RecordingChunks   int64
	Uploads           []UploadStat // open recording streams, by session id
}

// UploadStat describes one open recording stream.
type UploadStat struct {
	SessionID     string
	Format        api.RecordingFormat
	AgentID       string
	Size          int64     // bytes stored
	BytesReceived int64     // chunk bytes received on this stream
	LastAck       time.Time // Config.Clock time of the last acknowledgement
}

// Stats returns a snapshot of the counters.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	s := Stats{AgentsOnline: len(g.agents)}
	for k, up := range g.uploads {
		s.Uploads = append(s.Uploads, UploadStat{
			SessionID: k.sessionID, Format: k.format, AgentID: up.agentID,
			Size: up.size, BytesReceived: up.received, LastAck: up.lastAck,
		})
	}
	g.mu.Unlock()
	sort.Slice(s.Uploads, func(i, j int) bool { return s.Uploads[i].SessionID < s.Uploads[j].SessionID })
	s.Enrollments = g.enrolled.Load()
	s.EnrollmentsDenied = g.enrollDenied.Load()
	s.RecordingBytes = g.recBytes.Load()
	s.RecordingChunks = g.recChunks.Load()
	return s
}
