package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/recordfmt/deskproto"
	"github.com/spf13/cobra"
)

// SessionsFramesOptions are the options of `onepam sessions frames`.
type SessionsFramesOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
	Dir    string
	Every  time.Duration // one frame per interval over the whole recording
	At     time.Duration // one frame at this time (AtSet)
	AtSet  bool
}

// NewCmdSessionsFrames returns `onepam sessions frames`.
func NewCmdSessionsFrames(f *cmdutil.Factory, runF func(context.Context, *SessionsFramesOptions) error) *cobra.Command {
	opts := &SessionsFramesOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "frames ID DIR [--every 1s] [--at 1m30s]",
		Short: "Write a desktop session's screen as PNG images",
		Long: `Rebuild the screen of a desktop (vnc, rdp) session from its recording and
write it to DIR as PNG images: one every --every over the whole session
(DIR/frame-000000.png, frame-000001.png, ...), or with --at only the screen
at that time (DIR/frame-at-SECONDS.png). DIR is created when missing. The
paths written are printed, one a line.`,
		Example: `  onepam sessions frames 0197a1b2-... ./frames --every 5s
  onepam sessions frames 0197a1b2-... . --at 1m30s`,
		Args: cmdutil.ExactArgs(2, "the session's ID and a directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID, opts.Dir = args[0], args[1]
			opts.AtSet = cmd.Flags().Changed("at")
			if opts.Every <= 0 {
				return cmdutil.FlagErrorf("--every %s: want a positive interval, e.g. 1s", opts.Every)
			}
			if opts.AtSet && opts.At < 0 {
				return cmdutil.FlagErrorf("--at %s: want a time from the session's start, e.g. 1m30s", opts.At)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsFrames(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Every, "every", time.Second, "interval between frames")
	cmd.Flags().DurationVar(&opts.At, "at", 0, "write only the screen at this time since the session started, e.g. 1m30s")
	return cmd
}

func runSessionsFrames(ctx context.Context, opts *SessionsFramesOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.GetSession(ctx, opts.ID)
	if err != nil {
		return err
	}
	format := s.Recording.Format
	if format == "" {
		format = api.RecordingFormatFor(s.Type)
	}
	if format != api.FormatDeskproto {
		return fmt.Errorf("session %s is a %s session with a %s recording: frames exist only for desktop sessions (vnc, rdp); use onepam sessions replay %s", s.ID, s.Type, format, s.ID)
	}
	if s.Recording.State == api.RecordingExpired {
		return fmt.Errorf("the recording of session %s was deleted by retention", s.ID)
	}
	rc, err := c.Recording(ctx, s.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	spool, size, err := spoolRecording(rc)
	if err != nil {
		return fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	defer removeSpool(spool)
	p, err := deskproto.NewPlayer(spool, size)
	if err != nil {
		return fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	var paths []string
	if opts.AtSet {
		path := filepath.Join(opts.Dir, fmt.Sprintf("frame-at-%.3fs.png", opts.At.Seconds()))
		if err := writeFramePNG(p, opts.At, path); err != nil {
			return fmt.Errorf("session %s at %s: %w", s.ID, opts.At, err)
		}
		paths = []string{path}
	} else {
		paths, err = p.ExportFrames(opts.Every, opts.Dir)
		if err != nil {
			return fmt.Errorf("session %s: %w", s.ID, err)
		}
	}
	for _, path := range paths {
		fmt.Fprintln(opts.IO.Out, path)
	}
	if len(paths) == 0 {
		return fmt.Errorf("session %s's recording holds no screen yet", s.ID)
	}
	if err := p.Cut(); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "warning: the recording is damaged after %s: %v\n", p.Duration(), err)
	}
	return nil
}

// writeFramePNG writes the screen at t to path.
func writeFramePNG(p *deskproto.Player, t time.Duration, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.ExportPNG(t, f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
