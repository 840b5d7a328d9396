// Package store defines the control server's persistent state behind one
// Store interface: users, API tokens, agents and their enrollment tokens,
// resources, policy rules, sessions with their timelines, and the audit log.
// The embedded default is SQLite (package store/sqlite); PostgreSQL is for
// deployments with several control replicas on one database.
//
// Each running control process is a node with a row of its own
// (RegisterNode, NodeHeartbeat, RemoveNode): sessions record the node that
// carries them and agents the node they are attached to, so that nodes
// sharing a database tell what a live node holds from what a stopped one
// left behind.
//
// Session status changes go through Transition, which applies
// api.CheckTransition inside the same transaction that writes the new
// state and its timeline event, so no caller can make an illegal move.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Errors returned by every implementation (wrapped with %w).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrTokenUsed: an enrollment token was already consumed or expired.
	ErrTokenUsed = errors.New("enrollment token already used or expired")
)

// Store is the control server's database.
type Store interface {
	// Close releases the database.
	Close() error

	// Users.
	CreateUser(ctx context.Context, u api.User) error // ErrConflict if the name exists
	GetUser(ctx context.Context, name string) (api.User, error)
	ListUsers(ctx context.Context) ([]api.User, error)
	// DeleteUser removes a user and revokes all its tokens.
	DeleteUser(ctx context.Context, name string) error
	CountUsers(ctx context.Context) (int, error)

	// API tokens. Hash is the SHA-256 of the secret; secrets are never stored.
	CreateToken(ctx context.Context, t api.Token, hash []byte) error
	// TokenByHash returns the token and its user (even if expired or revoked:
	// the caller checks).
	TokenByHash(ctx context.Context, hash []byte) (api.Token, api.User, error)
	ListTokens(ctx context.Context, user string) ([]api.Token, error) // user "" = all
	GetToken(ctx context.Context, id string) (api.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken records a use (implementations may coalesce writes).
	TouchToken(ctx context.Context, id string, at time.Time) error

	// Agent enrollment tokens: one-time, hashed, with expiry.
	CreateEnrollToken(ctx context.Context, hash []byte, createdBy string, expiresAt time.Time) error
	// ConsumeEnrollToken atomically marks an unused, unexpired token used;
	// ErrTokenUsed otherwise (unknown, expired, or already used).
	ConsumeEnrollToken(ctx context.Context, hash []byte, now time.Time) error

	// Agents.
	CreateAgent(ctx context.Context, a AgentRecord) error // ErrConflict on a taken name
	GetAgent(ctx context.Context, id string) (AgentRecord, error)
	GetAgentByName(ctx context.Context, name string) (AgentRecord, error)
	ListAgents(ctx context.Context) ([]AgentRecord, error) // including revoked
	RevokeAgent(ctx context.Context, id string, at time.Time) error
	// AgentSeen records a connection or heartbeat.
	AgentSeen(ctx context.Context, id string, at time.Time, version, hostname, remoteAddr string) error

	// Resources. An agent's inventory replaces its previous one. A name
	// served by another (non-revoked) agent is refused: the returned map
	// gives the refused names with the reason.
	SetAgentResources(ctx context.Context, agentID string, rs []api.Resource) (refused map[string]string, err error)
	ListResources(ctx context.Context, f ResourceFilter) ([]ResourceRecord, error)
	GetResource(ctx context.Context, name string) (ResourceRecord, error)

	// Policy rules.
	AddPolicyRule(ctx context.Context, r api.PolicyRule) error
	ListPolicyRules(ctx context.Context) ([]api.PolicyRule, error)
	DeletePolicyRule(ctx context.Context, id string) error
	// ReplacePolicy atomically replaces every rule.
	ReplacePolicy(ctx context.Context, rules []api.PolicyRule) error

	// Sessions.
	// CreateSession inserts a pending session (Status must be pending) and
	// its "created" timeline event.
	CreateSession(ctx context.Context, s api.Session) error
	// GetSession returns a session with its timeline.
	GetSession(ctx context.Context, id string) (api.Session, error)
	// ListSessions returns one page, newest first (ordered by id, a UUIDv7),
	// with timelines; next is the cursor of the following page or "".
	ListSessions(ctx context.Context, f SessionFilter) (page []api.Session, next string, err error)
	// Transition moves a session to t.To after api.CheckTransition, sets
	// started_at/ended_at/error/terminated_by as the state implies, and
	// appends the timeline event, all in one transaction. It returns the
	// updated session, or an error wrapping api.ErrIllegalTransition.
	Transition(ctx context.Context, id string, t Transition) (api.Session, error)
	// AddSessionBytes adds to a session's byte counters.
	AddSessionBytes(ctx context.Context, id string, up, down int64) error
	// SetRecording updates a session's recording description.
	SetRecording(ctx context.Context, id string, r api.Recording) error
	// UnfinishedSessions lists the sessions in a non-terminal state
	// (pending or active), optionally only those on one agent ("" = all).
	UnfinishedSessions(ctx context.Context, agent string) ([]api.Session, error)
	// CountSessions counts sessions by type and status (for metrics).
	CountSessions(ctx context.Context) (map[api.SessionType]map[api.SessionStatus]int64, error)

	// File activity of sessions (SFTP, scp, web).
	AddFileEvent(ctx context.Context, e api.FileEvent) error
	// ListFileEvents returns a session's file events, oldest first,
	// optionally only the given operations.
	ListFileEvents(ctx context.Context, sessionID string, ops []string) ([]api.FileEvent, error)

	// Recording text search: lines of terminal output and input, indexed
	// when recordings are final. IndexRecordingText indexes lines as a
	// recording's whole text and marks it indexed, in one transaction,
	// replacing what was indexed for it before (the types of text.go serve
	// the indexing of a long text in several transactions).
	IndexRecordingText(ctx context.Context, sessionID string, lines []TextLine) error
	SearchRecordings(ctx context.Context, q SearchQuery) ([]SearchHit, error)

	// Audit log.
	AddAudit(ctx context.Context, e api.AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]api.AuditEvent, error) // newest first

	// Control nodes: the control processes using the database.
	// RegisterNode inserts a node's row, or replaces the row of its id.
	RegisterNode(ctx context.Context, n ControlNode) error
	// NodeHeartbeat sets a node's heartbeat time; ErrNotFound when its
	// row is gone (removed by another node that took it for stopped).
	NodeHeartbeat(ctx context.Context, id string, at time.Time) error
	// RemoveNode deletes a node's row and detaches the agents attached to
	// it; a missing row is not an error.
	RemoveNode(ctx context.Context, id string) error
	// RemoveStaleNodes deletes the rows of the nodes whose heartbeat is
	// before cutoff (nodes that stopped without their shutdown) and
	// detaches their agents; it returns the ids removed.
	RemoveStaleNodes(ctx context.Context, cutoff time.Time) ([]string, error)
	GetNode(ctx context.Context, id string) (ControlNode, error)
	ListNodes(ctx context.Context) ([]ControlNode, error) // by id
	// AttachAgent records that an agent is attached to node.
	AttachAgent(ctx context.Context, agentID, node string) error
	// DetachAgent clears an agent's node if it is still node (an agent
	// that moved to another node meanwhile stays there).
	DetachAgent(ctx context.Context, agentID, node string) error

	// Web console sessions (logins.go), by the SHA-256 of the cookie.
	CreateWebSession(ctx context.Context, ws WebSession) error // ErrConflict on a taken key
	GetWebSession(ctx context.Context, key []byte) (WebSession, error)
	// TouchWebSession records a use: last_used_at and idle_expires_at
	// move forward (never back). A missing row is not an error.
	TouchWebSession(ctx context.Context, key []byte, at, idleExpiresAt time.Time) error
	// DeleteWebSession ends a web session and the app logins made from
	// it; a missing row is not an error.
	DeleteWebSession(ctx context.Context, key []byte) error
	// DeleteExpiredWebSessions deletes the web sessions ended at now
	// (idle or absolute expiry) and returns how many.
	DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error)

	// Published apps' logins and launch codes, by the SHA-256 of their
	// secret.
	CreateAppLogin(ctx context.Context, l AppLogin) error // ErrConflict on a taken key
	GetAppLogin(ctx context.Context, key []byte) (AppLogin, error)
	DeleteAppLogin(ctx context.Context, key []byte) error // a missing row is not an error
	CreateAppCode(ctx context.Context, c AppCode) error   // ErrConflict on a taken hash
	// TakeAppCode deletes the code and returns it, atomically: of
	// concurrent takers one gets it, the others ErrNotFound (as for an
	// unknown code). An expired code is deleted too and ErrNotFound.
	TakeAppCode(ctx context.Context, hash []byte, now time.Time) (AppCode, error)
	// DeleteExpiredAppLogins deletes the app logins and codes expired at
	// now and returns how many.
	DeleteExpiredAppLogins(ctx context.Context, now time.Time) (int64, error)
}

