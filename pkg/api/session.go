package api

import "time"

// Session is the JSON object of one session, as returned by
// GET /v1/sessions, GET /v1/sessions/{id} and `onepam sessions ls|show -o json`.
// Its field names are stable (documented in docs/cli.md).
type Session struct {
	ID              string          `json:"id"`               // UUIDv7, time-ordered
	User            string          `json:"user"`             // the person who connected
	Type            SessionType     `json:"type"`             // ssh, rdp, vnc, db, http, tcp
	Status          SessionStatus   `json:"status"`           // pending, active, completed, terminated, failed
	Resource        string          `json:"resource"`         // resource name
	Agent           string          `json:"agent"`            // name of the agent that serves the resource
	NodeID          string          `json:"node_id"`          // the control node that carries the session; "" for sessions from before nodes were recorded
	Login           string          `json:"login"`            // target login (ssh user, db user); "" when none
	ClientIP        string          `json:"client_ip"`        // the person's address as control saw it
	CreatedAt       time.Time       `json:"created_at"`       // row created (pending)
	StartedAt       *time.Time      `json:"started_at"`       // became active; null if never
	EndedAt         *time.Time      `json:"ended_at"`         // reached a terminal state; null while running
	DurationSeconds float64         `json:"duration_seconds"` // ended (or now) − started; 0 if never started
	BytesUp         int64           `json:"bytes_up"`         // bytes from the person to the target
	BytesDown       int64           `json:"bytes_down"`       // bytes from the target to the person
	Error           string          `json:"error"`            // why it failed; "" otherwise
	TerminatedBy    string          `json:"terminated_by"`    // who terminated it; "" otherwise
	TerminateReason string          `json:"terminate_reason"` // the reason given to kill; "" otherwise
	Recording       Recording       `json:"recording"`
	Timeline        []TimelineEvent `json:"timeline"` // oldest first
}

// RecordingState says where a session's recording stands.
type RecordingState string

// The recording states.
const (
	RecordingNone      RecordingState = "none"      // nothing recorded (yet)
	RecordingRecording RecordingState = "recording" // being written while the session runs
	RecordingComplete  RecordingState = "complete"  // finalised by the agent and stored
	RecordingPartial   RecordingState = "partial"   // the session ended but the recording was cut short
	RecordingExpired   RecordingState = "expired"   // deleted by retention
)

// Recording describes a session's recording.
type Recording struct {
	Format    RecordingFormat `json:"format"`    // asciicast, deskproto, querylog, har, connlog
	State     RecordingState  `json:"state"`     // none, recording, complete, partial, expired
	Size      int64           `json:"size"`      // bytes stored so far
	Available bool            `json:"available"` // can be replayed or exported now
	// Notice says why a recording cannot be read, with state expired:
	// "recording expired under the N-day retention of plan X: change the
	// plan or the retention with onepam settings retention set". Set by
	// GET /v1/sessions/{id}.
	Notice string `json:"notice,omitempty"`
}

// TimelineEvent is one entry of a session's timeline.
type TimelineEvent struct {
	Time   time.Time     `json:"time"`
	Event  string        `json:"event"`  // created, started, completed, terminated, failed
	Status SessionStatus `json:"status"` // the state entered
	Actor  string        `json:"actor"`  // who caused it ("" for the system)
	Detail string        `json:"detail"` // reason or error
}

// The timeline event names.
const (
	EventCreated    = "created"
	EventStarted    = "started"
	EventCompleted  = "completed"
	EventTerminated = "terminated"
	EventFailed     = "failed"
)

// EventFor names the timeline event of entering status s.
func EventFor(s SessionStatus) string {
	switch s {
	case StatusPending:
		return EventCreated
	case StatusActive:
		return EventStarted
	default:
		return string(s)
	}
}

// Duration returns how long the session has been (or was) active at now.
func (s *Session) Duration(now time.Time) time.Duration {
	if s.StartedAt == nil {
		return 0
	}
	end := now
	if s.EndedAt != nil {
		end = *s.EndedAt
	}
	if end.Before(*s.StartedAt) {
		return 0
	}
	return end.Sub(*s.StartedAt)
}

// CreateSessionRequest is the body of POST /v1/sessions.
type CreateSessionRequest struct {
	Resource string `json:"resource"` // resource name
	Login    string `json:"login"`    // target login (ssh user, database user), when the type has one
	Database string `json:"database"` // database name, for db resources ("" = the resource's default)
}

// KillSessionRequest is the body of POST /v1/sessions/{id}/kill.
type KillSessionRequest struct {
	Reason string `json:"reason"`
}

// SessionList is the body of GET /v1/sessions.
type SessionList struct {
	Sessions   []Session `json:"sessions"`    // newest first
	NextCursor string    `json:"next_cursor"` // pass as ?cursor= for the next page; "" on the last
}

// Query parameters of GET /v1/sessions. status and type may repeat or hold
// comma lists; since/until are RFC 3339 times; limit is 1..1000 (default 50).
const (
	QueryStatus   = "status"
	QueryType     = "type"
	QueryUser     = "user"
	QueryResource = "resource"
	QuerySince    = "since"
	QueryUntil    = "until"
	QueryLimit    = "limit"
	QueryCursor   = "cursor"
)

// Session stream upgrade (GET /v1/sessions/{id}/connect).
//
// The CLI sends "Connection: Upgrade" and "Upgrade: onepam-session/1"; control
// answers "101 Switching Protocols" when the connection is accepted, after
// which the connection carries raw bytes. The query parameter channel
// selects what the connection is:
//
//   - channel=data (default): one connection of the session, spliced onto a
//     new stream to the agent and on to the target. For a TCP session the
//     first bytes after the 101 are the target's.
//   - channel=events: the session's lead connection. The session lasts while
//     it is open: closing it ends the session (completed). Control writes
//     SessionEvent JSON lines to it (state changes, termination notices).
//     A session whose type has no separate events channel (ssh) ends when
//     its first data connection closes.
//   - channel=mux: many data connections of an active session over one
//     connection (after the session's lead attached). After the 101 the
//     connection carries yamux (same framing and settings as the agent
//     link; the CLI is the yamux client). Each stream the CLI opens is one
//     data connection: control first writes a MuxConnResult frame on it
//     (4-byte big-endian length, then JSON; see pkg/tunnel's frames), and
//     when it says OK the stream carries the target's bytes like a
//     channel=data connection. Control closes the mux when the session
//     ends. One TLS connection per session instead of one per data
//     connection saves a TLS handshake per connection and lets the data of
//     concurrent connections share TLS records and system calls.
const (
	UpgradeProtocol = "onepam-session/1"
	ChannelData     = "data"
	ChannelEvents   = "events"
	ChannelMux      = "mux"
)

// MuxConnResult is the first frame control writes on each stream of a
// channel=mux connection.
type MuxConnResult struct {
	OK    bool   `json:"ok"`              // the connection is spliced to the target
	Error *Error `json:"error,omitempty"` // why not, when not OK (same codes as a channel=data upgrade)
}

// SessionEvent is one JSON line on a session's events channel.
type SessionEvent struct {
	Time    time.Time     `json:"time"`
	Status  SessionStatus `json:"status"`  // the state the session entered
	Message string        `json:"message"` // human-readable: "session terminated by an administrator (alice): reason"
	Error   string        `json:"error"`   // error detail when failed
}
