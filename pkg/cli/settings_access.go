package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
)

// RecordingAccessOptions are the options of `onepam settings
// recording-access show|set`.
type RecordingAccessOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	// UsersOwn is the new value ("on" or "off"); "" shows the setting.
	UsersOwn string
}

func newCmdRecordingAccessShow(f *cmdutil.Factory) *cobra.Command {
	opts := &RecordingAccessOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use: "show", Short: "Show whether users may read the recordings of their own sessions", Args: cmdutil.NoArgs,
		Example: "  onepam settings recording-access show\n  onepam settings recording-access show -o json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecordingAccess(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func newCmdRecordingAccessSet(f *cmdutil.Factory) *cobra.Command {
	opts := &RecordingAccessOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "set --users-own on|off",
		Short: "Let users read the recordings of their own sessions, or not",
		Long: `Set whether a user may read the recordings of its own sessions: replay,
export, frames and snapshots, verify, watch, file activity and search.
Admins and auditors read every session's recording whatever this says; a
user never reads another user's. The default is on. Every read, allowed
or refused, is an audit event naming the user, the session and the action.`,
		Example: `  onepam settings recording-access set --users-own off
  onepam settings recording-access set --users-own on`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.UsersOwn != "on" && opts.UsersOwn != "off" {
				return cmdutil.FlagErrorf("--users-own %q: want on or off", opts.UsersOwn)
			}
			return runRecordingAccess(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.UsersOwn, "users-own", "", "on or off: users may read the recordings of their own sessions")
	_ = cmd.MarkFlagRequired("users-own")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runRecordingAccess shows the setting, or sets it when opts.UsersOwn is
// given, and prints the setting in force.
func runRecordingAccess(ctx context.Context, opts *RecordingAccessOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var a api.RecordingAccess
	if opts.UsersOwn == "" {
		a, err = c.RecordingAccess(ctx)
	} else {
		a, err = c.SetRecordingAccess(ctx, api.RecordingAccess{UsersOwn: opts.UsersOwn == "on"})
	}
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.Print(opts.IO.Out, opts.Format, a, nil)
	}
	who := "admins and auditors read every session's recording; users read their own sessions' recordings"
	if !a.UsersOwn {
		who = "admins and auditors read every session's recording; users read none, not even their own sessions'"
	}
	_, err = fmt.Fprintf(opts.IO.Out, "recording access: users own %s (%s)\n", onOff(a.UsersOwn), who)
	return err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
