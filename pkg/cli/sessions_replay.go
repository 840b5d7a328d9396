package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/recordfmt/connlog"
	"github.com/spf13/cobra"
)

// SessionsReplayOptions are the options of `onepam sessions replay`.
type SessionsReplayOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	ID     string
}

// NewCmdSessionsReplay returns `onepam sessions replay`.
func NewCmdSessionsReplay(f *cmdutil.Factory, runF func(context.Context, *SessionsReplayOptions) error) *cobra.Command {
	opts := &SessionsReplayOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Replay a session's recording (tcp: its connection log)",
		Long: `Replay a session's recording. For a TCP session this prints its connection
log: one row per connection event (open, close, error) with the time since
the session started, the connection number, the client's address, the bytes
each way and how long the connection lasted. -o json prints the events as a
JSON array (the connlog fields: t, event, conn, peer, target, bytes_up,
bytes_down, duration, error).`,
		Example: `  onepam sessions replay 0197a1b2-...
  onepam sessions replay 0197a1b2-... -o json | jq 'map(.bytes_down) | add'`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsReplay(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runSessionsReplay(ctx context.Context, opts *SessionsReplayOptions) error {
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
	if format != api.FormatConnlog {
		return fmt.Errorf("replay of %s recordings (%s sessions) is not available in this version of onepam; use onepam sessions show %s", format, s.Type, s.ID)
	}
	if s.Recording.State == api.RecordingExpired {
		return fmt.Errorf("the recording of session %s was deleted by retention", s.ID)
	}
	rc, err := c.Recording(ctx, s.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	events, decErr := readConnlog(rc)
	if decErr != nil && len(events) == 0 {
		return fmt.Errorf("recording of session %s: %w", s.ID, decErr)
	}
	if opts.Format.IsJSON() {
		if err := output.WriteJSON(opts.IO.Out, events); err != nil {
			return err
		}
	} else if err := writeConnlogTable(opts.IO.Out, events); err != nil {
		return err
	}
	if decErr != nil {
		return fmt.Errorf("recording of session %s is damaged after %d events: %w", s.ID, len(events), decErr)
	}
	return nil
}

// readConnlog decodes every event it can; on a malformed line it returns
// the events before it and the error.
func readConnlog(r io.Reader) ([]connlog.Event, error) {
	dec := connlog.NewDecoder(r)
	events := []connlog.Event{}
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}

func writeConnlogTable(w io.Writer, events []connlog.Event) error {
	t := output.NewTable(w)
	t.Header("TIME", "CONN", "EVENT", "PEER", "UP", "DOWN", "DURATION", "ERROR")
	for _, e := range events {
		up, down, dur := "-", "-", "-"
		if e.Event == connlog.EventClose {
			up, down = output.Bytes(e.BytesUp), output.Bytes(e.BytesDown)
			dur = seconds(e.Duration)
		}
		t.Row(seconds(e.T), fmt.Sprint(e.Conn), e.Event, output.Dash(e.Peer), up, down, dur, output.Dash(e.Error))
	}
	return t.Render()
}

// seconds formats a number of seconds: "1.234s" below a minute, else the
// human duration.
func seconds(v float64) string {
	if v < 60 {
		return fmt.Sprintf("%.3fs", v)
	}
	return output.Duration(time.Duration(v * float64(time.Second)))
}
