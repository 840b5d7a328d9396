package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/onepam/onepam/pkg/relay"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
)

// connectSpec describes one `onepam TYPE connect` command: every session
// type reached through a local port (tcp, db, http, vnc, rdp) shares the
// same command, listener and relay.
type connectSpec struct {
	typ     api.SessionType
	short   string // the group's one-line help
	target  string // what the local port reaches, for help texts
	example string
	db      bool // adds --db-user and --db-name
}

var connectSpecs = []connectSpec{
	{typ: api.TypeTCP, short: "Connect to TCP resources", target: "a TCP resource", example: `  onepam tcp connect echo
  onepam tcp connect pg-staging --listen 127.0.0.1:15432 &
  psql -h 127.0.0.1 -p 15432 -U app
  ADDR=$(onepam tcp connect redis-dev | head -1)
  onepam tcp connect redis-dev -- redis-cli -p {port} ping`},
	{typ: api.TypeDB, short: "Connect to databases (PostgreSQL, MySQL, MariaDB)", target: "a database", db: true, example: `  onepam db connect pg-prod -- psql
  onepam db connect pg-prod --db-user app --db-name orders -- psql -c 'select count(*) from orders'
  onepam db connect mariadb-dev -- mariadb -e 'show databases'
  onepam db connect pg-prod --listen 127.0.0.1:15432   # then any driver: host 127.0.0.1 port 15432, no password`},
	{typ: api.TypeHTTP, short: "Connect to web applications", target: "a web application", example: `  onepam http connect grafana --listen 127.0.0.1:8080   # then browse http://127.0.0.1:8080
  onepam http connect grafana --open                    # and open it in the browser
  onepam http connect api -- curl -s http://{addr}/health`},
	{typ: api.TypeVNC, short: "Connect to VNC desktops", target: "a VNC desktop", example: `  onepam vnc connect build-desktop --listen 127.0.0.1:5901   # then point a VNC viewer at 127.0.0.1::5901
  onepam vnc connect build-desktop -- vncviewer {host}::{port}`},
	{typ: api.TypeRDP, short: "Connect to RDP desktops", target: "an RDP desktop", example: `  onepam rdp connect win-jump --listen 127.0.0.1:13389   # then xfreerdp /v:127.0.0.1:13389
  onepam rdp connect win-jump --launch                      # starts xfreerdp (mstsc on Windows) on it
  onepam rdp connect win-jump -- xfreerdp /v:{addr}`},
}

// newCmdConnectGroups returns the `onepam TYPE` groups with their connect commands.
func newCmdConnectGroups(f *cmdutil.Factory) []*cobra.Command {
	var cmds []*cobra.Command
	for _, spec := range connectSpecs {
		g := newGroup(string(spec.typ), spec.short, strings.SplitN(spec.example, "\n", 2)[0])
		g.AddCommand(NewCmdConnect(f, spec, nil))
		cmds = append(cmds, g)
	}
	return cmds
}

// ConnectOptions are the options of `onepam TYPE connect`.
type ConnectOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Type     api.SessionType
	Resource string
	Listen   string
	Login    string
	Database string
	// Command, when set, runs with the local address in its environment
	// (and in {host}, {port} and {addr} placeholders); the session ends
	// when it exits and onepam exits with its status.
	Command []string
	// Open opens the local address in the browser (http; connect_open.go).
	Open bool
	// Launch starts the RDP client as the command (rdp; connect_launch.go).
	Launch bool
}

