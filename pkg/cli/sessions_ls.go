package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// SessionsListOptions are the options of `onepam sessions ls`.
type SessionsListOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Now      func() time.Time
	Location *time.Location
	Query    client.SessionQuery
	// Args are the command's arguments, repeated in the --cursor hint.
	Args []string
}

// NewCmdSessionsList returns `onepam sessions ls`.
func NewCmdSessionsList(f *cmdutil.Factory, runF func(context.Context, *SessionsListOptions) error) *cobra.Command {
	opts := &SessionsListOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now, Location: f.Location}
	var statuses, types []string
	var since, until string
	cmd := &cobra.Command{
		Use:     "ls [--status S]... [--type T]... [--user U] [--resource R] [--since T] [--until T] [--limit N] [--cursor C]",
		Aliases: []string{"list"},
		Short:   "List sessions, newest first",
		Long: `List sessions, newest first. --status and --type repeat or take comma lists.
--since and --until take a duration before now (1h, 7d) or an RFC 3339 time.
When more sessions match than --limit, the hint on standard error gives the
--cursor that continues the list. -o json prints a JSON array of sessions
(fields documented in docs/cli.md).`,
		Example: `  onepam sessions ls
  onepam sessions ls --status active --type tcp --limit 50
  onepam sessions ls --status completed,failed --user bob --since 24h
  onepam sessions ls --resource pg-prod -o json | jq '.[].bytes_down'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Query.Status, err = cmdutil.ParseStatuses(statuses); err != nil {
				return err
			}
			if opts.Query.Type, err = cmdutil.ParseTypes(types); err != nil {
				return err
			}
			now := opts.Now()
			if opts.Query.Since, err = cmdutil.ParseTime("since", since, now); err != nil {
				return err
			}
			if opts.Query.Until, err = cmdutil.ParseTime("until", until, now); err != nil {
				return err
			}
			if opts.Query.Limit < 1 || opts.Query.Limit > 1000 {
				return cmdutil.FlagErrorf("--limit must be between 1 and 1000")
			}
			opts.Args = flagArgs(cmd, "cursor")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsList(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&statuses, "status", nil, "only these states: pending, active, completed, terminated, failed (repeatable, or a comma list)")
	fl.StringArrayVar(&types, "type", nil, "only these types: ssh, rdp, vnc, db, http, tcp (repeatable, or a comma list)")
	fl.StringVar(&opts.Query.User, "user", "", "only this user's sessions")
	fl.StringVar(&opts.Query.Resource, "resource", "", "only sessions to this resource")
	fl.StringVar(&since, "since", "", "only sessions created after this: a duration ago (1h, 7d) or an RFC 3339 time")
	fl.StringVar(&until, "until", "", "only sessions created before this: a duration ago or an RFC 3339 time")
	fl.IntVar(&opts.Query.Limit, "limit", 50, "at most this many sessions (1-1000)")
	fl.StringVar(&opts.Query.Cursor, "cursor", "", "continue a previous listing (printed when more sessions exist)")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// flagArgs returns the flags set on cmd as arguments, except skip.
func flagArgs(cmd *cobra.Command, skip string) []string {
	var out []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if fl.Name == skip || fl.Name == "config" {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+fl.Name, shellQuote(v))
			}
			return
		}
		out = append(out, "--"+fl.Name, shellQuote(fl.Value.String()))
	})
	return out
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:=/@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func runSessionsList(ctx context.Context, opts *SessionsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.ListSessions(ctx, opts.Query)
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, list.Sessions)
	}
	now := opts.Now()
	t := output.NewTable(opts.IO.Out)
	t.Header("USER", "TYPE", "STATUS", "DURATION", "DATA", "CLIENT IP", "STARTED", "ID")
	for i := range list.Sessions {
		s := &list.Sessions[i]
		started := s.CreatedAt
		if s.StartedAt != nil {
			started = *s.StartedAt
		}
		t.Row(s.User, string(s.Type), formatStatus(opts.IO, s.Status), sessionDuration(s, now),
			output.Bytes(s.BytesUp+s.BytesDown), output.Dash(s.ClientIP), output.Time(started, opts.Location), s.ID)
	}
	if err := t.Render(); err != nil {
		return err
	}
	if list.NextCursor != "" {
		args := append([]string{"onepam", "sessions", "ls"}, opts.Args...)
		fmt.Fprintf(opts.IO.ErrOut, "more sessions: %s --cursor %s\n", strings.Join(args, " "), shellQuote(list.NextCursor))
	}
	return nil
}

// sessionDuration is how long a session has been active: to its end, or to
// now while it runs; "-" when it never started.
func sessionDuration(s *api.Session, now time.Time) string {
	if s.StartedAt == nil {
		return "-"
	}
	return output.Duration(s.Duration(now))
}
