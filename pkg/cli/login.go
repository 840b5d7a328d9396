package cli

import (
	"context"
	"fmt"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/config"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/spf13/cobra"
)

// LoginOptions are the options of `onepam login`.
type LoginOptions struct {
	IO         *iostreams.IOStreams
	ConfigPath func() (string, error)
	Version    string
	Control    string
	Token      string
	CAPin      string
}

// NewCmdLogin returns `onepam login`.
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IOStreams, ConfigPath: f.ConfigPath, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "login --control URL --token TOKEN [--ca-pin PIN]",
		Short: "Log in to control and save its URL, your token and its CA",
		Long: `Log in to control: fetch control's CA certificate (checked against --ca-pin
when given, else trusted on first use and its pin printed), check the token
with control, and save URL, token, pin and CA in the CLI config file (mode
0600). Later commands verify control's certificate against that CA.`,
		Example: `  onepam login --control https://control.example:7443 --token opt_abc... --ca-pin sha256:3f1c...
  ONEPAM_TOKEN=opt_abc... onepam login --control https://127.0.0.1:7443`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Control == "" {
				opts.Control = f.Getenv(config.EnvControl)
			}
			if opts.Token == "" {
				opts.Token = f.Getenv(config.EnvToken)
			}
			if opts.CAPin == "" {
				opts.CAPin = f.Getenv(config.EnvCAPin)
			}
			if opts.Control == "" || opts.Token == "" {
				return cmdutil.FlagErrorf("login needs --control URL and --token TOKEN (or ONEPAM_CONTROL and ONEPAM_TOKEN)")
			}
			defer f.ResetConfig()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogin(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Control, "control", "", "control's URL, e.g. https://control.example:7443")
	cmd.Flags().StringVar(&opts.Token, "token", "", "your API token (opt_...)")
	cmd.Flags().StringVar(&opts.CAPin, "ca-pin", "", "pin of control's CA (sha256:...), printed by control serve; without it the CA is trusted on first use")
	return cmd
}

func runLogin(ctx context.Context, opts *LoginOptions) error {
	u, err := client.ParseURL(opts.Control)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if opts.CAPin != "" {
		if opts.CAPin, err = tunnel.NormalizePin(opts.CAPin); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
	}
	caPEM, pin, err := client.FetchCA(ctx, u.String(), opts.CAPin)
	if err != nil {
		return err
	}
	if opts.CAPin == "" {
		fmt.Fprintf(opts.IO.ErrOut, "trusting control's CA %s on first use\n", pin)
	}
	c, err := client.New(client.Config{URL: u.String(), Token: opts.Token, CAPEM: caPEM, UserAgent: "onepam/" + opts.Version})
	if err != nil {
		return err
	}
	defer c.Close()
	who, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	path, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	if err := config.Save(path, config.File{Control: u.String(), Token: opts.Token, CAPin: pin, CAPEM: string(caPEM)}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "logged in to %s as %s (%s)\n", u, who.User, who.Role)
	return err
}

// LogoutOptions are the options of `onepam logout`.
type LogoutOptions struct {
	IO         *iostreams.IOStreams
	ConfigPath func() (string, error)
}

// NewCmdLogout returns `onepam logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams, ConfigPath: f.ConfigPath}
	return &cobra.Command{
		Use:     "logout",
		Short:   "Forget the saved token (control's URL and CA are kept)",
		Example: `  onepam logout`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			defer f.ResetConfig()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogout(cmd.Context(), opts)
		},
	}
}

func runLogout(_ context.Context, opts *LogoutOptions) error {
	path, err := opts.ConfigPath()
	if err != nil {
		return err
	}
	file, err := config.Read(path)
	if err != nil {
		return err
	}
	if file.Token == "" {
		_, err := fmt.Fprintln(opts.IO.Out, "not logged in")
		return err
	}
	file.Token = ""
	if err := config.Save(path, file); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "logged out of %s\n", file.Control)
	return err
}

// WhoamiOptions are the options of `onepam whoami`.
type WhoamiOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
}

// ClientFunc returns the API client (Factory.Client).
type ClientFunc func() (*client.Client, error)

// NewCmdWhoami returns `onepam whoami`.
func NewCmdWhoami(f *cmdutil.Factory, runF func(context.Context, *WhoamiOptions) error) *cobra.Command {
	opts := &WhoamiOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who you are logged in as",
		Example: `  onepam whoami
  onepam whoami -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWhoami(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runWhoami(ctx context.Context, opts *WhoamiOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	who, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	return output.Print(opts.IO.Out, opts.Format, who, func(t *output.TableWriter) {
		t.Header("USER", "ROLE", "TOKEN", "CONTROL")
		t.Row(who.User, string(who.Role), who.TokenID, c.URL())
	})
}
