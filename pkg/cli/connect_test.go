package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"github.com/onepam/onepam/pkg/relay"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/client/clienttest"
	"github.com/onepam/onepam/pkg/tunnel"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startEcho runs a TCP echo service on loopback that half-closes after
// echoing everything.
func startEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// fakeGateway plays control for tcp connect: it creates sessions, upgrades
// the events channel (sending an "active" event) and relays data
// connections to a real echo service.
type fakeGateway struct {
	echo       string
	failTarget bool // the events attach answers 502
	noMux      bool // an older control: channel=mux is an unknown channel
	status     api.SessionStatus

	mu         sync.Mutex
	events     net.Conn
	eventsDone chan struct{} // closed when the CLI closed the events channel
	dataConns  int
	muxConns   int
}

func (g *fakeGateway) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, api.Session{ID: "s1", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo"})
	})
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		writeJSON(w, 200, api.Session{ID: "s1", Status: g.status, Error: "agent connection lost"})
	})
	mux.HandleFunc("GET /v1/sessions/{id}/connect", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("channel") == api.ChannelEvents {
			if g.failTarget {
				writeErr(w, api.CodeTargetFailed, "dial tcp 127.0.0.1:1: connect: connection refused")
				return
			}
			conn, err := clienttest.Upgrade(w, []byte(`{"time":"2025-06-01T12:00:00Z","status":"active","message":"session active"}`+"\n"))
			if err != nil {
				return
			}
			g.mu.Lock()
			g.events = conn
			g.mu.Unlock()
			_, _ = io.Copy(io.Discard, conn) // until the CLI closes it
			close(g.eventsDone)
			return
		}
		if r.URL.Query().Get("channel") == api.ChannelMux {
			if g.noMux {
				writeErr(w, api.CodeInvalid, `unknown channel "mux": want data or events`)
				return
			}
			conn, err := clienttest.Upgrade(w, nil)
			if err != nil {
				return
			}
			g.mu.Lock()
			g.muxConns++
			g.mu.Unlock()
			s, err := tunnel.Server(conn)
			if err != nil {
				conn.Close()
				return
			}
			defer s.Close()
			for {
				st, err := s.AcceptStream()
				if err != nil {
					return
				}
				go func() {
					defer st.Close()
					target, err := net.Dial("tcp", g.echo)
					if err != nil {
						_ = tunnel.WriteFrame(st, api.MuxConnResult{Error: &api.Error{Code: api.CodeTargetFailed, Message: err.Error()}})
						return
					}
					defer target.Close()
					if tunnel.WriteFrame(st, api.MuxConnResult{OK: true}) == nil {
						g.relayData(st, target)
					}
				}()
			}
		}
		target, err := net.Dial("tcp", g.echo)
		if err != nil {
			writeErr(w, api.CodeTargetFailed, err.Error())
			return
		}
		defer target.Close()
		conn, err := clienttest.Upgrade(w, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		g.relayData(conn, target)
	})
	return mux
}

// relayData carries one data connection to the echo target, passing
// half-closes on.
func (g *fakeGateway) relayData(conn, target net.Conn) {
	g.mu.Lock()
	g.dataConns++
	g.mu.Unlock()
	go func() {
		_, _ = io.Copy(target, conn)
		_ = target.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(conn, target)
	relay.CloseWrite(conn)
	_, _ = io.Copy(io.Discard, conn)
}

// sendEvent writes a SessionEvent line on the events channel and closes it,
// as control does when a session ends.
func (g *fakeGateway) endWith(t *testing.T, line string) {
	events := g.eventsConn(t)
	if _, err := io.WriteString(events, line+"\n"); err != nil {
		t.Fatal(err)
	}
	events.Close()
}

// eventsConn returns the events channel once the handler has stored it
// (the CLI may have read the 101 and printed its address before that).
func (g *fakeGateway) eventsConn(t *testing.T) net.Conn {
	var c net.Conn
	waitFor(t, "the events channel", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		c = g.events
		return c != nil
	})
	return c
}

type tcpRun struct {
	out, errOut *syncBuffer
	cancel      context.CancelFunc
	done        chan error
}

