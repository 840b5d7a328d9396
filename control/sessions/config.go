package sessions

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/onepam/onepam/control/metrics"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Gateway is what the manager needs of the agent gateway.
type Gateway interface {
	// Online reports whether the agent has a live link.
	Online(agentID string) bool
	// OpenStream opens a stream to the agent with the header already
	// written.
	OpenStream(ctx context.Context, agentID string, kind api.StreamKind, header any) (net.Conn, error)
}

// Store is what the manager needs of the database.
type Store interface {
	GetResource(ctx context.Context, name string) (store.ResourceRecord, error)
	ListPolicyRules(ctx context.Context) ([]api.PolicyRule, error)
	CreateSession(ctx context.Context, s api.Session) error
	GetSession(ctx context.Context, id string) (api.Session, error)
	Transition(ctx context.Context, id string, t store.Transition) (api.Session, error)
	AddSessionBytes(ctx context.Context, id string, up, down int64) error
	UnfinishedSessions(ctx context.Context, agent string) ([]api.Session, error)
	GetAgent(ctx context.Context, id string) (store.AgentRecord, error)
	// Control nodes (nodes.go).
	RegisterNode(ctx context.Context, n store.ControlNode) error
	NodeHeartbeat(ctx context.Context, id string, at time.Time) error
	RemoveNode(ctx context.Context, id string) error
	RemoveStaleNodes(ctx context.Context, cutoff time.Time) ([]string, error)
	GetNode(ctx context.Context, id string) (store.ControlNode, error)
	ListNodes(ctx context.Context) ([]store.ControlNode, error)
	AddAudit(ctx context.Context, e api.AuditEvent) error
	AddFileEvent(ctx context.Context, e api.FileEvent) error
}

// Config configures a Manager. Store and Gateway are required.
type Config struct {
	Store   Store
	Gateway Gateway
	// Metrics may be nil.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Clock   func() time.Time
	// PendingTimeout fails a pending session never attached within it
	// (default 60 s).
	PendingTimeout time.Duration
	// FlushInterval is how often live byte counters are written to the
	// store (default 5 s).
	FlushInterval time.Duration
	// OpenTimeout bounds the wait for the agent's answer to a session or
	// connection stream (default 15 s).
	OpenTimeout time.Duration
	// Node is the control node the manager runs on (nodes.go).
	Node Node
}

// Defaults.
const (
	DefaultPendingTimeout = 60 * time.Second
	DefaultFlushInterval  = 5 * time.Second
	DefaultOpenTimeout    = 15 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.PendingTimeout <= 0 {
		c.PendingTimeout = DefaultPendingTimeout
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = DefaultOpenTimeout
	}
	c.Node = c.Node.withDefaults()
	return c
}