// NewCmdConnect returns `onepam TYPE connect` for spec.
func NewCmdConnect(f *cmdutil.Factory, spec connectSpec, runF func(context.Context, *ConnectOptions) error) *cobra.Command {
	opts := &ConnectOptions{IO: f.IOStreams, Client: f.Client, Type: spec.typ}
	cmd := &cobra.Command{
		Use:   "connect RESOURCE [--listen 127.0.0.1:PORT] [-- COMMAND [ARG...]]",
		Short: "Open a local port carried to " + spec.target + ", as one recorded session",
		Long: `Open a session to ` + spec.target + ` and a local listener: every connection to
the listener is carried through control and the agent to the target, as a
connection of that one session. Target credentials stay on the agent: the
local side needs none. The listening address is printed on standard output
(for scripts) and a human line on standard error.

With -- COMMAND, onepam runs the command with the address in its
environment (ONEPAM_HOST, ONEPAM_PORT, ONEPAM_ADDR; for databases also
PGHOST/PGPORT/PGUSER/PGDATABASE/PGSSLMODE and MYSQL_HOST/MYSQL_TCP_PORT) and
in the placeholders {host}, {port} and {addr} of its arguments; the session
ends when the command exits and onepam exits with its status.

Otherwise the session lasts until Ctrl-C (completed, exit 0), an
administrator terminates it (exit 7) or it fails (exit 6).`,
		Example: spec.example,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				opts.Command = args[dash:]
				args = args[:dash]
			}
			if len(args) != 1 {
				return cmdutil.FlagErrorf("want one RESOURCE name (see onepam resources ls), got %d arguments before --", len(args))
			}
			opts.Resource = args[0]
			if opts.Launch && len(opts.Command) > 0 {
				return cmdutil.FlagErrorf("--launch starts the RDP client itself: give either --launch or -- COMMAND")
			}
			if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
				return cmdutil.FlagErrorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:0", opts.Listen)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			relayOnOneThread()
			return runConnect(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "local address to listen on (port 0 picks a free one)")
	if spec.typ == api.TypeHTTP {
		cmd.Flags().BoolVar(&opts.Open, "open", false, "open the local address in the web browser ($BROWSER, else xdg-open or open)")
	}
	if spec.typ == api.TypeRDP {
		cmd.Flags().BoolVar(&opts.Launch, "launch", false, "start the RDP client on the local address (xfreerdp; mstsc or the Remote Desktop app with an .rdp file on Windows and macOS) and end the session when it exits")
	}
	if spec.db {
		cmd.Flags().StringVar(&opts.Login, "db-user", "", "database user to log in as (the agent holds its credentials; default: the resource's)")
		cmd.Flags().StringVar(&opts.Database, "db-name", "", "database to connect to (default: the resource's)")
	} else {
		cmd.Flags().StringVar(&opts.Login, "login", "", "target login, when the resource's policy names logins")
	}
	return cmd
}

// relayOnOneThread runs the Go scheduler of a connect command on one
// thread (GOMAXPROCS=1) unless the environment sets GOMAXPROCS. The relay
// of one person's connections is request/response traffic: spreading it
// over several threads bought no throughput and cost about a third more
// CPU per message on a loaded machine (threads waking each other: futex
// calls, context switches; pgbench -S -c 8 through the CLI: 60 → 40 µs of
// CLI CPU per transaction). One thread still relays several hundred MB/s.
func relayOnOneThread() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

