package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
)

// SSHOptions are the options of `onepam ssh`.
type SSHOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Login    string
	Resource string
	Command  []string
	// TTY forces (true) or refuses (false) a pseudo-terminal; nil = a
	// terminal when input and output are terminals and no command is given.
	TTY *bool
}

// NewCmdSSH returns `onepam ssh`.
func NewCmdSSH(f *cmdutil.Factory, runF func(context.Context, *SSHOptions) error) *cobra.Command {
	opts := &SSHOptions{IO: f.IOStreams, Client: f.Client}
	var forceTTY, noTTY bool
	cmd := &cobra.Command{
		Use:   "ssh [LOGIN@]RESOURCE [-- COMMAND [ARG...]]",
		Short: "Open a recorded SSH session to a resource",
		Long: `Open an SSH session to a resource through control and its agent. The
agent logs in to the target with credentials only it holds and records the
session (output, keystrokes, resizes). LOGIN is the target account; policy
decides which logins you may use.

Without a command you get an interactive shell in a pseudo-terminal. With a
command its standard input, output and error are piped and its exit status
becomes onepam's, so scripts and CI can use it.`,
		Example: `  onepam ssh ubuntu@web-1
  onepam ssh deploy@web-1 -- systemctl status nginx
  tar cz ./site | onepam ssh deploy@web-1 -- tar xz -C /srv/www
  onepam ssh -t root@web-1 -- top`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				opts.Command = args[dash:]
				args = args[:dash]
			} else if len(args) > 1 {
				opts.Command = args[1:]
				args = args[:1]
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("want [LOGIN@]RESOURCE, got %d arguments", len(args))
			}
			opts.Login, opts.Resource = splitLogin(args[0])
			if forceTTY && noTTY {
				return cmdutil.FlagErrorf("-t and -T contradict each other")
			}
			if forceTTY || noTTY {
				opts.TTY = &forceTTY
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSSH(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&forceTTY, "tty", "t", false, "force a pseudo-terminal (e.g. for top or vim with a command)")
	cmd.Flags().BoolVarP(&noTTY, "no-tty", "T", false, "never allocate a pseudo-terminal")
	cmd.Flags().StringVarP(&opts.Login, "login", "l", "", "target login (same as LOGIN@)")
	return cmd
}

// splitLogin splits "login@resource".
func splitLogin(s string) (login, resource string) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// dialSSH creates an ssh session on control and returns the SSH client
// running over its first (lead) connection.
func dialSSH(ctx context.Context, c *client.Client, resource, login string) (api.Session, *ssh.Client, error) {
	sess, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: resource, Login: login})
	if err != nil {
		return api.Session{}, nil, err
	}
	if sess.Type != api.TypeSSH {
		return sess, nil, cmdutil.FlagErrorf("resource %q is a %s resource: use onepam %s connect %s", resource, sess.Type, sess.Type, resource)
	}
	conn, err := c.Connect(ctx, sess.ID, api.ChannelData)
	if err != nil {
		return sess, nil, err
	}
	user := login
	if user == "" {
		user = "onepam"
	}
	cfg := &ssh.ClientConfig{
		User: user,
		// No credentials: control authorised the session and the agent logs
		// in to the target itself. The agent's SSH server accepts "none".
		Auth: nil,
		// The bytes reaching this SSH server are authenticated at both hops
		// already: TLS to control, pinned to its CA, and mutual TLS from
		// control to the agent that serves the resource.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, resource, cfg)
	if err != nil {
		conn.Close()
		return sess, nil, fmt.Errorf("ssh to %s: %w", resource, err)
	}
	return sess, ssh.NewClient(sc, chans, reqs), nil
}

func runSSH(ctx context.Context, opts *SSHOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	sess, sc, err := dialSSH(ctx, c, opts.Resource, opts.Login)
	if err != nil {
		return err
	}
	defer sc.Close()
	s, err := sc.NewSession()
	if err != nil {
		return endedOr(ctx, c, sess.ID, fmt.Errorf("open an SSH session: %w", err))
	}
	defer s.Close()

	tty := opts.IO.IsStdinTTY() && opts.IO.IsStdoutTTY() && len(opts.Command) == 0
	if opts.TTY != nil {
		tty = *opts.TTY
	}
	restore := func() {}
	if tty {
		cols, rows, ok := opts.IO.TerminalSize()
		if !ok {
			cols, rows = 80, 24
		}
		termName := os.Getenv("TERM")
		if termName == "" {
			termName = "xterm-256color"
		}
		if err := s.RequestPty(termName, rows, cols, ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}); err != nil {
			return endedOr(ctx, c, sess.ID, fmt.Errorf("request a terminal: %w", err))
		}
		if restore, err = opts.IO.MakeRaw(); err != nil {
			return fmt.Errorf("raw terminal: %w", err)
		}
		defer restore()
		go forwardResizes(ctx, opts.IO, s)
	}
	s.Stdin, s.Stdout, s.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	if len(opts.Command) > 0 {
		err = s.Start(strings.Join(opts.Command, " "))
	} else {
		err = s.Shell()
	}
	if err != nil {
		return endedOr(ctx, c, sess.ID, fmt.Errorf("start: %w", err))
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- s.Wait() }()
	select {
	case err = <-waitErr:
	case <-ctx.Done():
		sc.Close()
		err = <-waitErr
	}
	restore()
	return remoteStatus(ctx, c, sess.ID, err)
}

