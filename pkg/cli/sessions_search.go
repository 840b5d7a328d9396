package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
)

// SessionsSearchOptions are the options of `onepam sessions search`.
type SessionsSearchOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	Now    func() time.Time
	Query  client.SearchQuery
}

// NewCmdSessionsSearch returns `onepam sessions search`.
func NewCmdSessionsSearch(f *cmdutil.Factory, runF func(context.Context, *SessionsSearchOptions) error) *cobra.Command {
	opts := &SessionsSearchOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	var types []string
	var since string
	cmd := &cobra.Command{
		Use:   "search TEXT [--type ssh] [--since 24h] [--input]",
		Short: "Find the sessions whose recorded output (or typed input) contains TEXT",
		Long: `Search the text of terminal recordings: the lines of output, or with --input
the lines that were typed, that hold the words of TEXT in that order. Each hit
prints its session, its time in the session (pass it to onepam sessions
replay --from to jump there), the user, the resource and the line. Recordings
are indexed when they are complete. A user sees only its own sessions.
-o json prints a JSON array (session_id, offset_seconds, input, line, user,
resource, type, created_at).`,
		Example: `  onepam sessions search "rm -rf" --input
  onepam sessions search "permission denied" --since 24h
  onepam sessions replay SESSION_ID --from 1m32s`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Query.Text = strings.TrimSpace(strings.Join(args, " "))
			if opts.Query.Text == "" {
				return cmdutil.FlagErrorf("give the TEXT to search for")
			}
			var err error
			if opts.Query.Types, err = cmdutil.ParseTypes(types); err != nil {
				return err
			}
			if opts.Query.Since, err = cmdutil.ParseTime("since", since, opts.Now()); err != nil {
				return err
			}
			if opts.Query.Limit < 1 || opts.Query.Limit > 1000 {
				return cmdutil.FlagErrorf("--limit must be between 1 and 1000")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsSearch(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	fl := cmd.Flags()
	fl.StringArrayVar(&types, "type", nil, "only sessions of these types (repeatable, or a comma list)")
	fl.StringVar(&since, "since", "", "only sessions created after this: a duration ago (1h, 7d) or an RFC 3339 time")
	fl.BoolVar(&opts.Query.Input, "input", false, "search what was typed instead of the output")
	fl.IntVar(&opts.Query.Limit, "limit", 50, "at most this many hits (1-1000)")
	return cmd
}

func runSessionsSearch(ctx context.Context, opts *SessionsSearchOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	hits, err := c.Search(ctx, opts.Query)
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, hits)
	}
	if len(hits) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "no recorded %s holds %q\n", map[bool]string{false: "output", true: "input"}[opts.Query.Input], opts.Query.Text)
		return nil
	}
	return output.Print(opts.IO.Out, opts.Format, hits, func(t *output.TableWriter) {
		t.Header("SESSION", "TIME", "USER", "RESOURCE", "LINE")
		for _, h := range hits {
			t.Row(h.SessionID, offsetString(h.Offset()), h.User, h.Resource, h.Line)
		}
	})
}

// offsetString formats a time in a session the way --from reads it
// (a Go duration, to the millisecond: 1m32.25s).
func offsetString(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d == 0 {
		return "0s"
	}
	return d.String()
}