func runConnect(ctx context.Context, opts *ConnectOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	defer ln.Close()
	sess, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: opts.Resource, Login: opts.Login, Database: opts.Database})
	if err != nil {
		return err
	}
	if opts.Type != "" && sess.Type != opts.Type {
		// Created but never attached: control reaps it as never connected.
		return cmdutil.FlagErrorf("resource %q is a %s resource: use onepam %s connect %s", opts.Resource, sess.Type, sess.Type, opts.Resource)
	}
	// Attaching the events channel makes the session active, or fails with
	// the target's error (502 → exit 6).
	events, err := c.Connect(ctx, sess.ID, api.ChannelEvents)
	if err != nil {
		return err
	}
	defer events.Close()

	addr := ln.Addr().String()
	if opts.Launch {
		cleanup, err := launchClient(opts, addr)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	if len(opts.Command) == 0 {
		fmt.Fprintln(opts.IO.Out, addr)
		fmt.Fprintf(opts.IO.ErrOut, "listening on %s → %s (session %s); press Ctrl-C to end\n", addr, opts.Resource, sess.ID)
		if sess.Type == api.TypeRDP {
			fmt.Fprintf(opts.IO.ErrOut, "connect an RDP client: xfreerdp /v:%s /cert:ignore (any user and password: the agent logs in with the resource's credentials)\n", addr)
		}
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "%s → %s (session %s)\n", addr, opts.Resource, sess.ID)
	}
	if opts.Open {
		openBrowser(opts.IO, localURL(addr))
	}

	// With a command, the session lasts until the command exits: Ctrl-C
	// is the command's to handle (see forwardSignals).
	sessCtx, interrupted := ctx, ctx.Done()
	if len(opts.Command) > 0 {
		sessCtx, interrupted = context.WithoutCancel(ctx), nil
	}
	r := &tcpRelay{client: c, session: sess.ID, errOut: opts.IO, conns: map[net.Conn]struct{}{}}
	ended := make(chan error, 1)
	go func() { ended <- r.watchEvents(sessCtx, events) }()
	go r.accept(sessCtx, ln)

	cmdDone := make(chan error, 1)
	var child *exec.Cmd
	if len(opts.Command) > 0 {
		child = localCommand(ctx, opts, addr)
		if err := child.Start(); err != nil {
			ln.Close()
			events.Close()
			r.closeAll()
			return fmt.Errorf("run %s: %w", opts.Command[0], err)
		}
		defer forwardSignals(child.Process)()
		go func() { cmdDone <- child.Wait() }()
	}

	var result error
	select {
	case <-interrupted:
		// Ctrl-C: closing the events channel completes the session.
		fmt.Fprintf(opts.IO.ErrOut, "session %s ended\n", sess.ID)
	case result = <-ended:
		if child != nil && child.Process != nil {
			_ = child.Process.Signal(os.Interrupt)
		}
	case err := <-cmdDone:
		result = commandStatus(opts.Command[0], err)
	}
	ln.Close()
	events.Close()
	r.closeAll()
	return result
}

