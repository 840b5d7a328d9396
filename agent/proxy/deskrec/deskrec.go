// Package deskrec is the recording side the desktop proxies (VNC, RDP)
// share: their recording settings and the start of a session's deskproto
// recording, the error that marks a failed recording write (the session
// must stop: fail-closed) and how the end of one connection is recorded.
package deskrec

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Error is a failed recording write.
type Error struct{ Err error }

func (e *Error) Error() string { return "recording failed: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap marks err (if any) as a recording failure.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &Error{err}
}

// Session is what recording the end of a connection needs of a desktop
// session.
type Session struct {
	Proto     string // "vnc", "rdp": the prefix of messages
	SessionID string
	Enc       *deskproto.Encoder
	Fail      func(error) // proxy.SessionInfo.Fail; nil in some tests
	Log       *slog.Logger
}

// Record reports a failed recording write to the agent, which ends the
// session (fail-closed).
func (s Session) Record(err error) {
	if err != nil && s.Fail != nil {
		s.Fail(fmt.Errorf("%s recording: %w", s.Proto, err))
	}
}

// EndConn records how connection id ended at session time at: a clean end
// as a Meta event, an error as an Error event, and a recording failure by
// failing the session. It flushes the recording.
func (s Session) EndConn(at time.Duration, id int64, err error) {
	switch {
	case err == nil:
		s.Record(s.Enc.Meta(at, "connection", fmt.Sprintf("%d closed", id)))
	case errors.As(err, new(*Error)):
		if s.Fail != nil {
			s.Fail(err)
		}
	default:
		s.Log.Warn(s.Proto+" connection ended with an error", "session", s.SessionID, "conn", id, "err", err)
		s.Record(s.Enc.Error(at, fmt.Sprintf("connection %d: %v", id, err)))
	}
	s.Record(s.Enc.Flush())
}
