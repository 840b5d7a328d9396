package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/spf13/cobra"
)

// SessionsSnapshotOptions are the options of `onepam sessions snapshot`.
type SessionsSnapshotOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
	At     time.Duration // time since the session's start (AtSet); the end otherwise
	AtSet  bool
	Out    string // PNG file; "" for ID.png, "-" for standard output
}

// NewCmdSessionsSnapshot returns `onepam sessions snapshot`.
func NewCmdSessionsSnapshot(f *cmdutil.Factory, runF func(context.Context, *SessionsSnapshotOptions) error) *cobra.Command {
	opts := &SessionsSnapshotOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "snapshot ID [--at 1m30s] [-o frame.png]",
		Short: "Write a desktop session's screen at one time as a PNG image",
		Long: `Rebuild the screen of a desktop (vnc, rdp) session from its recording as
it was at --at since the session started (default: the end of the
recording) and write it as one PNG image: to -o, ID.png without it, or to
standard output with -o -. Seeking decodes from the nearest keyframe only.`,
		Example: `  onepam sessions snapshot 0197a1b2-...
  onepam sessions snapshot 0197a1b2-... --at 1m30s -o frame.png`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.AtSet = cmd.Flags().Changed("at")
			if opts.AtSet && opts.At < 0 {
				return cmdutil.FlagErrorf("--at %s: want a time from the session's start, e.g. 1m30s", opts.At)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsSnapshot(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.At, "at", 0, "time since the session started, e.g. 1m30s (default: the end)")
	cmd.Flags().StringVarP(&opts.Out, "output-file", "o", "", "PNG file to write (default ID.png; - for standard output)")
	return cmd
}

func runSessionsSnapshot(ctx context.Context, opts *SessionsSnapshotOptions) (err error) {
	p, s, done, err := openDesktopPlayer(ctx, opts.Client, opts.ID, "a snapshot")
	if err != nil {
		return err
	}
	defer done()
	at := p.Duration()
	if opts.AtSet {
		at = opts.At
	}
	if at > p.Duration() {
		fmt.Fprintf(opts.IO.ErrOut, "note: the recording ends at %s; this is its last screen\n", p.Duration())
	}
	path := opts.Out
	if path == "" {
		path = s.ID + ".png"
	}
	if path == "-" {
		if err := p.ExportPNG(at, opts.IO.Out); err != nil {
			return fmt.Errorf("session %s at %s: %w", s.ID, at, err)
		}
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := p.ExportPNG(at, f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("session %s at %s: %w", s.ID, at, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("snapshot: %w", err)
	}
	fmt.Fprintln(opts.IO.Out, path)
	return nil
}
