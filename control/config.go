package control

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/onepam/onepam/control/apps"
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
	return c, nil
}
