package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/onepam/onepam/pkg/fsutil"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/config"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
)

// DevOptions are the options of `onepam dev`.
type DevOptions struct {
	IO          *iostreams.IOStreams
	ConfigPath  func() (string, error)
	Version     string
	Dir         string
	Listen      string
	AgentListen string
	Resources   []string // NAME=URL
	Verbose     bool
	// Ready, when set, is called once everything runs and the CLI is
	// logged in (tests).
	Ready func(DevInfo)
}

// DevInfo describes a running `onepam dev`.
type DevInfo struct {
	ControlURL string
	AgentAddr  string
	EchoAddr   string
	ConfigPath string
	AdminToken string
	// DemoAppURL is the published URL of the demo web app
	// (https://demo-web.<apps domain>:PORT/).
	DemoAppURL string
}

// Names used by onepam dev.
const (
	devAgentName    = "dev-agent"
	devEchoResource = "echo"
	devWebResource  = "demo-web"
	devTokenFile    = "admin.token"
)

// NewCmdDev returns `onepam dev`.
func NewCmdDev(f *cmdutil.Factory, runF func(context.Context, *DevOptions) error) *cobra.Command {
	opts := &DevOptions{IO: f.IOStreams, ConfigPath: f.ConfigPath, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "dev [--dir .onepam-dev] [--resource NAME=URL]...",
		Short: "Run control, an agent and a demo echo service locally, and log the CLI in",
		Long: `Run everything on this machine: a control server (data in DIR/control), an
agent in the same process (DIR/agent) serving a TCP echo service it runs
itself as resource "echo" (label env=dev), a small demo web app published
at https://demo-web.localhost:PORT (resource "demo-web"), this machine's PostgreSQL as
resource "pg" when one answers on 127.0.0.1:5432, plus the resources of --resource,
and log the CLI in (the config file of --config or ONEPAM_CONFIG, else the
default). The admin token is kept in DIR/admin.token. Running it again
reuses DIR. Ctrl-C stops everything.`,
		Example: `  onepam dev
  onepam dev --resource pg=tcp://127.0.0.1:5432 --resource redis=tcp://127.0.0.1:6379
  onepam dev --dir /tmp/onepam --listen 127.0.0.1:8443 --agent-listen 127.0.0.1:8444 -v`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, r := range opts.Resources {
				if name, u, ok := strings.Cut(r, "="); !ok || name == "" || u == "" {
					return cmdutil.FlagErrorf("--resource %q: want NAME=URL, e.g. pg=tcp://127.0.0.1:5432", r)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDev(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", ".onepam-dev", "data directory of control and the agent")
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:7443", "control's API address")
	fl.StringVar(&opts.AgentListen, "agent-listen", "127.0.0.1:7444", "control's agent address")
	fl.StringArrayVar(&opts.Resources, "resource", nil, "extra resource NAME=URL, e.g. pg=tcp://127.0.0.1:5432 (repeatable)")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "log at info level (default warn)")
	return cmd
}

func runDev(ctx context.Context, opts *DevOptions) error {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelInfo
	}
	logger := newLogger(opts.IO.ErrOut, "text", level)

	echo, err := startEchoService(logger)
	if err != nil {
		return err
	}
	defer echo.Close()
	webApp, err := startDemoWeb()
	if err != nil {
		return err
	}
	defer webApp.Close()
	resources, err := devResources(echo.Addr().String(), opts.Resources)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if web, ok := devWebApp(webApp.Addr().String(), opts.Resources); ok {
		resources = append(resources, web)
	}
	if pg, ok := devDemoDB(resources); ok {
		resources = append(resources, pg)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := control.New(ctx, control.Config{
		DataDir:     filepath.Join(opts.Dir, "control"),
		Listen:      opts.Listen,
		AgentListen: opts.AgentListen,
		Logger:      logger.With("part", "control"),
		Version:     opts.Version,
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w: is another onepam dev running? stop it or pick other ports with --listen and --agent-listen", err)
		}
		return err
	}
	defer srv.Close()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	controlURL := "https://" + srv.APIAddr().String()
	token, err := devAdminToken(ctx, opts.Dir, srv, controlURL)
	if err != nil {
		return err
	}
	cfgPath, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	if err := config.Save(cfgPath, config.File{Control: controlURL, Token: token, CAPin: srv.CAPin(), CAPEM: string(srv.CACertPEM())}); err != nil {
		return err
	}

	agentDir := filepath.Join(opts.Dir, "agent")
	acfg := agent.Config{
		ControlAddr: srv.AgentAddr().String(),
		DataDir:     agentDir,
		Name:        devAgentName,
		Resources:   resources,
		Version:     opts.Version,
		Logger:      logger.With("part", "agent"),
	}
	if _, err := os.Stat(filepath.Join(agentDir, "identity.json")); errors.Is(err, fs.ErrNotExist) {
		et, err := srv.CreateEnrollToken(ctx, time.Hour, "dev")
		if err != nil {
			return fmt.Errorf("create the dev agent's enrollment token: %w", err)
		}
		acfg.Token = et.Token
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(ctx, acfg) }()

	c, err := client.New(client.Config{URL: controlURL, Token: token, CAPEM: srv.CACertPEM(), UserAgent: "onepam/" + opts.Version})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := waitAgentOnline(ctx, c, agentDone, 30*time.Second); err != nil {
		return err
	}

	info := DevInfo{ControlURL: controlURL, AgentAddr: srv.AgentAddr().String(), EchoAddr: echo.Addr().String(), ConfigPath: cfgPath, AdminToken: token}
	if slices.ContainsFunc(resources, func(r agent.ResourceConfig) bool { return r.Name == devWebResource }) {
		_, port, _ := net.SplitHostPort(srv.APIAddr().String())
		info.DemoAppURL = "https://" + net.JoinHostPort(devWebResource+"."+srv.AppsDomain(), port) + "/"
	}
	printDevBanner(opts.IO.Out, info, resources)
	if opts.Ready != nil {
		opts.Ready(info)
	}

	var result error
	select {
	case <-ctx.Done():
	case err := <-served:
		served = nil
		result = fmt.Errorf("control stopped: %w", err)
	case err := <-agentDone:
		agentDone = nil
		result = fmt.Errorf("the dev agent stopped: %w", err)
	}
	cancel()
	if agentDone != nil {
		<-agentDone
	}
	if served != nil {
		<-served
	}
	fmt.Fprintln(opts.IO.ErrOut, "onepam dev stopped")
	return result
}

// devResources returns the echo resource and those of --resource.
func devResources(echoAddr string, specs []string) ([]agent.ResourceConfig, error) {
	echo, err := agent.ParseResourceURL(devEchoResource, "tcp://"+echoAddr)
	if err != nil {
		return nil, err
	}
	echo.Labels = map[string]string{"env": "dev"}
	echo.Description = "demo echo service run by onepam dev"
	out := []agent.ResourceConfig{echo}
	if shell, err := devShellResource(); err == nil && !devSpecNamed(specs, devShellName) {
		out = append(out, shell)
	}
	for _, spec := range specs {
		name, u, _ := strings.Cut(spec, "=")
		r, err := agent.ParseResourceURL(name, u)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// devAdminToken returns the admin token kept in DIR/admin.token when
// control still accepts it, else a new one (the first admin token on a
// fresh data directory), saved there.
func devAdminToken(ctx context.Context, dir string, srv *control.Server, controlURL string) (string, error) {
	path := filepath.Join(dir, devTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		c, err := client.New(client.Config{URL: controlURL, Token: tok, CAPEM: srv.CACertPEM()})
		if err != nil {
			return "", err
		}
		_, err = c.Whoami(ctx)
		c.Close()
		if err == nil {
			return tok, nil
		}
		if api.CodeOf(err) != api.CodeUnauthenticated {
			return "", fmt.Errorf("check the dev admin token: %w", err)
		}
	}
	tok := srv.FirstAdminToken()
	if tok == "" {
		ct, err := srv.CreateToken(ctx, control.FirstAdmin, -1, "onepam dev")
		if err != nil {
			return "", fmt.Errorf("create a dev admin token: %w", err)
		}
		tok = ct.Secret
	}
	if err := fsutil.WriteFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// waitAgentOnline polls control until the dev agent is online.
func waitAgentOnline(ctx context.Context, c *client.Client, agentDone chan error, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		agents, err := c.ListAgents(ctx)
		lastErr = err
		for _, a := range agents {
			if a.Name == devAgentName && a.Online {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-agentDone:
			agentDone <- err // let the caller see it too
			return fmt.Errorf("the dev agent stopped: %w", err)
		case <-deadline.C:
			if lastErr != nil {
				return fmt.Errorf("the dev agent did not come online within %s: %w", timeout, lastErr)
			}
			return fmt.Errorf("the dev agent did not come online within %s (run with -v to see its logs)", timeout)
		case <-tick.C:
		}
	}
}

func printDevBanner(w io.Writer, info DevInfo, resources []agent.ResourceConfig) {
	_, echoPort, _ := net.SplitHostPort(info.EchoAddr)
	fmt.Fprintf(w, "OnePAM dev is running; Ctrl-C stops it.\n")
	fmt.Fprintf(w, "  control     %s (agents connect to %s)\n", info.ControlURL, info.AgentAddr)
	fmt.Fprintf(w, "  CLI config  %s (logged in as admin)\n", info.ConfigPath)
	fmt.Fprintf(w, "  console     %s/ (sign in with the admin token: onepam tokens create)\n", info.ControlURL)
	if info.DemoAppURL != "" {
		fmt.Fprintf(w, "  demo app    %s (a published web app: sign in like the console)\n", info.DemoAppURL)
	}
	fmt.Fprintf(w, "  resources  ")
	for i, r := range resources {
		if i > 0 {
			fmt.Fprint(w, ",")
		}
		where := r.Address
		if where == "" {
			where = "on the agent host"
		}
		fmt.Fprintf(w, " %s (%s %s)", r.Name, r.Type, where)
	}
	fmt.Fprintf(w, "\n\nTry, in another shell:\n")
	fmt.Fprintf(w, "  onepam resources ls\n")
	fmt.Fprintf(w, "  onepam tcp connect echo          # prints a local address like 127.0.0.1:PORT\n")
	fmt.Fprintf(w, "  nc 127.0.0.1 PORT                # what you type comes back from the echo service on :%s\n", echoPort)
	for _, r := range resources {
		if r.Name == devShellName {
			fmt.Fprintf(w, "  onepam ssh %s                 # a recorded shell on this machine (built-in SSH target)\n", devShellName)
		}
	}
	for _, r := range resources {
		if r.Name == devPGResource {
			fmt.Fprintf(w, "  onepam db connect pg -- psql -c 'select 1'   # every statement lands in the query log\n")
		}
	}
	fmt.Fprintf(w, "  onepam sessions ls\n")
	fmt.Fprintf(w, "  onepam sessions replay SESSION_ID\n")
}

// startEchoService runs a TCP echo service on a free loopback port.
func startEchoService(logger *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the echo service: %w", err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, err := io.Copy(c, c)
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				logger.Debug("echo connection ended", "peer", c.RemoteAddr().String(), "bytes", n, "err", err)
			}()
		}
	}()
	return ln, nil
}
