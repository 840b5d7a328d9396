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

func newCmdTokens(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("tokens", "Manage API tokens", `  onepam tokens create --name laptop --ttl 720h
  onepam tokens ls
  onepam tokens revoke 0197...`)
	cmd.AddCommand(NewCmdTokensCreate(f, nil), NewCmdTokensList(f, nil), NewCmdTokensRevoke(f, nil))
	return cmd
}

// TokensCreateOptions are the options of `onepam tokens create`.
type TokensCreateOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	User   string
	Name   string
	TTL    time.Duration // 0 = never expires
}

// NewCmdTokensCreate returns `onepam tokens create`.
func NewCmdTokensCreate(f *cmdutil.Factory, runF func(context.Context, *TokensCreateOptions) error) *cobra.Command {
	opts := &TokensCreateOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "create [--user U] [--name N] [--ttl 720h]",
		Short: "Create an API token; the secret is printed once",
		Long: `Create an API token for yourself or (admins) for another user. The secret is
printed once on standard output (details on standard error), so that
TOKEN=$(onepam tokens create) captures it. --ttl 0 makes a token that never
expires.`,
		Example: `  onepam tokens create --name ci --ttl 24h
  onepam tokens create --user bob --ttl 0
  TOKEN=$(onepam tokens create --name script)`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.TTL < 0 {
				return cmdutil.FlagErrorf("--ttl must not be negative (0 = never expires)")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokensCreate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "the token's user (default: you)")
	cmd.Flags().StringVar(&opts.Name, "name", "", "a name to recognise the token by")
	cmd.Flags().DurationVar(&opts.TTL, "ttl", 720*time.Hour, "lifetime; 0 = never expires")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runTokensCreate(ctx context.Context, opts *TokensCreateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	ttl := int64(opts.TTL / time.Second)
	if opts.TTL == 0 {
		ttl = -1 // never expires
	}
	tok, err := c.CreateToken(ctx, api.CreateTokenRequest{User: opts.User, Name: opts.Name, TTLSeconds: ttl})
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, tok)
	}
	fmt.Fprintf(opts.IO.ErrOut, "created token %s for %s (expires %s); the secret is shown once:\n", tok.Token.ID, tok.Token.User, expiry(tok.Token.ExpiresAt))
	_, err = fmt.Fprintln(opts.IO.Out, tok.Secret)
	return err
}

// TokensListOptions are the options of `onepam tokens ls`.
type TokensListOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Location *time.Location
	Now      func() time.Time
	User     string
}

// NewCmdTokensList returns `onepam tokens ls`.
func NewCmdTokensList(f *cmdutil.Factory, runF func(context.Context, *TokensListOptions) error) *cobra.Command {
	opts := &TokensListOptions{IO: f.IOStreams, Client: f.Client, Location: f.Location, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "ls [--user U]",
		Aliases: []string{"list"},
		Short:   "List API tokens (never their secrets)",
		Example: `  onepam tokens ls
  onepam tokens ls --user bob -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokensList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "only this user's tokens")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runTokensList(ctx context.Context, opts *TokensListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	toks, err := c.ListTokens(ctx, opts.User)
	if err != nil {
		return err
	}
	now := opts.Now()
	return output.Print(opts.IO.Out, opts.Format, toks, func(t *output.TableWriter) {
		t.Header("ID", "USER", "NAME", "STATE", "CREATED", "EXPIRES", "LAST USED")
		for _, k := range toks {
			state := "valid"
			switch {
			case k.RevokedAt != nil:
				state = "revoked"
			case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
				state = "expired"
			}
			last := "never"
			if k.LastUsedAt != nil {
				last = output.Ago(now, *k.LastUsedAt)
			}
			exp := "never"
			if k.ExpiresAt != nil {
				exp = output.Time(*k.ExpiresAt, opts.Location)
			}
			t.Row(k.ID, k.User, output.Dash(k.Name), state, output.Time(k.CreatedAt, opts.Location), exp, last)
		}
	})
}

// TokensRevokeOptions are the options of `onepam tokens revoke`.
type TokensRevokeOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
}

// NewCmdTokensRevoke returns `onepam tokens revoke`.
func NewCmdTokensRevoke(f *cmdutil.Factory, runF func(context.Context, *TokensRevokeOptions) error) *cobra.Command {
	opts := &TokensRevokeOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:     "revoke ID",
		Aliases: []string{"rm"},
		Short:   "Revoke an API token at once",
		Example: `  onepam tokens revoke 0197a1b2-...`,
		Args:    cmdutil.ExactArgs(1, "the token's ID (see onepam tokens ls)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTokensRevoke(cmd.Context(), opts)
		},
	}
}

func runTokensRevoke(ctx context.Context, opts *TokensRevokeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.RevokeToken(ctx, opts.ID); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "revoked token %s\n", opts.ID)
	return err
}
