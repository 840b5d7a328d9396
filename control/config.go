package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/onepam/onepam/control/apps"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Config configures a Server. DataDir is required; everything else has a
// default (withDefaults).
type Config struct {
	// DataDir holds the CA, the server certificate, the database and the
	// recordings. Created when missing.
	DataDir string
	// Store is the database: "" for the embedded SQLite database
	// <DataDir>/onepam.db (the default), or a postgres:// URL for a
	// PostgreSQL database that several control nodes may share.
	Store string
	// Listen is the API address (HTTPS). Default ":7443".
	Listen string
	// AgentListen is the agents' address (TLS + yamux). Default ":7444".
	AgentListen string
	// PublicNames are extra names (DNS or IP) for the server certificate,
	// besides localhost, 127.0.0.1, ::1 and the hostname.
	PublicNames []string
	// ShutdownGrace is how long running sessions may go on after Serve's
	// context ends. Default 10 s.
	ShutdownGrace time.Duration
	// PendingTimeout fails a pending session never attached within it.
	// Default 60 s.
	PendingTimeout time.Duration
	Logger         *slog.Logger     // default slog.Default()
	Clock          func() time.Time // default time.Now
	Version        string           // default "dev"
	// APIListener and AgentListener, when set, are used instead of
	// listening on Listen and AgentListen (tests, onepam dev). The Server
	// closes them.
	APIListener, AgentListener net.Listener
	// RecordingStorage is where new recordings go until changed with
	// `onepam settings recording-storage set` (the database then wins):
	// the local directory <DataDir>/recordings (the default) or an
	// S3-compatible bucket.
	RecordingStorage api.RecordingStorage
	// Retention is the recording retention until changed with `onepam
	// settings retention set`. Default plan free (7 days).
	Retention api.RetentionSettings
	// RetentionInterval is how often expired recordings are deleted.
	// Default 1 h.
	RetentionInterval time.Duration
	// AppsDomain publishes HTTP resource NAME at https://NAME.<AppsDomain>
	// (control/apps); the server certificate names AppsDomain and
	// *.AppsDomain. Default "localhost".
	AppsDomain string
	// AppIdleTimeout ends an app session without requests for this long.
	// Default 15 minutes.
	AppIdleTimeout time.Duration

	// NodeID identifies this control process among the control nodes
	// using the database: sessions record it, agents note it while
	// attached. Default: a new UUIDv7 at each start. A fixed id lets a
	// restarted node fail at once what its previous run left.
	NodeID string
	// NodeName is the name the node advertises: people whose agent is
	// attached to this node are sent to it by that name. Default: the
	// host name.
	NodeName string
	// AdvertiseURL is where the other control nodes reach this node's
	// API (https://HOST[:PORT]), kept in its row: a node that gets a
	// person's request for a session this node holds forwards it there.
	// Default https://<NodeName>:<API port> when the server certificate
	// names NodeName (the host name does), else the first PublicNames
	// entry; set by New once the API listens.
	AdvertiseURL string
	// ForwardDial dials the other nodes' advertised addresses when
	// forwarding requests (default a net.Dialer; tests). ForwardTransport,
	// when set, replaces the whole transport (TLS included).
	ForwardDial      func(ctx context.Context, network, addr string) (net.Conn, error)
	ForwardTransport http.RoundTripper
	// NodeHeartbeat is how often the node refreshes its row. Default 5 s.
	NodeHeartbeat time.Duration
	// NodeTimeout is how old a node's heartbeat may get before the other
	// nodes take it for stopped and fail its sessions. Default 30 s; at
	// least twice NodeHeartbeat, and more than the clock skew between
	// nodes.
	NodeTimeout time.Duration
	// NodeSweep is how often the sessions of stopped nodes are looked
	// for. Default 10 s.
	NodeSweep time.Duration
}

// Defaults.
const (
	DefaultListen         = ":7443"
	DefaultAgentListen    = ":7444"
	DefaultShutdownGrace  = 10 * time.Second
	DefaultPendingTimeout = 60 * time.Second
)

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("control: no data directory: set --data-dir")
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.AgentListen == "" {
		c.AgentListen = DefaultAgentListen
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.PendingTimeout <= 0 {
		c.PendingTimeout = DefaultPendingTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.RetentionInterval <= 0 {
		c.RetentionInterval = time.Hour
	}
	if c.AppsDomain == "" {
		c.AppsDomain = apps.DefaultDomain
	}
	d, err := apps.NormalizeDomain(c.AppsDomain)
	if err != nil {
		return c, fmt.Errorf("control: --apps-domain: %w", err)
	}
	c.AppsDomain = d
	if c.AppIdleTimeout <= 0 {
		c.AppIdleTimeout = apps.DefaultIdleTimeout
	}
	if c.NodeID == "" {
		c.NodeID = store.NewID()
	} else if !validNodeID(c.NodeID) {
		return c, fmt.Errorf("control: --node-id %q: want 1 to 64 letters, digits, '.', '-' or '_'", c.NodeID)
	}
	if c.NodeName == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.NodeName = h
		} else {
			c.NodeName = c.NodeID
		}
	}
	if c.AdvertiseURL != "" {
		u, err := checkAdvertiseURL(c.AdvertiseURL)
		if err != nil {
			return c, fmt.Errorf("control: --advertise-url %q: %w", c.AdvertiseURL, err)
		}
		c.AdvertiseURL = u
	}
	if c.NodeHeartbeat <= 0 {
		c.NodeHeartbeat = sessions.DefaultHeartbeatInterval
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = max(sessions.DefaultNodeTimeout, 2*c.NodeHeartbeat)
	}
	if c.NodeTimeout < 2*c.NodeHeartbeat {
		return c, fmt.Errorf("control: node timeout %s: want at least twice the heartbeat interval (%s)", c.NodeTimeout, c.NodeHeartbeat)
	}
	if c.NodeSweep <= 0 {
		c.NodeSweep = sessions.DefaultSweepInterval
	}
	return c, nil
}

// validNodeID reports whether id is 1 to 64 letters, digits, '.', '-'
// or '_' (a UUID is).
func validNodeID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}
