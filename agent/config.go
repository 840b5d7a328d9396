package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/record"
)

// Config configures an agent. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// ControlAddr is control's agent address (host:port). Needed for
	// enrollment; later starts may take it from identity.json.
	ControlAddr string
	// Token is the one-time enrollment token "<secret>.<pin hex>"; needed
	// only on the first start (when DataDir holds no identity).
	Token string
	// DataDir holds identity.json, agent.key, agent.crt, ca.crt and spool/.
	DataDir string
	// Name is the agent name asked for at enrollment. Default: the hostname.
	Name      string
	Resources []ResourceConfig
	Version   string // default "dev"
	Logger    *slog.Logger
	Clock     func() time.Time
	// Dial opens network connections, to control and to targets. Default
	// net.Dialer.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ReconnectMin and ReconnectMax bound the reconnect backoff (full
	// jitter). Defaults 100 ms and 10 s.
	ReconnectMin, ReconnectMax time.Duration
	// ReconnectRefusedMax caps the delay after a refused dial (control's
	// port closed: it is restarting), so the agent is back within about a
	// second of control's restart however long control was down. Default 1 s.
	ReconnectRefusedMax time.Duration
	// ReconnectReset is how long a link must have lived for the backoff to
	// start again from ReconnectMin. Default 10 s.
	ReconnectReset time.Duration
	// HeartbeatInterval is the agent's heartbeat period until control's
	// welcome says otherwise. Default 5 s.
	HeartbeatInterval time.Duration
	// HandshakeTimeout bounds dialing, TLS and the hello/welcome exchange.
	// Default 10 s.
	HandshakeTimeout time.Duration
	// DisableRecording gives every session a discard recorder.
	DisableRecording bool
	// RecordingMode is what happens when recording fails (default
	// record.FailClosed).
	RecordingMode record.Mode
	// SpoolLimit bounds the recording spool on disk (default
	// DefaultSpoolLimit, negative: no limit). At the limit RecordingMode
	// applies: fail-closed refuses new sessions and ends running ones,
	// fail-open lets them go on unrecorded and reports the gap.
	SpoolLimit int64
	// Proxies overrides the protocol proxies of protocols.go, by protocol
	// name (tests).
	Proxies map[string]proxy.Proxy
	// OnStateChange, when set, is called on every link state change.
	OnStateChange func(from, to State)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	if c.Name == "" {
		c.Name = hostname()
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.SpoolLimit == 0 {
		c.SpoolLimit = DefaultSpoolLimit
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 10 * time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.ReconnectRefusedMax <= 0 {
		c.ReconnectRefusedMax = time.Second
	}
	if c.ReconnectReset <= 0 {
		c.ReconnectReset = 10 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Proxies == nil {
		c.Proxies = defaultProxies(c.DataDir, c.Version)
	}
	return c
}

func (c Config) validate() error {
	if c.DataDir == "" {
		return errors.New("no data directory: set --data-dir (or data_dir in agent.yaml)")
	}
	if err := checkResources(c.Resources); err != nil {
		return err
	}
	for _, r := range c.Resources {
		if _, ok := c.Proxies[r.Protocol]; !ok {
			return fmt.Errorf("resource %q: this agent has no proxy for protocol %s", r.Name, r.Protocol)
		}
	}
	return nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "agent"
	}
	return h
}
