package agentgwtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Agent is a connected test agent.
type Agent struct {
	Session *yamux.Session
	Control net.Conn
	Welcome api.AgentWelcome
	msgs    chan api.AgentMessage
	readErr error // set before msgs is closed
}

// ErrorMessage is an error message control sent on the control stream.
type ErrorMessage struct{ api.AgentError }

func (e *ErrorMessage) Error() string {
	return fmt.Sprintf("control: %s (fatal: %v)", e.Message, e.Fatal)
}

// Dial opens a TLS connection presenting id's certificate.
func Dial(ctx context.Context, addr string, id *Identity) (*tls.Conn, error) {
	cfg := tunnel.CAConfig(id.CA, "localhost")
	cfg.Certificates = []tls.Certificate{id.Cert}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// Connect dials control, opens the control stream with hello and waits for
// the welcome. When control answers with an error message instead, the
// error is an *ErrorMessage.
func Connect(ctx context.Context, addr string, id *Identity, hello api.AgentHello) (*Agent, error) {
	c, err := Dial(ctx, addr, id)
	if err != nil {
		return nil, err
	}
	sess, err := tunnel.Client(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	ctrl, err := sess.OpenStream()
	if err != nil {
		sess.Close()
		return nil, err
	}
	a := &Agent{Session: sess, Control: ctrl, msgs: make(chan api.AgentMessage, 64)}
	if err := tunnel.WriteHeader(ctrl, api.StreamControl, hello); err != nil {
		sess.Close()
		return nil, err
	}
	go a.read()
	m, err := a.Next(ctx)
	if err != nil {
		sess.Close()
		return nil, err
	}
	switch {
	case m.Type == api.MsgError && m.Error != nil:
		sess.Close()
		return nil, &ErrorMessage{*m.Error}
	case m.Type != api.MsgWelcome || m.Welcome == nil:
		sess.Close()
		return nil, fmt.Errorf("first control message is %q, want welcome", m.Type)
	}
	a.Welcome = *m.Welcome
	return a, nil
}

func (a *Agent) read() {
	defer close(a.msgs)
	for {
		var m api.AgentMessage
		if err := tunnel.ReadFrame(a.Control, &m); err != nil {
			a.readErr = err
			return
		}
		a.msgs <- m
	}
}

// Next returns the next control message from control.
func (a *Agent) Next(ctx context.Context) (api.AgentMessage, error) {
	select {
	case m, ok := <-a.msgs:
		if !ok {
			return api.AgentMessage{}, fmt.Errorf("control stream closed: %w", a.readErr)
		}
		return m, nil
	case <-ctx.Done():
		return api.AgentMessage{}, ctx.Err()
	}
}

// Send writes a control message.
func (a *Agent) Send(m api.AgentMessage) error { return tunnel.WriteFrame(a.Control, m) }

// Heartbeat sends a heartbeat and waits for control's answer.
func (a *Agent) Heartbeat(ctx context.Context) error {
	now := time.Now()
	if err := a.Send(api.AgentMessage{Type: api.MsgHeartbeat, Heartbeat: &now}); err != nil {
		return err
	}
	for {
		m, err := a.Next(ctx)
		if err != nil {
			return err
		}
		switch m.Type {
		case api.MsgHeartbeat:
			return nil
		case api.MsgError:
			return &ErrorMessage{*m.Error}
		}
	}
}

// Accept accepts a stream control opened and reads its header.
func (a *Agent) Accept(ctx context.Context) (net.Conn, api.StreamKind, []byte, error) {
	st, err := a.Session.AcceptStreamWithContext(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	kind, body, err := tunnel.ReadHeader(st)
	if err != nil {
		st.Close()
		return nil, 0, nil, err
	}
	return st, kind, body, nil
}

// Done is closed when the yamux session ends.
func (a *Agent) Done() <-chan struct{} { return a.Session.CloseChan() }

// Close closes the connection.
func (a *Agent) Close() error { return a.Session.Close() }

// ErrRefused is wrapped by Upload errors that carry control's RecordingAck.Error.
var ErrRefused = errors.New("upload refused by control")
