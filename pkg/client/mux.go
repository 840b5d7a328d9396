package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Mux is a channel=mux connection of an active session: each Open is one
// data connection of the session, a stream of one TLS connection (see
// api.ChannelMux).
type Mux struct {
	s       *yamux.Session
	timeout time.Duration
}

// ConnectMux attaches a channel=mux connection to session sessionID, whose
// lead (the events channel) must have attached. Errors are as Connect's;
// an old control server that does not know the channel answers invalid.
// The context bounds the handshake only.
func (c *Client) ConnectMux(ctx context.Context, sessionID string) (*Mux, error) {
	uc, err := c.connect(ctx, sessionID, api.ChannelMux)
	if err != nil {
		return nil, err
	}
	s, err := tunnel.Client(uc)
	if err != nil {
		uc.Close()
		return nil, &NetworkError{URL: c.URL(), Err: fmt.Errorf("start yamux: %w", err)}
	}
	return &Mux{s: s, timeout: c.cfg.Timeout}, nil
}

// Open starts one data connection of the session: a stream, and control's
// answer on it. Control's refusal is an *api.Error (target_failed when the
// agent or the target cannot be reached, terminated when the session was
// killed, ...). The context bounds the opening only.
func (m *Mux) Open(ctx context.Context) (net.Conn, error) {
	st, err := m.s.OpenStream()
	if err != nil {
		if m.s.IsClosed() {
			return nil, fmt.Errorf("%w: %v", ErrMuxClosed, err)
		}
		return nil, fmt.Errorf("open a stream to control: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetReadDeadline(dl)
	} else if m.timeout > 0 {
		_ = st.SetReadDeadline(time.Now().Add(m.timeout))
	}
	stop := context.AfterFunc(ctx, func() { _ = st.SetReadDeadline(time.Unix(1, 0)) })
	var res api.MuxConnResult
	err = tunnel.ReadFrame(st, &res)
	stopped := stop()
	if err == nil && !stopped {
		err = ctx.Err()
	}
	if err != nil {
		st.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if m.s.IsClosed() {
			return nil, fmt.Errorf("%w: %v", ErrMuxClosed, err)
		}
		return nil, fmt.Errorf("read control's answer: %w", err)
	}
	if !res.OK {
		st.Close()
		if res.Error == nil || res.Error.Code == "" {
			return nil, &api.Error{Code: api.CodeInternal, Message: "control refused the connection without saying why"}
		}
		return nil, res.Error
	}
	_ = st.SetReadDeadline(time.Time{})
	return st, nil
}

// ErrMuxClosed is returned by Open when the mux connection has ended (the
// session ended, or the link to control broke).
var ErrMuxClosed = errors.New("the session's connection to control has ended")

// Closed reports whether the mux connection has ended.
func (m *Mux) Closed() bool { return m.s.IsClosed() }

// Close ends the mux connection and every stream on it.
func (m *Mux) Close() error { return m.s.Close() }
