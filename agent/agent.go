package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/onepam/onepam/agent/spool"
)

// Agent is a configured agent. Run it once.
type Agent struct {
	cfg Config

	mu    sync.Mutex
	state State

	id       identity
	spool    *spool.Spool
	signer   ed25519.PrivateKey // signs recordings (signing.go)
	uploader *spool.Uploader
	sessions *registry
}

// New checks cfg and returns an agent ready to Run.
func New(cfg Config) (*Agent, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, sessions: newRegistry()}, nil
}

// Run runs an agent with cfg until ctx ends (nil), enrollment fails,
// control says the agent is revoked (ErrRevoked), or cfg is bad.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// State returns the current state of the link to control.
func (a *Agent) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// setState moves the link state, refusing illegal moves.
func (a *Agent) setState(to State) {
	a.mu.Lock()
	from := a.state
	if from == to {
		a.mu.Unlock()
		return
	}
	if err := checkStateTransition(from, to); err != nil {
		a.mu.Unlock()
		a.cfg.Logger.Error("agent link state not changed", "err", err)
		return
	}
	a.state = to
	a.mu.Unlock()
	a.cfg.Logger.Debug("agent link state", "from", from, "to", to)
	if a.cfg.OnStateChange != nil {
		a.cfg.OnStateChange(from, to)
	}
}

// Run enrolls when needed, then keeps the link to control up until ctx
// ends (nil) or control revokes the agent (ErrRevoked).
func (a *Agent) Run(ctx context.Context) error {
	cfg := a.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	id, enrolled, err := loadIdentity(cfg.DataDir)
	if err != nil {
		return err
	}
	if !enrolled {
		if id, err = a.enroll(ctx); err != nil {
			if ctx.Err() != nil {
				a.setState(StateStopped)
				return nil
			}
			return err
		}
	} else if cfg.Token != "" {
		cfg.Logger.Debug("already enrolled; the enrollment token is not needed", "agent_id", id.AgentID)
	}
	if a.cfg.ControlAddr == "" {
		a.cfg.ControlAddr = id.ControlAddr
	}
	if a.cfg.ControlAddr == "" {
		return errors.New("no control address: pass --control HOST:PORT")
	}
	a.id = id
	a.signer, err = loadSigningKey(cfg.DataDir)
	if err != nil {
		return err
	}
	a.spool, err = spool.Open(a.spoolConfig())
	if err != nil {
		return err
	}
	a.uploader = spool.NewUploader(a.spool, spool.UploaderConfig{Logger: cfg.Logger.With("part", "uploader")})

	bo := newBackoff(cfg.ReconnectMin, cfg.ReconnectMax)
	for {
		started := time.Now()
		err := a.runLink(ctx)
		if ctx.Err() != nil {
			a.setState(StateStopped)
			return nil
		}
		if errors.Is(err, ErrRevoked) {
			a.setState(StateRevoked)
			return err
		}
		a.setState(StateDisconnected)
		if time.Since(started) >= cfg.ReconnectReset {
			bo.reset()
		}
		d := bo.next()
		if errors.Is(err, syscall.ECONNREFUSED) {
			d = min(d, cfg.ReconnectRefusedMax)
		}
		cfg.Logger.Warn("link to control lost; reconnecting", "control", a.cfg.ControlAddr, "err", err, "retry_in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			a.setState(StateStopped)
			return nil
		case <-t.C:
		}
	}
}
