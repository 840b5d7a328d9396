package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/onepam/onepam/pkg/relay"
	"net"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
	"github.com/spf13/cobra"
)

func newCmdTCP(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("tcp", "Connect to TCP resources", `  onepam tcp connect pg-staging --listen 127.0.0.1:15432`)
	cmd.AddCommand(NewCmdTCPConnect(f, nil))
	return cmd
}

// TCPConnectOptions are the options of `onepam tcp connect`.
type TCPConnectOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Resource string
	Listen   string
	Login    string
}

// NewCmdTCPConnect returns `onepam tcp connect`.
func NewCmdTCPConnect(f *cmdutil.Factory, runF func(context.Context, *TCPConnectOptions) error) *cobra.Command {
	opts := &TCPConnectOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "connect RESOURCE [--listen 127.0.0.1:PORT] [--login L]",
		Short: "Open a local port carried to a TCP resource, as one recorded session",
		Long: `Open a session to a TCP resource and a local listener: every connection to
the listener is carried through control and the agent to the target, as a
connection of that one session. The listening address is printed on
standard output (for scripts) and a human line on standard error.

The session lasts until Ctrl-C (completed, exit 0), an administrator
terminates it (exit 7) or it fails (exit 6).`,
		Example: `  onepam tcp connect echo
  onepam tcp connect pg-staging --listen 127.0.0.1:15432 &
  psql -h 127.0.0.1 -p 15432 -U app
  ADDR=$(onepam tcp connect redis-dev | head -1)`,
		Args: cmdutil.ExactArgs(1, "the RESOURCE name (see onepam resources ls)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Resource = args[0]
			if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
				return cmdutil.FlagErrorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:0", opts.Listen)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTCPConnect(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "local address to listen on (port 0 picks a free one)")
	cmd.Flags().StringVar(&opts.Login, "login", "", "target login, when the resource's policy names logins")
	return cmd
}

func runTCPConnect(ctx context.Context, opts *TCPConnectOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	defer ln.Close()
	sess, err := c.CreateSession(ctx, api.CreateSessionRequest{Resource: opts.Resource, Login: opts.Login})
	if err != nil {
		return err
	}
	// Attaching the events channel makes the session active, or fails with
	// the target's error (502 → exit 6).
	events, err := c.Connect(ctx, sess.ID, api.ChannelEvents)
	if err != nil {
		return err
	}
	defer events.Close()

	addr := ln.Addr().String()
	fmt.Fprintln(opts.IO.Out, addr)
	fmt.Fprintf(opts.IO.ErrOut, "listening on %s → %s (session %s); press Ctrl-C to end\n", addr, opts.Resource, sess.ID)

	r := &tcpRelay{client: c, session: sess.ID, errOut: opts.IO, conns: map[net.Conn]struct{}{}}
	ended := make(chan error, 1)
	go func() { ended <- r.watchEvents(ctx, events) }()
	go r.accept(ctx, ln)

	var result error
	select {
	case <-ctx.Done():
		// Ctrl-C: closing the events channel completes the session.
		fmt.Fprintf(opts.IO.ErrOut, "session %s ended\n", sess.ID)
	case result = <-ended:
	}
	ln.Close()
	events.Close()
	r.closeAll()
	return result
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
}

func (r *tcpRelay) accept(ctx context.Context, ln net.Listener) {
	for {
		lc, err := ln.Accept()
		if err != nil {
			return // the listener was closed
		}
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
	dc, err := r.client.Connect(ctx, r.session, api.ChannelData)
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
