package agentgw

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Config configures a Gateway. Store, CA, ServerCert and Recordings are
// required; everything else has a default (see withDefaults).
type Config struct {
	Store      store.Store
	CA         *pki.CA
	ServerCert tls.Certificate // presented to agents; should carry the CA after the leaf
	Recordings recordings.Store
	Logger     *slog.Logger     // default: slog.Default()
	Clock      func() time.Time // timestamps written to the store; default time.Now

	// HeartbeatInterval is told to agents in the welcome (default 5 s).
	HeartbeatInterval time.Duration
	// HeartbeatTimeout: an agent that sends no control frame for that long
	// is dropped (default 15 s). Measured on the monotonic clock.
	HeartbeatTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake, the enrollment request and
	// the control stream's hello (default 10 s).
	HandshakeTimeout time.Duration
	// SeenInterval: heartbeats update the agent's last-seen time in the
	// store at most this often (default 30 s).
	SeenInterval time.Duration
	// RecordingStateInterval: while a recording uploads, the session's
	// recording size is written to the store at most this often (its
	// state changes and the final chunk at once; default 1 s).
	RecordingStateInterval time.Duration
	// Version is control's version, logged with agent versions.
	Version string

	// OnAgentChange, when set, is called when an agent comes online or
	// goes offline (for metrics). It must not block.
	OnAgentChange func(agentID string, online bool)
	// OnRecording, when set, is called after each acknowledged recording
	// chunk with the session's updated recording. It must not block.
	OnRecording func(sessionID string, r api.Recording)
	// Live, when set, receives every stored recording chunk (for live
	// watchers of sessions).
	Live *recordings.Hub
}

// withDefaults checks the required fields and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Store == nil {
		return c, errors.New("agentgw: Config.Store is required")
	}
	if c.CA == nil || c.CA.Cert == nil || c.CA.Key == nil {
		return c, errors.New("agentgw: Config.CA is required")
	}
	if len(c.ServerCert.Certificate) == 0 {
		return c, errors.New("agentgw: Config.ServerCert is required")
	}
	if c.Recordings == nil {
		return c, errors.New("agentgw: Config.Recordings is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = 15 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.RecordingStateInterval <= 0 {
		c.RecordingStateInterval = time.Second
	}
	if c.SeenInterval <= 0 {
		c.SeenInterval = 30 * time.Second
	}
	if c.OnAgentChange == nil {
		c.OnAgentChange = func(string, bool) {}
	}
	if c.OnRecording == nil {
		c.OnRecording = func(string, api.Recording) {}
	}
	return c, nil
}
