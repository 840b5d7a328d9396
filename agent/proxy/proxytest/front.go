package proxytest

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Front is a loopback listener in front of an open session, standing in
// for control and the CLI: every connection to Addr becomes one
// ServeConn call (connection numbers 1, 2, …) on a fresh loopback TCP
// stream; the ConnOpenResult frame is read off that stream and, when it
// is OK, the bytes are spliced between the connection and the stream.
type Front struct {
	// Addr is where clients connect (127.0.0.1:PORT).
	Addr string

	hooks     Hooks
	sess      proxy.Session
	sessionID string
	ln        net.Listener
	ids       atomic.Int64

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // ServeConn calls
}

// Hooks are the optional callbacks of a Front. They are fixed when the
// Front starts, before its first connection can arrive.
type Hooks struct {
	// Refused, when set, is called when a connection's ConnOpenResult
	// is not OK or cannot be read (err is the read error).
	Refused func(id int64, res api.ConnOpenResult, err error)
	// Ended, when set, is called with the result of every ServeConn
	// call.
	Ended func(id int64, err error)
}

// NewFront starts a Front for sess without hooks; see NewFrontWith.
func NewFront(t testing.TB, sess proxy.Session, sessionID string) *Front {
	t.Helper()
	return NewFrontWith(t, sess, sessionID, Hooks{})
}

// NewFrontWith starts a Front for sess; conns carry sessionID. At cleanup
// the listener closes, the session closes and the ServeConn calls are
// waited for.
func NewFrontWith(t testing.TB, sess proxy.Session, sessionID string, hooks Hooks) *Front {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Front{Addr: ln.Addr().String(), hooks: hooks, sess: sess, sessionID: sessionID, ln: ln}
	go f.accept(t)
	t.Cleanup(f.Close)
	return f
}

// Close stops accepting, closes the session and waits for every
// ServeConn call to return. It may be called more than once.
func (f *Front) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.ln.Close()
	f.sess.Close()
	f.wg.Wait()
}

// Conns returns how many connections the Front has accepted.
func (f *Front) Conns() int64 { return f.ids.Load() }

func (f *Front) accept(t testing.TB) {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.carry(t, c, f.ids.Add(1))
	}
}

// carry connects client to a ServeConn call through a loopback pair.
func (f *Front) carry(t testing.TB, client net.Conn, id int64) {
	agentEnd, cliEnd, err := Pair()
	if err != nil {
		t.Error(err)
		client.Close()
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		client.Close()
		agentEnd.Close()
		cliEnd.Close()
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		err := f.sess.ServeConn(context.Background(), agentEnd, api.ConnOpen{SessionID: f.sessionID, ConnID: id, ClientAddr: client.RemoteAddr().String()})
		agentEnd.Close()
		if f.hooks.Ended != nil {
			f.hooks.Ended(id, err)
		}
	}()
	var res api.ConnOpenResult
	if err := tunnel.ReadFrame(cliEnd, &res); err != nil || !res.OK {
		if f.hooks.Refused != nil {
			f.hooks.Refused(id, res, err)
		}
		client.Close()
		cliEnd.Close()
		return
	}
	relay.Splice(client, cliEnd, nil, nil)
}

// Pair returns both ends of a fresh loopback TCP connection: a is the
// dialed end, b the accepted one.
func Pair() (a, b net.Conn, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	r := <-ch
	if r.err != nil {
		a.Close()
		return nil, nil, r.err
	}
	return a, r.c, nil
}

// TCPPair is Pair that fails the test on error.
func TCPPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	a, b, err := Pair()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}
