// Package agentcli is the onepam-agent command line: `onepam-agent run`
// (enroll on first start, then serve control), `version` and `completion`.
// Flags of run may also come from ONEPAM_AGENT_* environment variables and
// from the agent.yaml given with --config; a flag beats the environment,
// which beats the file.
package agentcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/onepam/onepam/agent"
)

// Version is the agent's version, set at build time with
// -ldflags "-X github.com/onepam/onepam/agent/agentcli.Version=v1.2.3".
var Version = "dev"

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitError   = 1 // the agent stopped with an error
	ExitUsage   = 2 // bad flags or configuration
	ExitRevoked = 3 // control revoked the agent
)

// usageError marks errors caused by how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Main runs the command line with os.Args and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// Execute runs the command line with args and returns the exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := NewRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "onepam-agent: %v\n", err)
	var ue usageError
	switch {
	case errors.Is(err, agent.ErrRevoked):
		return ExitRevoked
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitError
}

// NewRootCmd builds the onepam-agent command tree.
func NewRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "onepam-agent",
		Short: "OnePAM agent: connects people to the resources next to it, through control",
		Long: `The OnePAM agent runs on (or next to) the servers, databases and services
people connect to. It dials out to the OnePAM control server (no inbound port
needed), announces its resources, carries and records every session, and
keeps the target credentials to itself.`,
		Example: `  # First start: enroll with a token from "onepam agents token create"
  onepam-agent run --control control.example.com:7444 --token TOKEN \
    --data-dir /var/lib/onepam-agent --config /etc/onepam/agent.yaml

  # Later starts use the saved certificate
  onepam-agent run --data-dir /var/lib/onepam-agent --config /etc/onepam/agent.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCmd(stderr), newVersionCmd(stdout))
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the agent's version",
		Example: "  onepam-agent version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(stdout, "onepam-agent %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// newLogger makes the slog logger of --log-format and --log-level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("bad --log-level %q (want debug, info, warn or error)", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Errorf("bad --log-format %q (want text or json)", format)}
}

// newViper binds a command's flags to ONEPAM_AGENT_* variables.
func newViper(cmd *cobra.Command) (*viper.Viper, error) {
	v := viper.New()
	v.SetEnvPrefix("ONEPAM_AGENT")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return nil, err
	}
	return v, nil
}
