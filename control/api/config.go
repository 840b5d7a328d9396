package api

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/metrics"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Store is what the handlers need of the database.
type Store interface {
	CreateUser(ctx context.Context, u api.User) error
	GetUser(ctx context.Context, name string) (api.User, error)
	ListUsers(ctx context.Context) ([]api.User, error)
	DeleteUser(ctx context.Context, name string) error
	ListTokens(ctx context.Context, user string) ([]api.Token, error)
	GetToken(ctx context.Context, id string) (api.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	CreateEnrollToken(ctx context.Context, hash []byte, createdBy string, expiresAt time.Time) error
	GetAgent(ctx context.Context, id string) (store.AgentRecord, error)
	GetAgentByName(ctx context.Context, name string) (store.AgentRecord, error)
	ListAgents(ctx context.Context) ([]store.AgentRecord, error)
	RevokeAgent(ctx context.Context, id string, at time.Time) error
	ListResources(ctx context.Context, f store.ResourceFilter) ([]store.ResourceRecord, error)
	ListNodes(ctx context.Context) ([]store.ControlNode, error)
	GetNode(ctx context.Context, id string) (store.ControlNode, error)
	AddPolicyRule(ctx context.Context, r api.PolicyRule) error
	ListPolicyRules(ctx context.Context) ([]api.PolicyRule, error)
	DeletePolicyRule(ctx context.Context, id string) error
	ReplacePolicy(ctx context.Context, rules []api.PolicyRule) error
	GetSession(ctx context.Context, id string) (api.Session, error)
	ListSessions(ctx context.Context, f store.SessionFilter) ([]api.Session, string, error)
	AddAudit(ctx context.Context, e api.AuditEvent) error
	ListAudit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error)
	ListFileEvents(ctx context.Context, sessionID string, ops []string) ([]api.FileEvent, error)
	SearchRecordings(ctx context.Context, q store.SearchQuery) ([]store.SearchHit, error)
}

// Sessions is what the handlers need of the session manager.
type Sessions interface {
	Create(ctx context.Context, p auth.Principal, req api.CreateSessionRequest, clientIP string) (api.Session, error)
	Attach(ctx context.Context, p auth.Principal, id, channel, clientAddr string) (*sessions.Attachment, error)
	AttachMux(ctx context.Context, p auth.Principal, id, clientAddr string) (*sessions.MuxAttachment, error)
	Kill(ctx context.Context, p auth.Principal, id, reason, clientIP string) (api.Session, error)
	Carrier(ctx context.Context, id string) (store.ControlNode, bool)
	Overlay(s *api.Session)
	Subscribe() (<-chan sessions.Event, func())
}

// Gateway is what the handlers need of the agent gateway.
type Gateway interface {
	Online(agentID string) bool
	Disconnect(agentID, reason string, fatal bool)
}

// Recordings reads stored recordings.
type Recordings interface {
	Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error)
}

// Config configures the API handler. Store, Tokens, Sessions, Gateway and
// Recordings are required.
type Config struct {
	Store      Store
	Tokens     *auth.Tokens
	Sessions   Sessions
	Gateway    Gateway
	Recordings Recordings
	// Metrics may be nil.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Clock   func() time.Time
	// CAPin is control's CA pin ("sha256:<hex>"), embedded in enrollment
	// tokens.
	CAPin string
	// RecordingAdmin, when set, serves recording verification, retention
	// notices and the recording settings (/v1/settings/...).
	RecordingAdmin RecordingAdmin
	// Live, when set, serves live watching of recordings
	// (GET /v1/sessions/{id}/watch); nil answers it "unavailable".
	Live *recordings.Hub
	// Node is the control node serving the API: the agent and resource
	// listings name it for the agents connected here.
	Node Node
	// Forward, when set, sends a request that another control node must
	// serve (its agent or session is there: session create, connect,
	// kill, watch; a recording read of a session it ran, when this
	// node's recording storage does not hold it) to that node; nil
	// answers other_node instead (and a kill ends the session through
	// the database).
	Forward Forwarder
}

// Node describes the control node the API runs on. Agents attached to
// another node are listed online, with that node, while that node's
// heartbeat (its row of control_nodes) is within Timeout on Clock; an
// agent is attached to one node at a time, and Gateway says only
// whether it is connected to this one.
type Node struct {
	ID   string
	Name string // default: ID
	// Shared: other control nodes may use the database at once
	// (PostgreSQL). When false (SQLite, one process at a time) only this
	// node's agents are online, and listings read no node rows.
	Shared bool
	// Timeout is how old another node's heartbeat may be for its agents
	// to be listed online (default sessions.DefaultNodeTimeout).
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Node.Name == "" {
		c.Node.Name = c.Node.ID
	}
	if c.Node.Timeout <= 0 {
		c.Node.Timeout = sessions.DefaultNodeTimeout
	}
	return c
}