func startTCPConnect(t *testing.T, g *fakeGateway) *tcpRun {
	srv := clienttest.NewServer(t, g.handler())
	c, err := client.New(client.Config{URL: srv.URL, Token: "opt_admin", CAPEM: srv.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRun{out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t.Cleanup(cancel)
	opts := &ConnectOptions{
		Type:     api.TypeTCP,
		IO:       &iostreams.IOStreams{In: strings.NewReader(""), Out: r.out, ErrOut: r.errOut},
		Client:   func() (*client.Client, error) { return c, nil },
		Resource: "echo",
		Listen:   "127.0.0.1:0",
	}
	go func() { r.done <- runConnect(ctx, opts) }()
	return r
}

func (r *tcpRun) addr(t *testing.T) string {
	var addr string
	waitFor(t, "the listening address", func() bool {
		select {
		case err := <-r.done:
			t.Fatalf("tcp connect ended early: %v (stderr %s)", err, r.errOut)
		default:
		}
		line, ok := strings.CutSuffix(r.out.String(), "\n")
		addr = line
		return ok
	})
	return addr
}

func (r *tcpRun) wait(t *testing.T) error {
	select {
	case err := <-r.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("tcp connect did not end")
		return nil
	}
}

// roundTrip sends data through addr and checks the echo.
func roundTrip(t *testing.T, addr string, size int) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	go func() {
		_, _ = conn.Write(data)
		_ = conn.(*net.TCPConn).CloseWrite() // the half-close must reach the target
	}()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, sent %d (equal prefix: %v)", len(got), len(data), bytes.HasPrefix(data, got))
	}
}

func TestTCPConnectTerminated(t *testing.T) {
	g := &fakeGateway{echo: startEcho(t), eventsDone: make(chan struct{})}
	r := startTCPConnect(t, g)
	addr := r.addr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("stdout %q, want the bare listening address", addr)
	}
	mustContain(t, r.errOut.String(), "listening on "+addr+" → echo (session s1); press Ctrl-C to end")

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); roundTrip(t, addr, 3<<20) }()
	}
	wg.Wait()

	// A connection open when the session is terminated is closed.
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(open, buf); err != nil || buf[0] != 'x' {
		t.Fatalf("echo before kill: %q %v", buf, err)
	}

	g.endWith(t, `{"time":"2025-06-01T12:00:01Z","status":"terminated","message":"session terminated by an administrator (alice): not approved"}`)
	err = r.wait(t)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeTerminated {
		t.Fatalf("err = %v, want terminated", err)
	}
	if code, msg := cmdutil.Classify(err); code != cmdutil.ExitTerminated || msg != "session terminated by an administrator (alice): not approved" {
		t.Fatalf("exit %d %q", code, msg)
	}
	_ = open.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := open.Read(buf); err == nil {
		t.Fatalf("local connection still open after termination (read %d bytes)", n)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("listener still accepting after termination")
	}
}

func TestTCPConnectInterrupt(t *testing.T) {
	g := &fakeGateway{echo: startEcho(t), eventsDone: make(chan struct{})}
	r := startTCPConnect(t, g)
	roundTrip(t, r.addr(t), 1000)
	r.cancel() // Ctrl-C
	if err := r.wait(t); err != nil {
		t.Fatalf("err = %v, want nil after Ctrl-C", err)
	}
	select {
	case <-g.eventsDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the events channel was not closed: the session would not complete")
	}
}

