package consoles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// TerminalMessage is a JSON text message of the terminal WebSocket (both
// directions; see the package comment).
type TerminalMessage struct {
	// Type is "resize" (browser → control), "exit" or "error" (control →
	// browser).
	Type string `json:"type"`
	// Cols and Rows are the terminal's size (resize).
	Cols int `json:"cols,omitempty"`
	Rows int `json:"rows,omitempty"`
	// Status is the shell's exit status, -1 when the connection was cut
	// (exit).
	Status int `json:"status"`
	// Message says what happened (exit, error).
	Message string `json:"message,omitempty"`
}

// maxTermSize bounds the columns and rows a browser may ask for.
const maxTermSize = 1000

// terminal is an open web terminal: its SSH connection, shared with the
// file routes.
type terminal struct {
	user   string
	client *ssh.Client

	mu   sync.Mutex
	sftp *sftp.Client
}

// sftpClient opens the terminal's SFTP channel on first use.
func (t *terminal) sftpClient() (*sftp.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sftp != nil {
		return t.sftp, nil
	}
	sc, err := sftp.NewClient(t.client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return nil, fmt.Errorf("open an SFTP channel on the terminal's connection: %w", err)
	}
	t.sftp = sc
	return sc, nil
}

func (t *terminal) close() {
	t.mu.Lock()
	if t.sftp != nil {
		_ = t.sftp.Close()
	}
	t.mu.Unlock()
	_ = t.client.Close()
}

func parseTermSize(q map[string][]string) (cols, rows int, err error) {
	cols, rows = 80, 24
	for _, f := range []struct {
		name string
		dst  *int
	}{{"cols", &cols}, {"rows", &rows}} {
		v := ""
		if vs := q[f.name]; len(vs) > 0 {
			v = vs[0]
		}
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTermSize {
			return 0, 0, api.Errorf(api.CodeInvalid, "%s=%q: want a number from 1 to %d", f.name, v, maxTermSize)
		}
		*f.dst = n
	}
	return cols, rows, nil
}

// closeWith closes a WebSocket after an error message the page can show.
func closeWith(ws *websocket.Conn, err error) {
	msg := err.Error()
	b, _ := json.Marshal(TerminalMessage{Type: "error", Message: msg})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = ws.Write(ctx, websocket.MessageText, b)
	cancel()
	_ = ws.Close(closeCode(err), closeReason(msg))
}

// closeCode maps an error to a WebSocket close status: 4000 + the HTTP
// status of its API code (4403 forbidden, 4502 target failed, ...).
func closeCode(err error) websocket.StatusCode {
	return websocket.StatusCode(4000 + api.CodeOf(err).HTTPStatus())
}

// closeReason fits a reason into a close frame (123 bytes).
func closeReason(s string) string {
	if len(s) <= 120 {
		return s
	}
	return s[:117] + "..."
}

// accept upgrades a console WebSocket (same origin only).
func (c *Consoles) accept(w http.ResponseWriter, r *http.Request, protocols ...string) (*websocket.Conn, bool) {
	if err := c.checkWebSocketCSRF(r); err != nil {
		writeError(w, r, err)
		return nil, false
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: protocols, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		c.cfg.Logger.Info("console websocket refused", "path", r.URL.Path, "err", err)
		return nil, false // Accept answered
	}
	ws.SetReadLimit(c.cfg.MaxMessage)
	return ws, true
}

