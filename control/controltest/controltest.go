// Package controltest runs a real control server and a real agent in the
// test process, on loopback with free ports, for the tests of the packages
// that control wires in (consoles, published apps): the first admin's
// client, control's CA and the agent's resources online before the test
// goes on; everything stops at cleanup.
package controltest

import (
	"context"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control"
	"github.com/onepam/onepam/pkg/client"
)

// Options shape the environment. The zero value runs control with its
// defaults and an agent named "test-agent" without resources.
type Options struct {
	// Config is control's configuration; DataDir, Listen, AgentListen,
	// Logger and ShutdownGrace are filled in when empty.
	Config control.Config
	// AgentName names the agent (default "test-agent").
	AgentName string
	// Resources are the agent's; Start waits until all are online.
	Resources []agent.ResourceConfig
}

// Env is a running control server and its agent.
type Env struct {
	Server *control.Server
	// URL is control's API base, https://127.0.0.1:PORT.
	URL string
	// Token is the first admin's token.
	Token string
	// Pool trusts control's CA.
	Pool *x509.CertPool
	// Admin is a client of the first admin.
	Admin *client.Client
}

// Logger is the logger of the servers a test runs: discarded, or text on
// stderr when ONEPAM_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("ONEPAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Start runs control and an enrolled agent serving opts.Resources, and
// returns once the resources are online.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	cfg := opts.Config
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.AgentListen == "" {
		cfg.AgentListen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = time.Second
	}
	if opts.AgentName == "" {
		opts.AgentName = "test-agent"
	}
	srv, err := control.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("control Serve: %v", err)
		}
		srv.Close()
	})
	e := &Env{Server: srv, URL: "https://" + srv.APIAddr().String(), Token: srv.FirstAdminToken(), Pool: x509.NewCertPool()}
	e.Pool.AppendCertsFromPEM(srv.CACertPEM())
	if e.Admin, err = client.New(client.Config{URL: e.URL, Token: e.Token, CAPEM: srv.CACertPEM()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Admin.Close)

	et, err := srv.CreateEnrollToken(context.Background(), time.Minute, "test")
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := agent.Run(actx, agent.Config{ControlAddr: srv.AgentAddr().String(), Token: et.Token, DataDir: filepath.Join(t.TempDir(), "agent"),
			Name: opts.AgentName, Logger: cfg.Logger, Resources: opts.Resources})
		if err != nil && actx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(func() { acancel(); wg.Wait() })
	WaitFor(t, 30*time.Second, "the agent's resources online", func() bool {
		rs, err := e.Admin.ListResources(context.Background(), client.ResourceQuery{})
		if err != nil || len(rs) != len(opts.Resources) {
			return false
		}
		for _, r := range rs {
			if !r.Online {
				return false
			}
		}
		return true
	})
	return e
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
