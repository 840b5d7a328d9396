package cmdutil

import (
	"os"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/cli/config"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
)

// Factory provides what commands need, lazily: the configuration is read
// and the client built only by commands that use them.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads the environment (os.Getenv; a map in tests).
	Getenv func(string) string
	// Now is the clock (durations of running sessions, --since).
	Now func() time.Time
	// Location is the time zone of times shown in tables (time.Local).
	Location *time.Location
	// Version is the CLI's version, sent as the User-Agent.
	Version string
	// ConfigFlag is the value of --config ("" = default path).
	ConfigFlag string

	mu     sync.Mutex
	cfg    *config.Config
	client *client.Client
}

// New returns a factory for the process: system streams, environment and
// clock.
func New(version string) *Factory {
	return &Factory{
		IOStreams: iostreams.System(),
		Getenv:    os.Getenv,
		Now:       time.Now,
		Location:  time.Local,
		Version:   version,
	}
}

// ConfigPath returns the CLI config file's path.
func (f *Factory) ConfigPath() (string, error) {
	return config.Path(f.ConfigFlag, f.Getenv)
}

// Config returns the effective configuration (file + environment).
func (f *Factory) Config() (*config.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg != nil {
		return f.cfg, nil
	}
	p, err := f.ConfigPath()
	if err != nil {
		return nil, err
	}
	c, err := config.Load(p, f.Getenv)
	if err != nil {
		return nil, err
	}
	f.cfg = c
	return c, nil
}

// ResetConfig forgets the loaded configuration and client (after login or
// logout changed the file).
func (f *Factory) ResetConfig() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = nil
	if f.client != nil {
		f.client.Close()
		f.client = nil
	}
}

// Client returns the API client for the configured control, or
// ErrNotLoggedIn.
func (f *Factory) Client() (*client.Client, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f.client, nil
	}
	if !cfg.LoggedIn() {
		return nil, ErrNotLoggedIn
	}
	c, err := client.New(client.Config{
		URL:       cfg.Control,
		Token:     cfg.Token,
		CAPin:     cfg.CAPin,
		CAPEM:     cfg.CAPEM,
		UserAgent: "onepam/" + f.Version,
	})
	if err != nil {
		return nil, err
	}
	f.client = c
	return c, nil
}
