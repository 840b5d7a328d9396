package cli

import (
	"context"
	"fmt"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/spf13/cobra"
)

// SessionsKillOptions are the options of `onepam sessions kill`.
type SessionsKillOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
	Reason string
}

// NewCmdSessionsKill returns `onepam sessions kill`.
func NewCmdSessionsKill(f *cmdutil.Factory, runF func(context.Context, *SessionsKillOptions) error) *cobra.Command {
	opts := &SessionsKillOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "kill ID [--reason R]",
		Aliases: []string{"terminate"},
		Short:   "Terminate a pending or active session at once (admin)",
		Long: `Terminate a session: both sides are disconnected, the session ends
"terminated" with who and why, and its recording is finalised.`,
		Example: `  onepam sessions kill 0197a1b2-... --reason "access not approved"`,
		Args:    cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsKill(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why, kept with the session and shown to its user")
	return cmd
}

func runSessionsKill(ctx context.Context, opts *SessionsKillOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.KillSession(ctx, opts.ID, opts.Reason)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "session %s terminated\n", s.ID)
	return err
}
