package ssh

import (
	"context"
	"io"
)

// backend is where a session's channels go: the target's sshd (remote) or
// the agent host itself (builtin).
type backend interface {
	// openSession opens a session channel on the target.
	openSession(ctx context.Context) (targetSession, error)
	// forward opens a direct-tcpip connection from the target to
	// host:port (the payload of the person's channel open).
	forward(ctx context.Context, host string, port uint32, payload []byte) (io.ReadWriteCloser, error)
	// shell is the login shell for the recording header ("" unknown).
	shell() string
	// done is closed when the target connection is gone.
	done() <-chan struct{}
	close() error
}

// targetSession is one session channel on the target.
type targetSession interface {
	// request passes a channel request (pty-req, env, window-change,
	// signal, break) on and returns the target's answer.
	request(typ string, wantReply bool, payload []byte) (bool, error)
	// start runs the shell, an exec or a subsystem (other than sftp):
	// typ and payload are those of the person's request. ok false is the
	// target's refusal.
	start(typ string, payload []byte) (st *streams, ok bool, err error)
	// sftp starts the target's SFTP server on this channel.
	sftp() (fileSystem, error)
	// close ends the channel (the target hangs the process up).
	close() error
}

// streams are the standard streams of a started target process.
type streams struct {
	stdin  io.WriteCloser // Close sends EOF
	stdout io.Reader
	stderr io.Reader // nil when stderr goes to the terminal
	// exit delivers exit-status and exit-signal messages; it is closed
	// when the process is gone.
	exit <-chan exitMsg
}

// exitMsg is an exit-status or exit-signal request to pass to the person.
type exitMsg struct {
	typ     string
	payload []byte
}

// SSH request payloads (RFC 4254).
type ptyRequest struct {
	Term          string
	Cols, Rows    uint32
	Width, Height uint32
	Modes         string
}

type windowChange struct {
	Cols, Rows    uint32
	Width, Height uint32
}

type envRequest struct{ Name, Value string }

type execRequest struct{ Command string }

type subsystemRequest struct{ Name string }

type signalRequest struct{ Signal string }

type exitStatus struct{ Status uint32 }

type exitSignal struct {
	Signal     string
	CoreDumped bool
	Message    string
	Lang       string
}

type directTCPIP struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}