// terminal serves the web terminal of an SSH session.
func (c *Consoles) terminal(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	cols, rows, err := parseTermSize(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	ws, ok := c.accept(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	log := c.cfg.Logger.With("session_id", id, "user", p.User)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t, sess, err := c.openTerminal(ctx, p, id, r.RemoteAddr, cols, rows)
	if err != nil {
		log.Info("web terminal not opened", "err", err)
		closeWith(ws, err)
		return
	}
	c.mu.Lock()
	c.terminals[id] = t
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.terminals[id] == t {
			delete(c.terminals, id)
		}
		c.mu.Unlock()
		t.close()
	}()
	log.Info("web terminal open", "cols", cols, "rows", rows)

	outDone := make(chan struct{})
	stdin, err := sess.StdinPipe()
	if err == nil {
		var stdout io.Reader
		if stdout, err = sess.StdoutPipe(); err == nil {
			sess.Stderr = io.Discard // a PTY merges stderr into stdout
			go func() {
				c.pumpOutput(ctx, ws, stdout)
				close(outDone)
			}()
			err = sess.Shell()
		}
	}
	if err != nil {
		closeWith(ws, fmt.Errorf("start the shell: %w", err))
		return
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	inputDone := make(chan error, 1)
	go func() { inputDone <- c.pumpInput(ctx, ws, stdin, sess) }()

	select {
	case err := <-waited:
		// Let the output still in flight reach the page before the exit.
		select {
		case <-outDone:
		case <-time.After(2 * time.Second):
		}
		msg := TerminalMessage{Type: "exit", Status: exitStatus(err), Message: exitMessage(err)}
		b, _ := json.Marshal(msg)
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		_ = ws.Write(wctx, websocket.MessageText, b)
		wcancel()
		_ = ws.Close(websocket.StatusNormalClosure, "shell ended")
		log.Info("web terminal ended", "status", msg.Status)
	case err := <-inputDone:
		if err != nil {
			log.Info("web terminal input ended", "err", err)
		}
		_ = ws.CloseNow()
	}
}

// openTerminal attaches the session's lead and opens a shell with a PTY.
func (c *Consoles) openTerminal(ctx context.Context, p auth.Principal, id, clientAddr string, cols, rows int) (*terminal, *ssh.Session, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	s, err := c.ownSession(actx, p, id, api.TypeSSH)
	if err != nil {
		return nil, nil, err
	}
	conn, err := c.attachPipe(actx, p, id, api.ChannelData, clientAddr)
	if err != nil {
		return nil, nil, err
	}
	client, err := sshOver(conn, s.Resource, s.Login, c.cfg.ConnectTimeout)
	if err != nil {
		conn.Close()
		return nil, nil, api.Errorf(api.CodeTargetFailed, "ssh to %s: %v", s.Resource, err)
	}
	t := &terminal{user: p.User, client: client}
	sess, err := client.NewSession()
	if err != nil {
		t.close()
		return nil, nil, api.Errorf(api.CodeTargetFailed, "open an SSH session on %s: %v", s.Resource, err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", rows, cols, modes); err != nil {
		t.close()
		return nil, nil, api.Errorf(api.CodeTargetFailed, "request a terminal on %s: %v", s.Resource, err)
	}
	return t, sess, nil
}

// sshOver runs an SSH client over conn. No credentials: control authorised
// the session and the agent logs in to the target itself; its SSH server
// accepts "none". The host key is not checked: conn is control's own
// mutually authenticated stream to the agent serving the resource.
func sshOver(conn net.Conn, resource, login string, timeout time.Duration) (*ssh.Client, error) {
	user := login
	if user == "" {
		user = "onepam"
	}
	cfg := &ssh.ClientConfig{User: user, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: timeout}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	sc, chans, reqs, err := ssh.NewClientConn(conn, resource, cfg)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// pumpOutput sends the shell's output to the browser as binary messages.
func (c *Consoles) pumpOutput(ctx context.Context, ws *websocket.Conn, stdout io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := stdout.Read(buf)
		if n > 0 {
			if werr := ws.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pumpInput relays the browser's messages: binary → stdin, text → control
// messages (resize). It returns when the WebSocket ends (nil for a normal
// close) or sends something it does not understand.
func (c *Consoles) pumpInput(ctx context.Context, ws *websocket.Conn, stdin io.WriteCloser, sess *ssh.Session) error {
	defer stdin.Close()
	for {
		typ, b, err := ws.Read(ctx)
		if err != nil {
			if s := websocket.CloseStatus(err); s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway {
				return nil
			}
			return err
		}
		if typ == websocket.MessageBinary {
			if _, err := stdin.Write(b); err != nil {
				return fmt.Errorf("write to the shell: %w", err)
			}
			continue
		}
		var m TerminalMessage
		if err := json.Unmarshal(b, &m); err != nil {
			closeWith(ws, api.Errorf(api.CodeInvalid, "malformed control message: %v", err))
			return fmt.Errorf("malformed control message: %w", err)
		}
		switch m.Type {
		case "resize":
			if m.Cols < 1 || m.Rows < 1 || m.Cols > maxTermSize || m.Rows > maxTermSize {
				closeWith(ws, api.Errorf(api.CodeInvalid, "resize to %d×%d: want 1..%d each", m.Cols, m.Rows, maxTermSize))
				return errors.New("bad resize")
			}
			if err := sess.WindowChange(m.Rows, m.Cols); err != nil {
				return fmt.Errorf("window change: %w", err)
			}
		default:
			closeWith(ws, api.Errorf(api.CodeInvalid, "unknown control message type %q (want resize)", m.Type))
			return fmt.Errorf("unknown control message %q", m.Type)
		}
	}
}

func exitStatus(err error) int {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitStatus()
	}
	return -1
}

func exitMessage(err error) string {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return "the shell exited"
	case errors.As(err, &ee):
		return fmt.Sprintf("the shell exited with status %d", ee.ExitStatus())
	}
	return "the connection was closed"
}
