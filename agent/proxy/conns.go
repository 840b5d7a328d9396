package proxy

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/pkg/tunnel"
)

// ErrEnding is the error of a connection refused because its session is
// being torn down.
var ErrEnding = errors.New("session is ending")

// Conns is the per-session connection bookkeeping every proxy shares: it
// refuses connections once the session is closing and (unless Single is
// set) connection numbers that are invalid or already in use, tracks each
// connection's client stream and target connection, and CloseAll aborts
// them all and waits for the ServeConn calls to finish. The zero value is
// ready to use; a Conns must not be copied after first use.
type Conns struct {
	// Single, when not empty, makes the session carry one connection at a
	// time: a second one is refused with this message. Connection numbers
	// are then not checked.
	Single string

	mu     sync.Mutex
	closed bool
	m      map[int64]*tracked
	wg     sync.WaitGroup
}

type tracked struct {
	client, target net.Conn
	abort          func() // replaces aborting client and target when set
}

// Refuse answers conn's ConnOpenResult with err and returns err.
func Refuse(conn net.Conn, err error) error {
	tunnel.WriteFrame(conn, api.ConnOpenResult{Error: err.Error()})
	return err
}

// Begin registers the client stream conn of connection c. When the
// session is closing or c cannot be carried, it answers the
// ConnOpenResult with why and returns that error; otherwise the caller
// must call release (once) when ServeConn returns.
func (cs *Conns) Begin(conn net.Conn, c api.ConnOpen) (release func(), err error) {
	return cs.BeginFunc(conn, c, nil)
}

// BeginFunc is Begin for a connection that aborts itself: CloseAll calls
// abort instead of aborting the client stream and target connection.
func (cs *Conns) BeginFunc(conn net.Conn, c api.ConnOpen, abort func()) (release func(), err error) {
	cs.mu.Lock()
	switch {
	case cs.closed:
		cs.mu.Unlock()
		return nil, Refuse(conn, ErrEnding)
	case cs.Single != "":
		if len(cs.m) > 0 {
			cs.mu.Unlock()
			return nil, Refuse(conn, errors.New(cs.Single))
		}
	default:
		if _, dup := cs.m[c.ConnID]; dup || c.ConnID < 1 {
			cs.mu.Unlock()
			return nil, Refuse(conn, fmt.Errorf("connection number %d is invalid or already in use", c.ConnID))
		}
	}
	if cs.m == nil {
		cs.m = map[int64]*tracked{}
	}
	t := &tracked{client: conn, abort: abort}
	cs.m[c.ConnID] = t
	cs.wg.Add(1)
	cs.mu.Unlock()
	return func() {
		cs.mu.Lock()
		if cs.m[c.ConnID] == t {
			delete(cs.m, c.ConnID)
		}
		cs.mu.Unlock()
		cs.wg.Done()
	}, nil
}

// Attach records target as the target connection of connection id, so
// CloseAll aborts it too. It returns ErrEnding when the session is
// already closing; the caller then refuses the connection and closes
// target.
func (cs *Conns) Attach(id int64, target net.Conn) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if t := cs.m[id]; t != nil {
		t.target = target
	}
	if cs.closed {
		return ErrEnding
	}
	return nil
}

// Closing reports whether CloseAll has been called: a connection that
// ends then was torn down on purpose.
func (cs *Conns) Closing() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.closed
}

// CloseAll refuses new connections, aborts every tracked one (relay.Abort
// of its client stream and target connection, or its own abort) and waits
// until their ServeConn calls have released them. It reports whether
// this was the first call.
func (cs *Conns) CloseAll() (first bool) {
	cs.mu.Lock()
	first = !cs.closed
	cs.closed = true
	if first {
		for _, t := range cs.m {
			if t.abort != nil {
				t.abort()
				continue
			}
			relay.Abort(t.client)
			if t.target != nil {
				relay.Abort(t.target)
			}
		}
	}
	cs.mu.Unlock()
	cs.wg.Wait()
	return first
}
