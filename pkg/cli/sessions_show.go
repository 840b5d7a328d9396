package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

// SessionsShowOptions are the options of `onepam sessions show`.
type SessionsShowOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Now      func() time.Time
	Location *time.Location
	ID       string
}

// NewCmdSessionsShow returns `onepam sessions show`.
func NewCmdSessionsShow(f *cmdutil.Factory, runF func(context.Context, *SessionsShowOptions) error) *cobra.Command {
	opts := &SessionsShowOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now, Location: f.Location}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a session: metrics, information, recording and timeline",
		Example: `  onepam sessions show 0197a1b2-...
  onepam sessions show 0197a1b2-... -o json | jq .timeline`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsShow(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runSessionsShow(ctx context.Context, opts *SessionsShowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.GetSession(ctx, opts.ID)
	if err != nil {
		return err
	}
	files, err := sessionFiles(ctx, c, &s)
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		if files != nil {
			return output.WriteJSON(opts.IO.Out, sessionWithFiles{s, files})
		}
		return output.WriteJSON(opts.IO.Out, s)
	}
	if err := writeSession(opts.IO.Out, opts.IO, &s, opts.Now(), opts.Location); err != nil {
		return err
	}
	if err := writeSessionFiles(opts.IO.Out, opts.IO, files, opts.Location); err != nil {
		return err
	}
	return writeQuerylogCounts(ctx, opts.IO.Out, opts.IO, c, &s)
}

// writeSession prints a session in sections.
func writeSession(w io.Writer, ios *iostreams.IOStreams, s *api.Session, now time.Time, loc *time.Location) error {
	cs := ios.ColorScheme()
	section := func(title string, rows [][2]string) error {
		if _, err := fmt.Fprintln(w, cs.Bold(title)); err != nil {
			return err
		}
		t := output.NewTable(w)
		for _, r := range rows {
			t.Row("  "+r[0], r[1])
		}
		if err := t.Render(); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w)
		return err
	}
	started := "-"
	if s.StartedAt != nil {
		started = output.Time(*s.StartedAt, loc)
	}
	ended := "-"
	if s.EndedAt != nil {
		ended = output.Time(*s.EndedAt, loc)
	}
	if err := section("Metrics", [][2]string{
		{"Duration", sessionDuration(s, now)},
		{"Data up", output.Bytes(s.BytesUp) + " (" + strconv.FormatInt(s.BytesUp, 10) + " bytes)"},
		{"Data down", output.Bytes(s.BytesDown) + " (" + strconv.FormatInt(s.BytesDown, 10) + " bytes)"},
		{"Client IP", output.Dash(s.ClientIP)},
		{"Created", output.Time(s.CreatedAt, loc)},
		{"Started", started},
		{"Ended", ended},
	}); err != nil {
		return err
	}
	info := [][2]string{
		{"ID", s.ID},
		{"User", s.User},
		{"Type", string(s.Type)},
		{"Resource", s.Resource},
		{"Agent", output.Dash(s.Agent)},
		{"Control node", output.Dash(s.NodeID)},
		{"Login", output.Dash(s.Login)},
		{"Status", formatStatus(ios, s.Status)},
	}
	if s.Error != "" {
		info = append(info, [2]string{"Error", cs.Red(s.Error)})
	}
	if s.TerminatedBy != "" {
		info = append(info, [2]string{"Terminated by", s.TerminatedBy}, [2]string{"Reason", output.Dash(s.TerminateReason)})
	}
	if err := section("Information", info); err != nil {
		return err
	}
	avail := "no"
	if s.Recording.Available {
		avail = "yes"
	}
	rec := [][2]string{
		{"Format", output.Dash(string(s.Recording.Format))},
		{"State", output.Dash(string(s.Recording.State))},
		{"Size", output.Bytes(s.Recording.Size)},
		{"Available", avail},
	}
	if s.Recording.Notice != "" {
		rec = append(rec, [2]string{"Notice", s.Recording.Notice})
	}
	if err := section("Recording", rec); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, cs.Bold("Timeline")); err != nil {
		return err
	}
	t := output.NewTable(w)
	t.Header("  TIME", "EVENT", "STATUS", "ACTOR", "DETAIL")
	for _, e := range s.Timeline {
		t.Row("  "+output.Time(e.Time, loc), e.Event, string(e.Status), output.Dash(e.Actor), output.Dash(e.Detail))
	}
	return t.Render()
}
