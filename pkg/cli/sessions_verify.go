package cli

import (
	"context"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

// SessionsVerifyOptions are the options of `onepam sessions verify`.
type SessionsVerifyOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	ID     string
}

// NewCmdSessionsVerify returns `onepam sessions verify`.
func NewCmdSessionsVerify(f *cmdutil.Factory, runF func(context.Context, *SessionsVerifyOptions) error) *cobra.Command {
	opts := &SessionsVerifyOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "verify ID",
		Short: "Check that a session's recording is complete and unaltered",
		Long: `Check a session's stored recording: every frame against the hash chain that
links it to the one before, and the agent's Ed25519 signature over the end
of the chain. It says exactly where a recording was altered (frame, byte
offset, session time) and exits 1 when it was altered, signed with another
key, or cut although its session ended normally.

A recording cut because its session failed (the agent was lost, e.g. killed)
is reported as cut at its last frame and exits 0: every frame that was kept
is authentic.`,
		Example: `  onepam sessions verify 0197a1b2-...
  onepam sessions verify 0197a1b2-... -o json`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsVerify(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runSessionsVerify(ctx context.Context, opts *SessionsVerifyOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	v, err := c.VerifyRecording(ctx, opts.ID)
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		if err := output.Print(opts.IO.Out, opts.Format, v, nil); err != nil {
			return err
		}
	} else if _, err := fmt.Fprintf(opts.IO.Out, "%s: %s\n", verifyWord(v), v.Message); err != nil {
		return err
	}
	if !v.Intact && v.Status != "unverifiable" {
		return &cmdutil.ExitStatusError{Code: cmdutil.ExitError}
	}
	return nil
}

func verifyWord(v api.RecordingVerification) string {
	switch {
	case v.Status == "ok":
		return "intact"
	case v.Status == "unverifiable":
		return "not verifiable"
	case v.Intact:
		return "intact but " + v.Status
	}
	return "NOT INTACT (" + v.Status + ")"
}
