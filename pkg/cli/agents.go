package cli

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

// DefaultAgentPort is control's agent port when --agent-addr is not given.
const DefaultAgentPort = "7444"

func newCmdAgents(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("agents", "Enroll, list and remove agents (admin)", `  onepam agents token create --ttl 1h
  onepam agents ls
  onepam agents rm web-1`)
	tok := newGroup("token", "Enrollment tokens for new agents", `  onepam agents token create --ttl 1h`)
	tok.AddCommand(NewCmdAgentsTokenCreate(f, nil))
	cmd.AddCommand(tok, NewCmdAgentsList(f, nil), NewCmdAgentsRemove(f, nil))
	return cmd
}

// AgentsTokenCreateOptions are the options of `onepam agents token create`.
type AgentsTokenCreateOptions struct {
	IO        *iostreams.IOStreams
	Client    ClientFunc
	Format    output.Format
	TTL       time.Duration
	AgentAddr string // control's agent address to print; "" = control's host + :7444
}

// NewCmdAgentsTokenCreate returns `onepam agents token create`.
func NewCmdAgentsTokenCreate(f *cmdutil.Factory, runF func(context.Context, *AgentsTokenCreateOptions) error) *cobra.Command {
	opts := &AgentsTokenCreateOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "create [--ttl 1h] [--agent-addr HOST:PORT]",
		Short: "Create a one-time agent enrollment token",
		Long: `Create a one-time enrollment token and print the onepam-agent command that
uses it. The token embeds control's CA pin, so the agent can verify control
on first contact. The printed agent address is control's host with port
7444; --agent-addr prints another (e.g. when agents reach control through a
different name).`,
		Example: `  onepam agents token create
  onepam agents token create --ttl 15m --agent-addr control.internal:7444`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.TTL <= 0 {
				return cmdutil.FlagErrorf("--ttl must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAgentsTokenCreate(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.TTL, "ttl", time.Hour, "how long the token can be used")
	cmd.Flags().StringVar(&opts.AgentAddr, "agent-addr", "", "control's agent address to print (default: control's host, port 7444)")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// EnrollTokenOutput is the JSON of `onepam agents token create -o json`.
type EnrollTokenOutput struct {
	api.EnrollToken
	AgentAddr string `json:"agent_addr"` // control's agent address the agent should dial
	Command   string `json:"command"`    // the onepam-agent command line to run
}

func runAgentsTokenCreate(ctx context.Context, opts *AgentsTokenCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	tok, err := c.CreateEnrollToken(ctx, api.CreateEnrollTokenRequest{TTLSeconds: int64(opts.TTL / time.Second)})
	if err != nil {
		return err
	}
	addr := opts.AgentAddr
	if addr == "" {
		addr = agentAddrFor(c.URL())
	}
	line := fmt.Sprintf("onepam-agent run --control %s --token %s --config agent.yaml --data-dir /var/lib/onepam-agent", addr, tok.Token)
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, EnrollTokenOutput{EnrollToken: tok, AgentAddr: addr, Command: line})
	}
	fmt.Fprintf(opts.IO.Out, "enrollment token (one use, expires %s):\n%s\n\n", tok.ExpiresAt.Local().Format(time.RFC3339), tok.Token)
	fmt.Fprintf(opts.IO.Out, "run on the agent's host:\n  %s\n", line)
	return nil
}

// agentAddrFor returns control's host (from its API URL) with the agent port.
func agentAddrFor(controlURL string) string {
	host := strings.TrimPrefix(controlURL, "https://")
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return net.JoinHostPort(host, DefaultAgentPort)
}

// AgentsListOptions are the options of `onepam agents ls`.
type AgentsListOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	Now    func() time.Time
}

// NewCmdAgentsList returns `onepam agents ls`.
func NewCmdAgentsList(f *cmdutil.Factory, runF func(context.Context, *AgentsListOptions) error) *cobra.Command {
	opts := &AgentsListOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List agents: online or offline, control node, last seen, version, resources",
		Long: `List the enrolled agents. An agent is online when it is connected to a
live control node, whichever node answers: NODE names the control node it
is attached to (connect to its resources through that node).`,
		Example: `  onepam agents ls
  onepam agents ls -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAgentsList(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runAgentsList(ctx context.Context, opts *AgentsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	agents, err := c.ListAgents(ctx)
	if err != nil {
		return err
	}
	cs := opts.IO.ColorScheme()
	now := opts.Now()
	return output.Print(opts.IO.Out, opts.Format, agents, func(t *output.TableWriter) {
		t.Header("NAME", "STATUS", "NODE", "LAST SEEN", "VERSION", "RESOURCES", "ID")
		for _, a := range agents {
			status := cs.Gray("offline")
			switch {
			case a.RevokedAt != nil:
				status = cs.Red("revoked")
			case a.Online:
				status = cs.Green("online")
			}
			seen := "never"
			if a.Online {
				seen = "now"
			} else if a.LastSeenAt != nil {
				seen = output.Ago(now, *a.LastSeenAt)
			}
			t.Row(a.Name, status, nodeName(a.NodeID, a.NodeName), seen, output.Dash(a.Version), listOr(a.Resources, "-"), a.ID)
		}
	})
}

// AgentsRemoveOptions are the options of `onepam agents rm`.
type AgentsRemoveOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Agent  string
}

// NewCmdAgentsRemove returns `onepam agents rm`.
func NewCmdAgentsRemove(f *cmdutil.Factory, runF func(context.Context, *AgentsRemoveOptions) error) *cobra.Command {
	opts := &AgentsRemoveOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:     "rm NAME|ID",
		Aliases: []string{"remove", "revoke"},
		Short:   "Revoke an agent: it is disconnected and cannot come back",
		Example: `  onepam agents rm web-1`,
		Args:    cmdutil.ExactArgs(1, "the agent's NAME or ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Agent = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAgentsRemove(cmd.Context(), opts)
		},
	}
}

func runAgentsRemove(ctx context.Context, opts *AgentsRemoveOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.RemoveAgent(ctx, opts.Agent); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "removed agent %s\n", opts.Agent)
	return err
}

// nodeName is the NODE column of a listing: the control node's name, or
// its id when it has none, or "-" (offline).
func nodeName(id, name string) string {
	if name != "" {
		return name
	}
	return output.Dash(id)
}
