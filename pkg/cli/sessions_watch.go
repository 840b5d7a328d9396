package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/recordfmt/asciicast"
	"github.com/spf13/cobra"
)

// SessionsWatchOptions are the options of `onepam sessions watch`.
type SessionsWatchOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
	Live   bool // from now instead of from the start
}

// NewCmdSessionsWatch returns `onepam sessions watch`.
func NewCmdSessionsWatch(f *cmdutil.Factory, runF func(context.Context, *SessionsWatchOptions) error) *cobra.Command {
	opts := &SessionsWatchOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "watch ID [--live]",
		Short: "Watch an active terminal or desktop session as it happens",
		Long: `Show an SSH session's terminal as the person sees it, as it happens:
read-only, from the session's start (so the screen is complete), or with
--live from now on. The watch ends with a line saying how the session ended
("session ended: completed", "session terminated by an administrator
(alice): reason"). Ctrl-C stops watching; the session goes on. Admins and
auditors watch every session, a user its own sessions when onepam settings
recording-access allows it; every watch is audited.

A desktop session (vnc, rdp) shows as a scaled live preview in true-colour
half blocks, rebuilt from its start (--live does not apply); q stops
watching.`,
		Example: `  onepam sessions ls --status active --type ssh
  onepam sessions watch 0197a1b2-...
  onepam sessions watch 0197a1b2-... --live`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsWatch(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Live, "live", false, "start from now instead of the session's start")
	return cmd
}

func runSessionsWatch(ctx context.Context, opts *SessionsWatchOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.GetSession(ctx, opts.ID)
	if err != nil {
		return err
	}
	f := s.Recording.Format
	if f == "" {
		f = api.RecordingFormatFor(s.Type)
	}
	if f == api.FormatDeskproto {
		return watchDesktop(ctx, opts, c, s)
	}
	if f != api.FormatAsciicast {
		return fmt.Errorf("session %s is a %s session: watch shows terminal (ssh) sessions and desktop (vnc, rdp) sessions; see onepam sessions show %s", s.ID, s.Type, s.ID)
	}
	rc, _, err := c.Watch(ctx, s.ID, opts.Live)
	if err != nil {
		return err
	}
	defer rc.Close()
	if opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "watching session %s (%s on %s), read-only; Ctrl-C stops watching\r\n", s.ID, s.User, s.Resource)
	}
	werr := copyTerminalOutput(opts.IO.Out, rc)
	if ctx.Err() != nil {
		return nil // the watcher stopped (Ctrl-C)
	}
	ended := waitEnded(ctx, c, s.ID, 5*time.Second)
	fmt.Fprint(opts.IO.Out, "\x1b[0m\r\n")
	if werr != nil && !ended.Status.Terminal() {
		return fmt.Errorf("watch of session %s broke: %w", s.ID, werr)
	}
	fmt.Fprintln(opts.IO.ErrOut, endedLine(ended))
	return nil
}

// copyTerminalOutput writes the terminal output of a recording's stored
// form to w as it is read. A recording cut inside an event ends cleanly.
func copyTerminalOutput(w io.Writer, src io.Reader) error {
	rd, err := asciicast.NewReader(bufio.NewReaderSize(src, 64<<10))
	if errors.Is(err, asciicast.ErrTruncated) || errors.Is(err, io.EOF) {
		return nil // nothing recorded
	}
	if err != nil {
		return err
	}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, asciicast.ErrTruncated) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.Type == asciicast.TypeOutput {
			if _, err := w.Write(rec.Data); err != nil {
				return err
			}
		}
	}
}

// waitEnded reads the session until it is in a terminal state (at most d).
func waitEnded(ctx context.Context, c *client.Client, id string, d time.Duration) api.Session {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	var s api.Session
	for {
		got, err := c.GetSession(qctx, id)
		if err == nil {
			s = got
			if s.Status.Terminal() {
				return s
			}
		}
		select {
		case <-qctx.Done():
			return s
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// endedLine says how a watched session ended.
func endedLine(s api.Session) string {
	switch s.Status {
	case api.StatusTerminated:
		return terminatedMessage(s)
	case api.StatusFailed:
		return "session ended: failed: " + s.Error
	case api.StatusCompleted:
		return "session ended: completed"
	}
	return fmt.Sprintf("watch ended; the session is still %s", s.Status)
}
