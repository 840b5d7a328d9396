package agenttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// AgentConn is one live agent link.
type AgentConn struct {
	s     *Server
	ID    string         // the agent id (certificate CommonName)
	Hello api.AgentHello // what the agent announced
	ymx   *yamux.Session
	ctl   net.Conn
	wmu   sync.Mutex
	down  chan struct{}

	mu         sync.Mutex
	heartbeats int
}

// Send writes a frame on the control stream.
func (c *AgentConn) Send(m api.AgentMessage) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return tunnel.WriteFrame(c.ctl, m)
}

// Heartbeats returns how many heartbeats the agent sent on this link.
func (c *AgentConn) Heartbeats() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heartbeats
}

// Down is closed when the link is gone.
func (c *AgentConn) Down() <-chan struct{} { return c.down }

// Drop closes the link (yamux session and connection).
func (c *AgentConn) Drop() { c.ymx.Close() }

// OpenRaw opens a stream and writes raw bytes on it (e.g. a malformed
// header).
func (c *AgentConn) OpenRaw(b []byte) (net.Conn, error) {
	st, err := c.ymx.Open()
	if err != nil {
		return nil, err
	}
	if _, err := st.Write(b); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// SessionStream is an open session stream to the agent.
type SessionStream struct {
	net.Conn
}

// OpenSession opens a session stream and reads the agent's
// SessionOpenResult. The stream is returned even when the result is an
// error (the agent closes it).
func (c *AgentConn) OpenSession(ctx context.Context, open api.SessionOpen) (*SessionStream, api.SessionOpenResult, error) {
	st, err := c.ymx.Open()
	if err != nil {
		return nil, api.SessionOpenResult{}, err
	}
	var res api.SessionOpenResult
	if err := exchange(ctx, st, api.StreamSession, open, &res); err != nil {
		st.Close()
		return nil, res, err
	}
	return &SessionStream{st}, res, nil
}

// Terminate sends a terminate command.
func (s *SessionStream) Terminate(actor, reason string) error {
	return tunnel.WriteFrame(s, api.SessionCommand{Type: api.CmdTerminate, Actor: actor, Reason: reason})
}

// Reports reads SessionReport frames until the agent closes the stream.
func (s *SessionStream) Reports(ctx context.Context) ([]api.SessionReport, error) {
	stop := context.AfterFunc(ctx, func() { s.SetReadDeadline(time.Now()) })
	defer stop()
	var out []api.SessionReport
	for {
		var r api.SessionReport
		if err := tunnel.ReadFrame(s, &r); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, r)
	}
}

// OpenConn opens a conn stream and reads the agent's ConnOpenResult; when
// OK the returned conn carries the target's bytes.
func (c *AgentConn) OpenConn(ctx context.Context, open api.ConnOpen) (net.Conn, api.ConnOpenResult, error) {
	st, err := c.ymx.Open()
	if err != nil {
		return nil, api.ConnOpenResult{}, err
	}
	var res api.ConnOpenResult
	if err := exchange(ctx, st, api.StreamConn, open, &res); err != nil {
		st.Close()
		return nil, res, err
	}
	return st, res, nil
}

// exchange writes a header and reads one answer frame within ctx.
func exchange(ctx context.Context, st net.Conn, kind api.StreamKind, header, answer any) error {
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	defer stop()
	if err := tunnel.WriteHeader(st, kind, header); err != nil {
		return fmt.Errorf("write %s header: %w", kind, err)
	}
	if err := tunnel.ReadFrame(st, answer); err != nil {
		return fmt.Errorf("read %s answer: %w", kind, err)
	}
	return nil
}
