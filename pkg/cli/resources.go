package cli

import (
	"context"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
)

func newCmdResources(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("resources", "List the resources agents serve", `  onepam resources ls --type tcp --label env=dev`)
	cmd.AddCommand(NewCmdResourcesList(f, nil))
	return cmd
}

// ResourcesListOptions are the options of `onepam resources ls`.
type ResourcesListOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	Query  client.ResourceQuery
}

// NewCmdResourcesList returns `onepam resources ls`.
func NewCmdResourcesList(f *cmdutil.Factory, runF func(context.Context, *ResourcesListOptions) error) *cobra.Command {
	opts := &ResourcesListOptions{IO: f.IOStreams, Client: f.Client}
	var typ string
	var labels []string
	cmd := &cobra.Command{
		Use:     "ls [--type T] [--label k=v]...",
		Aliases: []string{"list"},
		Short:   "List resources",
		Long: `List the resources the agents announced. A resource is online when its
agent is connected to a live control node: NODE names that node (connect
through it).`,
		Example: `  onepam resources ls
  onepam resources ls --type tcp --label env=dev -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != "" {
				ts, err := cmdutil.ParseTypes([]string{typ})
				if err != nil {
					return err
				}
				if len(ts) != 1 {
					return cmdutil.FlagErrorf("--type takes one session type")
				}
				opts.Query.Type = ts[0]
			}
			l, err := cmdutil.ParseLabels("label", labels)
			if err != nil {
				return err
			}
			opts.Query.Labels = l
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runResourcesList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "only this type: ssh, rdp, vnc, db, http, tcp")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "only resources with this label k=v (repeatable; all must match)")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runResourcesList(ctx context.Context, opts *ResourcesListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rs, err := c.ListResources(ctx, opts.Query)
	if err != nil {
		return err
	}
	cs := opts.IO.ColorScheme()
	return output.Print(opts.IO.Out, opts.Format, rs, func(t *output.TableWriter) {
		t.Header("NAME", "TYPE", "PROTOCOL", "AGENT", "STATUS", "NODE", "LABELS", "ADDRESS")
		for _, r := range rs {
			status := cs.Gray("offline")
			if r.Online {
				status = cs.Green("online")
			}
			t.Row(r.Name, string(r.Type), output.Dash(r.Protocol), output.Dash(r.Agent), status, nodeName(r.NodeID, r.NodeName), output.Labels(r.Labels), output.Dash(r.Address))
		}
	})
}