func TestTCPConnectFailures(t *testing.T) {
	t.Run("target unreachable", func(t *testing.T) {
		g := &fakeGateway{failTarget: true, eventsDone: make(chan struct{})}
		r := startTCPConnect(t, g)
		err := r.wait(t)
		if code, msg := cmdutil.Classify(err); code != cmdutil.ExitTargetFailed || !strings.Contains(msg, "connection refused") {
			t.Fatalf("exit %d %q", code, msg)
		}
	})
	t.Run("failed event", func(t *testing.T) {
		g := &fakeGateway{echo: startEcho(t), eventsDone: make(chan struct{})}
		r := startTCPConnect(t, g)
		r.addr(t)
		g.endWith(t, `{"status":"failed","message":"session failed","error":"agent connection lost"}`)
		if code, msg := cmdutil.Classify(r.wait(t)); code != cmdutil.ExitTargetFailed || msg != "session failed: agent connection lost" {
			t.Fatalf("exit %d %q", code, msg)
		}
	})
	t.Run("closed without event", func(t *testing.T) {
		g := &fakeGateway{echo: startEcho(t), eventsDone: make(chan struct{}), status: api.StatusFailed}
		r := startTCPConnect(t, g)
		r.addr(t)
		g.eventsConn(t).Close()
		if code, msg := cmdutil.Classify(r.wait(t)); code != cmdutil.ExitTargetFailed || msg != "session failed: agent connection lost" {
			t.Fatalf("exit %d %q", code, msg)
		}
	})
}

// TestSpliceHalfClose checks that each direction's end is passed on while
// the other keeps flowing.
func TestSpliceHalfClose(t *testing.T) {
	echo := startEcho(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			target, err := net.Dial("tcp", echo)
			if err != nil {
				c.Close()
				continue
			}
			go relay.Splice(c, target, nil, nil)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := range 3 {
		line := strings.Repeat("ab", i+1) + "\n"
		if _, err := io.WriteString(conn, line); err != nil {
			t.Fatal(err)
		}
		got, err := br.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after half-close: %q %v", rest, err)
	}
}

// TestConnectCommand: with -- COMMAND the local address reaches the command
// through placeholders and the environment, and its exit status passes
// through; the session then ends (the events channel is closed).
func TestConnectCommand(t *testing.T) {
	g := &fakeGateway{echo: startEcho(t), eventsDone: make(chan struct{})}
	srv := clienttest.NewServer(t, g.handler())
	c, err := client.New(client.Config{URL: srv.URL, Token: "opt_admin", CAPEM: srv.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	opts := &ConnectOptions{
		IO:       &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: &syncBuffer{}},
		Client:   func() (*client.Client, error) { return c, nil },
		Type:     api.TypeTCP,
		Resource: "echo",
		Listen:   "127.0.0.1:0",
		Command:  []string{"sh", "-c", `echo "{host}:{port} $ONEPAM_ADDR"; exit 3`},
	}
	err = runConnect(context.Background(), opts)
	var es *cmdutil.ExitStatusError
	if !errors.As(err, &es) || es.Code != 3 {
		t.Fatalf("runConnect: %v, want exit status 3", err)
	}
	if code := cmdutil.ExitCode(err); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	f := strings.Fields(out.String())
	if len(f) != 2 || f[0] != f[1] || !strings.HasPrefix(f[0], "127.0.0.1:") {
		t.Fatalf("command saw %q: placeholders and ONEPAM_ADDR should both give the listening address", out.String())
	}
	select {
	case <-g.eventsDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the events channel was not closed after the command ended")
	}
}

// TestTCPConnectMux: the local connections of a session share one
// channel=mux connection to control; against a control server without the
// mux channel each gets a connection of its own.
func TestTCPConnectMux(t *testing.T) {
	for _, tc := range []struct {
		name          string
		noMux         bool
		wantMuxConns  int
		wantDataConns int
	}{
		{name: "mux", wantMuxConns: 1, wantDataConns: 5},
		{name: "older control", noMux: true, wantMuxConns: 0, wantDataConns: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGateway{echo: startEcho(t), eventsDone: make(chan struct{}), noMux: tc.noMux}
			r := startTCPConnect(t, g)
			addr := r.addr(t)
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() { defer wg.Done(); roundTrip(t, addr, 256<<10) }()
			}
			wg.Wait()
			roundTrip(t, addr, 10)
			g.mu.Lock()
			mux, data := g.muxConns, g.dataConns
			g.mu.Unlock()
			if mux != tc.wantMuxConns || data != tc.wantDataConns {
				t.Errorf("control saw %d mux and %d data connections, want %d and %d", mux, data, tc.wantMuxConns, tc.wantDataConns)
			}
			r.cancel()
			if err := r.wait(t); err != nil {
				t.Fatalf("after Ctrl-C: %v", err)
			}
		})
	}
}
