package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

func newCmdUsers(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("users", "Manage users (admin)", `  onepam users add bob --role user --token-ttl 720h
  onepam users ls
  onepam users rm bob`)
	cmd.AddCommand(NewCmdUsersAdd(f, nil), NewCmdUsersList(f, nil), NewCmdUsersRemove(f, nil), NewCmdUsersPasswd(f, nil))
	return cmd
}

// UsersAddOptions are the options of `onepam users add`.
type UsersAddOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Name     string
	Role     api.Role
	TokenTTL time.Duration
}

// NewCmdUsersAdd returns `onepam users add`.
func NewCmdUsersAdd(f *cmdutil.Factory, runF func(context.Context, *UsersAddOptions) error) *cobra.Command {
	opts := &UsersAddOptions{IO: f.IOStreams, Client: f.Client}
	var role string
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|auditor|user [--token-ttl 720h]",
		Short: "Add a user, optionally with a first API token",
		Long: `Add a user with a role: admin (everything), auditor (list, show and replay
every session, read the audit log; never connect or kill) or user (connect
where policy allows; sees only their own sessions). With --token-ttl, a first
API token is created and printed once.`,
		Example: `  onepam users add alice --role admin
  onepam users add bob --role user --token-ttl 720h`,
		Args: cmdutil.ExactArgs(1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			r, err := api.ParseRole(role)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			opts.Role = r
			if opts.TokenTTL < 0 {
				return cmdutil.FlagErrorf("--token-ttl must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUsersAdd(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&role, "role", string(api.RoleUser), "role: admin, auditor or user")
	cmd.Flags().DurationVar(&opts.TokenTTL, "token-ttl", 0, "also create an API token valid this long (e.g. 720h); printed once")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runUsersAdd(ctx context.Context, opts *UsersAddOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	resp, err := c.CreateUser(ctx, api.CreateUserRequest{Name: opts.Name, Role: opts.Role, TokenTTLSeconds: int64(opts.TokenTTL / time.Second)})
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, resp)
	}
	fmt.Fprintf(opts.IO.Out, "added user %s (%s)\n", resp.User.Name, resp.User.Role)
	if resp.Token != nil {
		fmt.Fprintf(opts.IO.Out, "token %s (shown once; expires %s):\n%s\n", resp.Token.Token.ID, expiry(resp.Token.Token.ExpiresAt), resp.Token.Secret)
	}
	return nil
}

func expiry(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format(time.RFC3339)
}

// UsersListOptions are the options of `onepam users ls`.
type UsersListOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Location *time.Location
}

// NewCmdUsersList returns `onepam users ls`.
func NewCmdUsersList(f *cmdutil.Factory, runF func(context.Context, *UsersListOptions) error) *cobra.Command {
	opts := &UsersListOptions{IO: f.IOStreams, Client: f.Client, Location: f.Location}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List users",
		Example: `  onepam users ls
  onepam users ls -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUsersList(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runUsersList(ctx context.Context, opts *UsersListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	users, err := c.ListUsers(ctx)
	if err != nil {
		return err
	}
	return output.Print(opts.IO.Out, opts.Format, users, func(t *output.TableWriter) {
		t.Header("NAME", "ROLE", "CREATED")
		for _, u := range users {
			t.Row(u.Name, string(u.Role), output.Time(u.CreatedAt, opts.Location))
		}
	})
}

// UsersRemoveOptions are the options of `onepam users rm`.
type UsersRemoveOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Name   string
}

// NewCmdUsersRemove returns `onepam users rm`.
func NewCmdUsersRemove(f *cmdutil.Factory, runF func(context.Context, *UsersRemoveOptions) error) *cobra.Command {
	opts := &UsersRemoveOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a user (their tokens stop working)",
		Example: `  onepam users rm bob`,
		Args:    cmdutil.ExactArgs(1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUsersRemove(cmd.Context(), opts)
		},
	}
}

func runUsersRemove(ctx context.Context, opts *UsersRemoveOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteUser(ctx, opts.Name); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "removed user %s\n", opts.Name)
	return err
}
