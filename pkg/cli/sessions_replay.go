package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

// SessionsReplayOptions are the options of `onepam sessions replay`.
type SessionsReplayOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	ID     string

	// Terminal recordings (ssh).
	Speed     float64       // playback speed (1 = real time)
	IdleLimit time.Duration // longest pause played (0 = as recorded)
	From      time.Duration // start offset
	Input     bool          // show what was typed instead of the output
	// Logs (db): keep only statements matching this regular expression.
	Grep string
}

// replayer replays one recording format: rc is the session's recording in
// its native stored form.
type replayer func(ctx context.Context, opts *SessionsReplayOptions, s api.Session, rc io.Reader) error

// replayers is the one place recording formats are wired to `sessions
// replay`; each format's replayer lives in replay_<format>.go.
var replayers = map[api.RecordingFormat]replayer{
	api.FormatConnlog:   replayConnlog,
	api.FormatQuerylog:  replayQuerylog,
	api.FormatHAR:       replayHAR,
	api.FormatDeskproto: replayDeskproto,
	api.FormatAsciicast: replayAsciicast,
}

// NewCmdSessionsReplay returns `onepam sessions replay`.
func NewCmdSessionsReplay(f *cmdutil.Factory, runF func(context.Context, *SessionsReplayOptions) error) *cobra.Command {
	opts := &SessionsReplayOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Replay a session's recording (connection log, terminal, query log, requests, desktop summary)",
		Long: `Replay a session's recording. For a TCP session this prints its connection
log: one row per connection event (open, close, error) with the time since
the session started, the connection number, the client's address, the bytes
each way and how long the connection lasted. -o json prints the events as a
JSON array (the connlog fields: t, event, conn, peer, target, bytes_up,
bytes_down, duration, error).

For a database session it prints the query log: time, connection,
database, user, kind, statement, parameters, rows, duration and error (on a
terminal long statements are cut; -o json prints every entry whole). For an
HTTP session it prints the requests (time, method, URL, status, size,
duration); -o json prints the HAR 1.2 document. --grep keeps statements
(db) or "METHOD URL" lines (http) matching a regular expression. For a
desktop session (vnc, rdp) it prints the recording's summary; onepam
sessions frames writes its screens as PNG images.`,
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
	cmd.Flags().Float64Var(&opts.Speed, "speed", 1, "terminal recordings: playback speed (2 = twice as fast)")
	cmd.Flags().DurationVar(&opts.IdleLimit, "idle-limit", 0, "terminal recordings: longest pause to play, e.g. 2s (0 = as recorded)")
	cmd.Flags().DurationVar(&opts.From, "from", 0, "terminal recordings: start at this offset, e.g. 1m30s")
	cmd.Flags().BoolVar(&opts.Input, "input", false, "terminal recordings: show what was typed instead of the output")
	cmd.Flags().StringVar(&opts.Grep, "grep", "", "database and HTTP recordings: only statements (db) or requests (http) matching this regular expression")
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
	replay, ok := replayers[format]
	if !ok {
		return fmt.Errorf("replay of %s recordings (%s sessions) is not available in this version of onepam; use onepam sessions show %s", format, s.Type, s.ID)
	}
	if s.Recording.State == api.RecordingExpired {
		notice := s.Recording.Notice
		if notice == "" {
			notice = "the recording was deleted by retention"
		}
		// Exit 5 (not found), as when control answers a read of it.
		return api.Errorf(api.CodeNotFound, "session %s: %s", s.ID, notice)
	}
	rc, err := c.Recording(ctx, s.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	return replay(ctx, opts, s, rc)
}
