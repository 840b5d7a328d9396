package cli

import (
	"context"
	"time"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
)

func newCmdAudit(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("audit", "Read the audit log (admin, auditor)", `  onepam audit ls --since 24h --action session.kill`)
	cmd.AddCommand(NewCmdAuditList(f, nil))
	return cmd
}

// AuditListOptions are the options of `onepam audit ls`.
type AuditListOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Location *time.Location
	Query    client.AuditQuery
}

// NewCmdAuditList returns `onepam audit ls`.
func NewCmdAuditList(f *cmdutil.Factory, runF func(context.Context, *AuditListOptions) error) *cobra.Command {
	opts := &AuditListOptions{IO: f.IOStreams, Client: f.Client, Location: f.Location}
	var since string
	cmd := &cobra.Command{
		Use:     "ls [--actor A] [--action X] [--since 1h|RFC3339] [--limit N]",
		Aliases: []string{"list"},
		Short:   "List audit events, newest first",
		Example: `  onepam audit ls
  onepam audit ls --actor alice --since 24h
  onepam audit ls --action session.denied -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := cmdutil.ParseTime("since", since, f.Now())
			if err != nil {
				return err
			}
			opts.Query.Since = t
			if opts.Query.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Query.Actor, "actor", "", "only events by this actor (a user, agent:NAME or system)")
	cmd.Flags().StringVar(&opts.Query.Action, "action", "", "only this action, e.g. session.kill, session.denied, user.create")
	cmd.Flags().StringVar(&since, "since", "", "only events after this: a duration ago (1h, 7d) or an RFC 3339 time")
	cmd.Flags().IntVar(&opts.Query.Limit, "limit", 100, "at most this many events")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runAuditList(ctx context.Context, opts *AuditListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	evs, err := c.ListAudit(ctx, opts.Query)
	if err != nil {
		return err
	}
	return output.Print(opts.IO.Out, opts.Format, evs, func(t *output.TableWriter) {
		t.Header("TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "CLIENT IP", "DETAIL")
		for _, e := range evs {
			t.Row(output.Time(e.Time, opts.Location), e.Actor, e.Action, output.Dash(e.Target), e.Outcome, output.Dash(e.ClientIP), output.Dash(e.Detail))
		}
	})
}
