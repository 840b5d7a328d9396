package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/spf13/cobra"
)

// Main runs the onepam command with the process's arguments and returns
// its exit code. SIGINT and SIGTERM cancel the command's context.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cmdutil.New(VersionString()), os.Args[1:])
}

// Run runs the onepam command with args and returns its exit code; errors
// are printed as one line on f's error output.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	err := Execute(ctx, root)
	if err == nil {
		return cmdutil.ExitOK
	}
	code, msg := cmdutil.Classify(err)
	if msg != "" {
		fmt.Fprintln(f.IOStreams.ErrOut, msg)
	}
	var fe *cmdutil.FlagError
	if code == cmdutil.ExitUsage && !errors.As(err, &fe) {
		fmt.Fprintln(f.IOStreams.ErrOut, "Run 'onepam --help' for usage.")
	}
	return code
}

// Execute runs an already configured command tree.
func Execute(ctx context.Context, root *cobra.Command) error {
	_, err := root.ExecuteContextC(ctx)
	return err
}

// NewCmdRoot returns the onepam command with every subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "onepam",
		Short: "OnePAM: connect to servers, databases and services through control; every session recorded",
		Long: `onepam connects you to resources through OnePAM's control server, which
authorises, records and audits every session, and administers control.

Environment:
  ONEPAM_CONFIG    CLI config file (default $XDG_CONFIG_HOME/onepam/config.yaml)
  ONEPAM_CONTROL   control's URL, overriding the config file
  ONEPAM_TOKEN     API token, overriding the config file
  ONEPAM_CA_PIN    control's CA pin (sha256:...), overriding the config file
  NO_COLOR         disable colours

` + cmdutil.ExitCodesHelp,
		Example: `  # log in once, then list running TCP sessions
  onepam login --control https://control.example:7443 --token opt_... --ca-pin sha256:...
  onepam sessions ls --status active --type tcp

  # try everything locally
  onepam dev`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownSubcommand,
		RunE:          helpOrUnknown,
		Version:       VersionString(),
	}
	cmd.SetIn(f.IOStreams.In)
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetVersionTemplate("onepam {{.Version}}\n")
	cmd.PersistentFlags().StringVar(&f.ConfigFlag, "config", "", "CLI config file (default $ONEPAM_CONFIG or $XDG_CONFIG_HOME/onepam/config.yaml)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	cmd.CompletionOptions.DisableDefaultCmd = true

	cmd.AddCommand(
		NewCmdLogin(f, nil),
		NewCmdLogout(f, nil),
		NewCmdWhoami(f, nil),
		newCmdUsers(f),
		newCmdTokens(f),
		newCmdPolicy(f),
		newCmdAudit(f),
		newCmdAgents(f),
		newCmdResources(f),
		newCmdSessions(f),
		newCmdControl(f),
		NewCmdDev(f, nil),
		NewCmdVersion(f, nil),
		NewCmdCompletion(f),
	)
	cmd.AddCommand(NewCmdSSH(f, nil), newCmdProxy(f), newCmdConfig(f), newCmdSettings(f))
	cmd.AddCommand(newCmdConnectGroups(f)...)
	return cmd
}

// newGroup returns a command that only holds subcommands: without
// arguments it prints its help; an unknown subcommand is a usage error.
func newGroup(use, short, example string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    unknownSubcommand,
		RunE:    helpOrUnknown,
	}
}

func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cmdutil.FlagErrorf("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

func helpOrUnknown(cmd *cobra.Command, args []string) error {
	if err := unknownSubcommand(cmd, args); err != nil {
		return err
	}
	return cmd.Help()
}