// ControlNode is the row of a running control process.
type ControlNode struct {
	ID          string // UUIDv7 per process start, or the --node-id given
	Name        string // the advertised name (default: the host name)
	StartedAt   time.Time
	HeartbeatAt time.Time // the node's own clock at its last heartbeat
	// URL is where the other nodes reach the node's API
	// (--advertise-url), to forward a person's request to it; "" for a
	// row written by a node from before the URL was kept.
	URL string
}

// Label names a node in messages: "name (id)", or the id when the name
// is empty or the id itself.
func (n ControlNode) Label() string { return NodeLabel(n.ID, n.Name) }

// NodeLabel names the node id of name in messages: "name (id)", or id
// when name is empty or id itself.
func NodeLabel(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

// AgentRecord is an agent row.
type AgentRecord struct {
	ID         string
	Name       string
	Hostname   string
	Version    string
	CertSerial string
	EnrolledAt time.Time
	LastSeenAt *time.Time
	RevokedAt  *time.Time
	RemoteAddr string
	// NodeID is the control node the agent is attached to ("" when none
	// is known): set when the agent connects, cleared when it leaves.
	NodeID string
}

// ResourceRecord is a resource row with the agent serving it.
type ResourceRecord struct {
	api.Resource
	AgentID string
}

// ResourceFilter selects resources.
type ResourceFilter struct {
	Types  []api.SessionType
	Labels map[string]string // all must match
	Agent  string            // agent id; "" = any
}

// SessionFilter selects a page of sessions.
type SessionFilter struct {
	Statuses  []api.SessionStatus // any of; empty = all
	Types     []api.SessionType   // any of; empty = all
	Users     []string            // any of; empty = all
	Resources []string            // any of; empty = all
	Since     time.Time           // created at or after; zero = no bound
	Until     time.Time           // created before; zero = no bound
	Limit     int                 // 1..1000; 0 = 50
	Cursor    string              // from the previous page's next
}

// Transition is one status change.
type Transition struct {
	To     api.SessionStatus
	At     time.Time
	Actor  string // who (terminated) or "" (system)
	Detail string // error (failed) or reason (terminated)
	// Agent, when set with To=active, records the agent that serves the session.
	Agent string
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Actor  string
	Action string // prefix match ("session." matches session.kill)
	Since  time.Time
	Limit  int // 0 = 100
}

// TextLine is one line of a recording's text, for search.
type TextLine struct {
	Input bool          // typed input rather than output
	At    time.Duration // offset of the line in the session
	Text  string
}

// SearchQuery selects recording text.
type SearchQuery struct {
	Text  string            // words or a phrase; matched as a phrase of whole words
	Input bool              // search typed input instead of output
	Types []api.SessionType // any of; empty = all
	Users []string          // any of; empty = all (a user role sees only its own)
	Since time.Time         // sessions created at or after; zero = no bound
	Limit int               // 0 = 50, at most 1000
}

// SearchHit is one line that matched.
type SearchHit struct {
	SessionID string
	Input     bool
	At        time.Duration
	Line      string
}
