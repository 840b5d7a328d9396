package api

import "time"

// StreamKind says what a yamux stream between control and an agent carries.
// It is the kind byte of the stream header (see pkg/tunnel for the framing).
type StreamKind uint8

// The stream kinds.
const (
	// StreamEnroll (agent → control, on a connection without a client
	// certificate): EnrollRequest, answered by EnrollResponse.
	StreamEnroll StreamKind = 1
	// StreamControl (agent → control, one per yamux session, opened first):
	// header AgentHello; then AgentMessage frames both ways.
	StreamControl StreamKind = 2
	// StreamSession (control → agent, one per session): header SessionOpen;
	// the agent answers one SessionOpenResult frame. The stream stays open
	// for the session's life: control may send SessionCommand frames and
	// closes the stream to end the session; the agent answers with
	// SessionReport frames and closes its side when the session is torn
	// down and its recording finalised.
	StreamSession StreamKind = 3
	// StreamConn (control → agent, one per connection of a session):
	// header ConnOpen; the agent answers one ConnOpenResult frame, then
	// the stream carries raw bytes both ways.
	StreamConn StreamKind = 4
	// StreamRecording (agent → control, one per recording upload): header
	// RecordingOpen; control answers a RecordingAck frame with the offset
	// it already holds, then binary chunk frames flow agent → control and
	// RecordingAck frames control → agent.
	StreamRecording StreamKind = 5
)

func (k StreamKind) String() string {
	switch k {
	case StreamEnroll:
		return "enroll"
	case StreamControl:
		return "control"
	case StreamSession:
		return "session"
	case StreamConn:
		return "conn"
	case StreamRecording:
		return "recording"
	}
	return "unknown"
}

// EnrollRequest is the header of a StreamEnroll stream.
type EnrollRequest struct {
	Token    string `json:"token"`    // the secret part of the enrollment token
	Name     string `json:"name"`     // requested agent name (unique)
	Hostname string `json:"hostname"` // os.Hostname of the agent
	CSR      []byte `json:"csr"`      // PKCS#10 DER, key ECDSA P-256 or Ed25519
	Version  string `json:"version"`
}

// EnrollResponse answers EnrollRequest.
type EnrollResponse struct {
	Error   string `json:"error"`    // non-empty when refused
	AgentID string `json:"agent_id"` // also the certificate's CommonName
	Name    string `json:"name"`
	CertPEM []byte `json:"cert_pem"` // the agent's client certificate
	CAPEM   []byte `json:"ca_pem"`   // control's CA
}

// AgentHello is the header of the control stream.
type AgentHello struct {
	Version   string     `json:"version"`
	Hostname  string     `json:"hostname"`
	Resources []Resource `json:"resources"` // Agent, Online, NodeID and NodeName are ignored
	// Recordings lists session ids whose recordings the agent still holds
	// in its spool (not fully acknowledged), so control knows they will
	// be resumed.
	Recordings []string `json:"recordings"`
	// SigningKey is the agent's Ed25519 public key (32 bytes, standard
	// base64) that signs its recordings' containers (recordfmt/container);
	// control keeps it on the agent's row to verify them. Empty from
	// agents that do not sign.
	SigningKey string `json:"signing_key,omitempty"`
}

// AgentMessage is one frame on the control stream. Type says which of the
// optional fields is set.
type AgentMessage struct {
	Type string `json:"type"`
	// Welcome (control → agent): the answer to AgentHello.
	Welcome *AgentWelcome `json:"welcome,omitempty"`
	// Heartbeat (both ways): the sender's clock; the receiver marks the
	// peer alive.
	Heartbeat *time.Time `json:"heartbeat,omitempty"`
	// Resources (agent → control): a new inventory replacing the old one.
	Resources []Resource `json:"resources,omitempty"`
	// Error (control → agent): why control is dropping the agent, e.g.
	// "agent revoked". Fatal errors tell the agent not to reconnect.
	Error *AgentError `json:"error,omitempty"`
}

// AgentMessage types.
const (
	MsgWelcome   = "welcome"
	MsgHeartbeat = "heartbeat"
	MsgResources = "resources"
	MsgError     = "error"
)

// AgentWelcome is control's answer to a hello.
type AgentWelcome struct {
	AgentID           string `json:"agent_id"`
	Name              string `json:"name"`
	HeartbeatInterval int64  `json:"heartbeat_interval_ms"`
	// ResourceErrors lists announced resources control refused, with why
	// (e.g. a name already served by another agent).
	ResourceErrors map[string]string `json:"resource_errors,omitempty"`
}

// AgentError is a refusal from control.
type AgentError struct {
	Message string `json:"message"`
	Fatal   bool   `json:"fatal"` // do not reconnect (revoked)
}

// SessionOpen is the header of a StreamSession stream.
type SessionOpen struct {
	SessionID string      `json:"session_id"`
	Type      SessionType `json:"type"`
	Resource  string      `json:"resource"`
	Login     string      `json:"login"`
	Database  string      `json:"database"` // db sessions: the database asked for ("" = default)
	User      string      `json:"user"`
	ClientIP  string      `json:"client_ip"`
	CreatedAt time.Time   `json:"created_at"`
	// Limits for this session (0 = none).
	MaxDurationSeconds int64 `json:"max_duration_seconds"`
}

// SessionOpenResult is the agent's first frame on a session stream.
type SessionOpenResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"` // why the target could not be reached
}

// SessionCommand is a frame control sends on a session stream.
type SessionCommand struct {
	Type   string `json:"type"` // "terminate"
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
}

// SessionCommand types.
const (
	CmdTerminate = "terminate"
)

// SessionReport is a frame the agent sends on a session stream.
type SessionReport struct {
	Type  string `json:"type"`  // "failed" (the session broke), "ended" (torn down), "file" (file activity), "recording_gap"
	Error string `json:"error"` // with failed; with recording_gap, what stopped the recording
	// File is one file operation, with type "file".
	File *FileEvent `json:"file,omitempty"`
	// RecordingSize is the final size of the recording, with ended.
	RecordingSize int64 `json:"recording_size"`
}

// SessionReport types.
const (
	ReportFailed = "failed"
	ReportEnded  = "ended"
	ReportFile   = "file"
	// ReportRecordingGap: the recording stopped while the session goes on
	// (the agent's spool is full and the recording mode is fail-open);
	// Error says why and since when. Control records it on the session's
	// timeline and in the audit log.
	ReportRecordingGap = "recording_gap"
)

// ConnOpen is the header of a StreamConn stream.
type ConnOpen struct {
	SessionID  string `json:"session_id"`
	ConnID     int64  `json:"conn_id"`     // 1, 2, ... within the session
	ClientAddr string `json:"client_addr"` // the person's address
}

// ConnOpenResult is the agent's first frame on a conn stream; raw bytes follow when OK.
type ConnOpenResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// RecordingOpen is the header of a StreamRecording stream.
type RecordingOpen struct {
	SessionID string          `json:"session_id"`
	Format    RecordingFormat `json:"format"`
}

// RecordingAck is control's acknowledgement: every byte before Offset is
// durably stored. Final echoes the final chunk.
type RecordingAck struct {
	Offset int64  `json:"offset"`
	Final  bool   `json:"final"`
	Error  string `json:"error"`
}
