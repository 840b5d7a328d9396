// Package proxy is the agent's protocol plug-in point. Each protocol (tcp
// first; ssh, db, http, rdp, vnc later) lives in its own package under
// agent/proxy/ and implements Proxy; agent/proxies.go registers them by
// session type.
//
// The agent drives a proxy like this: a StreamSession arrives → the agent
// checks the resource and calls Proxy.Open (which checks the target can
// be reached) → on success the agent answers OK and keeps the Session;
// each StreamConn of that session → Session.ServeConn on the stream;
// control closes the session stream, terminates it, or the link drops →
// Session.Close, then the agent finalises the recording.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
)

// Proxy serves sessions of one protocol.
type Proxy interface {
	// Open prepares a session to info.Target (TCP: one probe dial). An
	// error is shown to the person as why the session failed.
	Open(ctx context.Context, info *SessionInfo) (Session, error)
}

// Session is one open session of a proxy.
type Session interface {
	// ServeConn carries one connection of the session. conn is the
	// stream from control; ServeConn must first write exactly one
	// api.ConnOpenResult frame on it (pkg/tunnel.WriteFrame), then carry
	// bytes until either side ends. It returns when the connection is
	// over; the caller closes conn.
	ServeConn(ctx context.Context, conn net.Conn, c api.ConnOpen) error
	// Close tears the session down: it refuses new connections, closes
	// every target connection and writes the last recording events. It
	// is idempotent and returns once running ServeConn calls have
	// recorded their end.
	Close() error
}

// Credentials are the login details of a target. They stay on the agent:
// they are never sent to control or logged.
type Credentials struct {
	Username string
	Password string
}

// String redacts the password.
func (c Credentials) String() string {
	if c.Password == "" {
		return c.Username
	}
	return c.Username + ":<redacted>"
}

// GoString redacts the password in %#v.
func (c Credentials) GoString() string {
	return fmt.Sprintf("proxy.Credentials{Username:%q}", c.Username)
}

// LogValue redacts the password in logs.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.Bool("password_set", c.Password != ""))
}

// Target is the resource a session connects to, as configured on the agent.
type Target struct {
	Name        string
	Type        api.SessionType
	Address     string // host:port
	Credentials Credentials
	// Options holds the protocol's own target settings from agent.yaml
	// (ssh: *ssh.TargetConfig); nil when the protocol has none.
	Options any
}

// SessionInfo is everything a proxy gets to run a session.
type SessionInfo struct {
	Open   api.SessionOpen // the header control sent
	Target Target
	// Recorder receives the session's recording in the proxy's format
	// (api.RecordingFormatFor(Open.Type)); record.Discard() when off.
	Recorder record.Recorder
	Logger   *slog.Logger
	Clock    func() time.Time
	// Dial reaches targets (net.Dialer.DialContext by default).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Fail reports that the session broke on the agent's side (e.g. its
	// recording failed in fail-closed mode); the agent reports it to
	// control and tears the session down.
	Fail func(err error)
	// Report sends a report frame (e.g. type "file" with a FileEvent) to
	// control on the session stream. It may be called from any goroutine;
	// nil discards reports.
	Report func(api.SessionReport)
}

// Notifier is implemented by sessions that can show a message to the
// person (e.g. on their terminal) before the agent tears them down.
type Notifier interface {
	Notify(msg string)
}