// forwardResizes sends the terminal's new size on every SIGWINCH.
func forwardResizes(ctx context.Context, io *iostreams.IOStreams, s *ssh.Session) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			if cols, rows, ok := io.TerminalSize(); ok {
				_ = s.WindowChange(rows, cols)
			}
		}
	}
}

// remoteStatus turns the end of the remote command into onepam's result:
// its exit status passes through; a connection that broke because the
// session was terminated or failed gives that reason.
func remoteStatus(ctx context.Context, c *client.Client, id string, err error) error {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ee.Signal() != "" {
			return &cmdutil.ExitStatusError{Code: 128 + signalNumber(ee.Signal())}
		}
		return &cmdutil.ExitStatusError{Code: ee.ExitStatus()}
	}
	return endedOr(ctx, c, id, err)
}

// endedOr asks control how session id ended when its connection broke:
// terminated and failed sessions explain themselves; otherwise err stands.
func endedOr(ctx context.Context, c *client.Client, id string, err error) error {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for {
		s, gerr := c.GetSession(qctx, id)
		if gerr != nil {
			return err
		}
		switch s.Status {
		case api.StatusTerminated:
			return &api.Error{Code: api.CodeTerminated, Message: terminatedMessage(s)}
		case api.StatusFailed:
			return &api.Error{Code: api.CodeTargetFailed, Message: "session failed: " + s.Error}
		case api.StatusCompleted:
			var me *ssh.ExitMissingError
			if errors.As(err, &me) {
				return &cmdutil.ExitStatusError{Code: 255}
			}
			return err
		}
		// Still active: control has not seen the end yet.
		select {
		case <-qctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func terminatedMessage(s api.Session) string {
	msg := "session terminated by an administrator"
	if s.TerminatedBy != "" {
		msg += " (" + s.TerminatedBy + ")"
	}
	if s.TerminateReason != "" {
		msg += ": " + s.TerminateReason
	}
	return msg
}

// signalNumber maps an SSH signal name to its number, for 128+N statuses.
func signalNumber(name string) int {
	switch name {
	case "HUP":
		return 1
	case "INT":
		return 2
	case "QUIT":
		return 3
	case "KILL":
		return 9
	case "PIPE":
		return 13
	case "ALRM":
		return 14
	case "TERM":
		return 15
	}
	return 1
}

// ProxySSHOptions are the options of `onepam proxy ssh`.
type ProxySSHOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Resource string
	Login    string
	Suffix   string // dropped from RESOURCE.SUFFIX
}

func newCmdProxy(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("proxy", "Carry other tools' connections (OpenSSH ProxyCommand)", `  ssh -o ProxyCommand='onepam proxy ssh %h --login %r' ubuntu@web-1`)
	cmd.AddCommand(NewCmdProxySSH(f, nil))
	return cmd
}

// NewCmdProxySSH returns `onepam proxy ssh`.
func NewCmdProxySSH(f *cmdutil.Factory, runF func(context.Context, *ProxySSHOptions) error) *cobra.Command {
	opts := &ProxySSHOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "ssh RESOURCE [--login LOGIN]",
		Short: "Carry an OpenSSH client's connection to a resource (ProxyCommand)",
		Long: `Open an SSH session to RESOURCE and carry standard input and output to the
agent's SSH server, for OpenSSH's ProxyCommand: ssh, sftp, scp, rsync and
Ansible then work through the gateway, recorded like onepam ssh. A trailing
".onepam" on RESOURCE is dropped, so "ssh ubuntu@web-1.onepam" works with the
block that onepam config ssh prints.`,
		Example: `  ssh -o ProxyCommand='onepam proxy ssh %h --login %r' ubuntu@web-1
  sftp -o ProxyCommand='onepam proxy ssh %h --login %r' deploy@web-1
  onepam config ssh >> ~/.ssh/config && ssh ubuntu@web-1.onepam`,
		Args: cmdutil.ExactArgs(1, "the RESOURCE name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// ssh_config's Host *.SUFFIX names arrive as RESOURCE.SUFFIX.
			opts.Resource = strings.TrimSuffix(args[0], "."+opts.Suffix)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runProxySSH(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Login, "login", "l", "", "target login (OpenSSH's %r)")
	cmd.Flags().StringVar(&opts.Suffix, "suffix", "onepam", "host name suffix to drop (see onepam config ssh)")
	return cmd
}

func runProxySSH(ctx context.Context, opts *ProxySSHOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	sess, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: opts.Resource, Login: opts.Login})
	if err != nil {
		return err
	}
	if sess.Type != api.TypeSSH {
		return cmdutil.FlagErrorf("resource %q is a %s resource, not ssh", opts.Resource, sess.Type)
	}
	conn, err := c.Connect(ctx, sess.ID, api.ChannelData)
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		_, _ = io.Copy(conn, opts.IO.In)
		_ = conn.CloseWrite()
	}()
	_, err = io.Copy(opts.IO.Out, conn)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return endedOr(ctx, c, sess.ID, err)
	}
	return nil
}
