package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// UsersPasswdOptions are the options of `onepam users passwd`.
type UsersPasswdOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Name   string
	Stdin  bool // read the password from standard input, not a prompt
	Remove bool // remove the password (token login only)
}

// maxPasswordInput bounds what --stdin reads.
const maxPasswordInput = 4 << 10

// NewCmdUsersPasswd returns `onepam users passwd`.
func NewCmdUsersPasswd(f *cmdutil.Factory, runF func(context.Context, *UsersPasswdOptions) error) *cobra.Command {
	opts := &UsersPasswdOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "passwd NAME [--stdin | --remove]",
		Short: "Set a user's web console password",
		Long: `Set the password NAME logs in to the web console with (besides API tokens).
It is asked for twice on a terminal; with --stdin it is read from standard
input (one line; the trailing newline is dropped). Admins set anyone's,
everyone their own. --remove leaves token login only.`,
		Example: `  onepam users passwd alice
  printf '%s\n' "$PASSWORD" | onepam users passwd alice --stdin`,
		Args: cmdutil.ExactArgs(1, "the user's NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Stdin && opts.Remove {
				return cmdutil.FlagErrorf("--stdin and --remove exclude each other")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUsersPasswd(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Stdin, "stdin", false, "read the password from standard input")
	cmd.Flags().BoolVar(&opts.Remove, "remove", false, "remove the password (token login only)")
	return cmd
}

func runUsersPasswd(ctx context.Context, opts *UsersPasswdOptions) error {
	var password string
	if !opts.Remove {
		p, err := readNewPassword(opts)
		if err != nil {
			return err
		}
		password = p
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.SetUserPassword(ctx, opts.Name, password); err != nil {
		return err
	}
	if opts.Remove {
		_, err = fmt.Fprintf(opts.IO.Out, "removed the password of %s\n", opts.Name)
	} else {
		_, err = fmt.Fprintf(opts.IO.Out, "set the password of %s\n", opts.Name)
	}
	return err
}

// readNewPassword reads the password from stdin (--stdin) or prompts for
// it twice on the terminal.
func readNewPassword(opts *UsersPasswdOptions) (string, error) {
	if opts.Stdin {
		b, err := io.ReadAll(io.LimitReader(opts.IO.In, maxPasswordInput+1))
		if err != nil {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		if len(b) > maxPasswordInput {
			return "", errors.New("the password on stdin is too long")
		}
		p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if p == "" {
			return "", errors.New("empty password on stdin (use --remove to remove a password)")
		}
		return p, nil
	}
	f, ok := opts.IO.In.(*os.File)
	if !ok || !opts.IO.IsStdinTTY() {
		return "", cmdutil.FlagErrorf("standard input is not a terminal: pass the password with --stdin")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(opts.IO.ErrOut, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(opts.IO.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return string(b), nil
	}
	p, err := ask("New password: ")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", errors.New("empty password (use --remove to remove a password)")
	}
	again, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the passwords differ: nothing changed")
	}
	return p, nil
}
