package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// MuxAttachment is a channel=mux connection of an active session: after the
// upgrade it carries yamux, and each stream the person opens is one data
// connection of the session (see api.ChannelMux).
type MuxAttachment struct {
	m          *Manager
	l          *live
	p          auth.Principal
	clientAddr string
}

// muxAttachTimeout bounds the attach of one stream of a mux (the agent's
// answer included), as the HTTP server's timeouts bound a channel=data
// upgrade.
const muxAttachTimeout = 30 * time.Second

// AttachMux prepares a channel=mux connection of session id for p. The
// session's lead must have attached: it waits for the lead's answer and
// fails with why when the session did not become active. Errors are
// *api.Error, as for Attach.
func (m *Manager) AttachMux(ctx context.Context, p auth.Principal, id, clientAddr string) (*MuxAttachment, error) {
	if m.closing.Load() {
		return nil, api.Errorf(api.CodeUnavailable, "control server is shutting down: try again in a moment")
	}
	l, err := m.lookup(ctx, p, id)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	lead := l.leadClaimed
	l.mu.Unlock()
	if !lead {
		return nil, api.Errorf(api.CodeConflict, "session %s has no lead connection yet: attach channel=events (or the first data connection) first", id)
	}
	if err := l.waitActive(ctx); err != nil {
		return nil, err
	}
	return &MuxAttachment{m: m, l: l, p: p, clientAddr: clientAddr}, nil
}

// Upgrade answers the person with 101 Switching Protocols on w, takes the
// connection over and serves its streams until the person closes it, the
// link breaks or the session ends. It returns an error when the
// connection could not be taken over.
func (x *MuxAttachment) Upgrade(w http.ResponseWriter) error {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return fmt.Errorf("hijack connection: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err = brw.WriteString(upgradeResponse); err == nil {
		err = brw.Flush()
	}
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("write upgrade response: %w", err)
	}
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		conn = &prefixedConn{Conn: conn, prefix: bytes.Clone(p)}
	}
	mux, err := tunnel.Server(conn)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("start yamux: %w", err)
	}
	if !x.l.addMux(mux) {
		_ = mux.Close()
		return nil
	}
	defer x.l.dropMux(mux)
	defer mux.Close()
	for {
		st, err := mux.AcceptStream()
		if err != nil {
			return nil // the person closed it, the link broke, or the session ended
		}
		go x.serveStream(st)
	}
}

// serveStream attaches one stream as a data connection of the session and
// serves it until it ends.
func (x *MuxAttachment) serveStream(st net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), muxAttachTimeout)
	a, err := x.m.Attach(ctx, x.p, x.l.id, api.ChannelData, x.clientAddr)
	cancel()
	if err != nil {
		var ae *api.Error
		if !errors.As(err, &ae) {
			ae = &api.Error{Code: api.CodeInternal, Message: err.Error()}
		}
		_ = st.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		_ = tunnel.WriteFrame(st, api.MuxConnResult{Error: ae})
		_ = st.Close()
		return
	}
	if err := tunnel.WriteFrame(st, api.MuxConnResult{OK: true}); err != nil {
		a.Abort("the person's stream broke before the connection started: " + err.Error())
		_ = st.Close()
		return
	}
	a.Serve(st, nil)
}

// addMux registers a mux so that the session's end closes it; it reports
// false when the session has already ended.
func (l *live) addMux(s *yamux.Session) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	if l.muxes == nil {
		l.muxes = map[*yamux.Session]struct{}{}
	}
	l.muxes[s] = struct{}{}
	return true
}

func (l *live) dropMux(s *yamux.Session) {
	l.mu.Lock()
	delete(l.muxes, s)
	l.mu.Unlock()
}

// prefixedConn serves prefix before reading the connection: bytes the HTTP
// server buffered past the upgrade request.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