// localCommand prepares the -- COMMAND of a connect, pointed at addr.
func localCommand(ctx context.Context, opts *ConnectOptions, addr string) *exec.Cmd {
	host, port, _ := net.SplitHostPort(addr)
	repl := strings.NewReplacer("{host}", host, "{port}", port, "{addr}", addr)
	args := make([]string, len(opts.Command))
	for i, a := range opts.Command {
		args[i] = repl.Replace(a)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	env := append(os.Environ(), "ONEPAM_HOST="+host, "ONEPAM_PORT="+port, "ONEPAM_ADDR="+addr)
	if opts.Type == api.TypeDB {
		env = append(env, "PGHOST="+host, "PGPORT="+port, "PGSSLMODE=disable", "MYSQL_HOST="+host, "MYSQL_TCP_PORT="+port)
		if opts.Login != "" {
			env = append(env, "PGUSER="+opts.Login)
		}
		if opts.Database != "" {
			env = append(env, "PGDATABASE="+opts.Database)
		}
	}
	cmd.Env = env
	return cmd
}

// commandStatus turns the local command's end into onepam's result: its
// exit status passes through.
func commandStatus(name string, err error) error {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if code := ee.ExitCode(); code >= 0 {
			return &cmdutil.ExitStatusError{Code: code}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// tcpRelay carries the local connections of one TCP session.
type tcpRelay struct {
	client  *client.Client
	session string
	errOut  *iostreams.IOStreams

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup

	muxMu   sync.Mutex  // held while the mux is dialled
	mux     *client.Mux // the session's channel=mux connection, once dialled
	perConn bool        // control has no mux channel: a connection each
}

// track registers c so that closeAll closes it; it reports false (and
// closes c) when the relay is already closed.
func (r *tcpRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *tcpRelay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// closeAll closes every connection and waits for their relays to end.
func (r *tcpRelay) closeAll() {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.muxMu.Lock()
	if r.mux != nil {
		r.mux.Close()
	}
	r.muxMu.Unlock()
}

// dataConn opens one data connection of the session: a stream of the
// session's mux connection (dialled on first use, and again when it broke),
// or its own connection to control when control has no mux channel.
func (r *tcpRelay) dataConn(ctx context.Context) (net.Conn, error) {
	for retried := false; ; retried = true {
		mux, err := r.muxConn(ctx)
		if err != nil {
			return nil, err
		}
		if mux == nil {
			return r.client.Connect(ctx, r.session, api.ChannelData)
		}
		c, err := mux.Open(ctx)
		if errors.Is(err, client.ErrMuxClosed) && !retried {
			continue // the link broke: dial again once
		}
		return c, err
	}
}

// muxConn returns the session's mux connection, dialling it when there is
// none yet or it ended; nil (and no error) when control has no mux channel.
func (r *tcpRelay) muxConn(ctx context.Context) (*client.Mux, error) {
	r.muxMu.Lock()
	defer r.muxMu.Unlock()
	if r.perConn {
		return nil, nil
	}
	if r.mux != nil && !r.mux.Closed() {
		return r.mux, nil
	}
	mux, err := r.client.ConnectMux(ctx, r.session)
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeInvalid {
		r.perConn = true // an older control server
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		mux.Close()
		return nil, net.ErrClosed
	}
	r.mux = mux
	return mux, nil
}

func (r *tcpRelay) accept(ctx context.Context, ln net.Listener) {
	for {
		lc, err := ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		lc = relay.Raw(lc)
		if !r.track(lc) {
			return
		}
		r.wg.Add(1)
		go r.relay(ctx, lc)
	}
}

func (r *tcpRelay) relay(ctx context.Context, lc net.Conn) {
	defer r.wg.Done()
	defer r.untrack(lc)
	dc, err := r.dataConn(ctx)
	if err != nil {
		lc.Close()
		if ctx.Err() == nil {
			_, msg := cmdutil.Classify(err)
			fmt.Fprintf(r.errOut.ErrOut, "connection from %s: %s\n", lc.RemoteAddr(), msg)
		}
		return
	}
	if !r.track(dc) {
		lc.Close()
		return
	}
	defer r.untrack(dc)
	_ = relay.Splice(lc, dc, nil, nil)
}

// maxEventLine bounds one SessionEvent line.
const maxEventLine = 64 << 10

// watchEvents reads the events channel until the session ends and returns
// why: nil when it completed, an *api.Error with code terminated or
// target_failed otherwise.
func (r *tcpRelay) watchEvents(ctx context.Context, events net.Conn) error {
	sc := bufio.NewScanner(events)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	for sc.Scan() {
		var ev api.SessionEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // a line this version does not understand
		}
		if err := sessionEnd(ev); err != nil || ev.Status == api.StatusCompleted {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	// The channel closed without a final event: ask control how it ended.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s, err := r.client.GetSession(qctx, r.session)
	if err != nil {
		return fmt.Errorf("control closed session %s's connection: %w", r.session, err)
	}
	switch s.Status {
	case api.StatusTerminated:
		msg := "session terminated by an administrator"
		if s.TerminatedBy != "" {
			msg += " (" + s.TerminatedBy + ")"
		}
		if s.TerminateReason != "" {
			msg += ": " + s.TerminateReason
		}
		return &api.Error{Code: api.CodeTerminated, Message: msg}
	case api.StatusFailed:
		return &api.Error{Code: api.CodeTargetFailed, Message: "session failed: " + s.Error}
	case api.StatusCompleted:
		return nil
	}
	return errors.New("control closed session " + r.session + "'s connection while it was " + string(s.Status))
}

// sessionEnd returns the error a terminal event ends the command with.
func sessionEnd(ev api.SessionEvent) error {
	switch ev.Status {
	case api.StatusTerminated:
		msg := ev.Message
		if msg == "" {
			msg = "session terminated by an administrator"
		}
		return &api.Error{Code: api.CodeTerminated, Message: msg}
	case api.StatusFailed:
		msg := ev.Message
		if msg == "" {
			msg = "session failed"
		}
		if ev.Error != "" {
			msg += ": " + ev.Error
		}
		return &api.Error{Code: api.CodeTargetFailed, Message: msg}
	}
	return nil
}
