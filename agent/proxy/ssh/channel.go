package ssh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// channel is one session channel of the person, bound to a session
// channel on the target.
type channel struct {
	s   *session
	ch  gossh.Channel
	ts  targetSession
	log *slog.Logger

	mu       sync.Mutex
	started  bool          // shell, exec or subsystem running
	terminal bool          // its data is recorded (not sftp, not scp)
	done     chan struct{} // closed when the started process is over
}

// sessionChannel serves one "session" channel.
func (s *session) sessionChannel(ctx context.Context, nc gossh.NewChannel, log *slog.Logger) {
	ts, err := s.be.openSession(ctx)
	if err != nil {
		log.Warn("session channel refused", "err", err)
		nc.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		ts.close()
		return
	}
	c := &channel{s: s, ch: ch, ts: ts, log: log, done: make(chan struct{})}
	if !s.addChannel(c) {
		ch.Close()
		ts.close()
		return
	}
	defer s.removeChannel(c)
	c.serve(reqs)
}

// serve handles the channel's requests until the channel closes, then
// ends the target side and waits for the process's streams.
func (c *channel) serve(reqs <-chan *gossh.Request) {
	for req := range reqs {
		c.handle(req)
	}
	c.ts.close()
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if started {
		<-c.done
	}
	c.ch.Close()
}

func (c *channel) handle(req *gossh.Request) {
	reply := func(ok bool) {
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	switch req.Type {
	case "pty-req":
		var p ptyRequest
		if err := gossh.Unmarshal(req.Payload, &p); err != nil {
			reply(false)
			return
		}
		c.s.rec.pty(p.Term, int(p.Cols), int(p.Rows))
		reply(c.pass(req))
	case "window-change":
		var w windowChange
		if err := gossh.Unmarshal(req.Payload, &w); err != nil {
			reply(false)
			return
		}
		if c.isTerminal() {
			c.s.rec.resize(int(w.Cols), int(w.Rows))
		}
		reply(c.pass(req))
	case "env", "signal", "break":
		reply(c.pass(req))
	case "shell", "exec":
		c.startProcess(req)
	case "subsystem":
		var sr subsystemRequest
		if err := gossh.Unmarshal(req.Payload, &sr); err != nil {
			reply(false)
			return
		}
		if sr.Name == "sftp" {
			c.startSFTP(req)
			return
		}
		c.startProcess(req)
	case "auth-agent-req@openssh.com", "x11-req":
		c.log.Info("forwarding refused", "request", req.Type)
		reply(false)
	default:
		reply(false)
	}
}

// pass hands a request to the target and returns its answer.
func (c *channel) pass(req *gossh.Request) bool {
	ok, err := c.ts.request(req.Type, req.WantReply, req.Payload)
	if err != nil {
		c.log.Debug("request to target failed", "request", req.Type, "err", err)
		return false
	}
	return ok
}

func (c *channel) isTerminal() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terminal
}

// claim marks the channel started; false when it already was.
func (c *channel) claim(terminal bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return false
	}
	c.started, c.terminal = true, terminal
	return true
}

// unclaim undoes claim when the start failed.
func (c *channel) unclaim() {
	c.mu.Lock()
	c.started, c.terminal = false, false
	c.mu.Unlock()
}

// startProcess runs shell, exec or a non-sftp subsystem on the target and
// starts carrying its streams.
func (c *channel) startProcess(req *gossh.Request) {
	reply := func(ok bool) {
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	var command string
	if req.Type == "exec" {
		var e execRequest
		if err := gossh.Unmarshal(req.Payload, &e); err != nil {
			reply(false)
			return
		}
		command = e.Command
	}
	sc := parseSCPCommand(command)
	if !c.claim(sc == nil) {
		reply(false)
		return
	}
	if err := c.s.rec.begin(command); err != nil {
		c.unclaim()
		reply(false)
		return
	}
	st, ok, err := c.ts.start(req.Type, req.Payload)
	if err != nil || !ok {
		if err != nil {
			c.log.Warn("start on target failed", "request", req.Type, "err", err)
		}
		c.unclaim()
		reply(false)
		return
	}
	c.log.Info("channel started", "request", req.Type, "command", command)
	reply(true)
	var scp *scpTransfer
	if sc != nil {
		scp = newSCPTransfer(sc, c.s.report)
	}
	go c.pump(st, scp)
}

// pump carries a started process's streams: stdout and stderr to the
// person (recorded as output), the person's input to stdin (recorded as
// input), then EOF, the exit status or signal, and close.
func (c *channel) pump(st *streams, scp *scpTransfer) {
	defer close(c.done)
	rec := c.isTerminal()
	var outRec, inRec func([]byte) error
	if rec {
		outRec, inRec = c.s.rec.output, c.s.rec.input
	}
	var outTap, inTap func([]byte)
	if scp != nil {
		outTap, inTap = scp.fromTarget, scp.toTarget
	}
	var wg sync.WaitGroup
	var broken error
	var bmu sync.Mutex
	fail := func(err error) {
		if err == nil {
			return
		}
		bmu.Lock()
		if broken == nil {
			broken = err
		}
		bmu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		fail(c.copy(c.ch, st.stdout, outRec, outTap))
	}()
	if st.stderr != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail(c.copy(c.ch.Stderr(), st.stderr, outRec, nil))
		}()
	}
	go func() {
		err := c.copy(st.stdin, c.ch, inRec, inTap)
		if errors.Is(err, errRecording) {
			c.ch.Close()
			c.ts.close()
		}
		st.stdin.Close()
	}()
	wg.Wait()
	if errors.Is(broken, errRecording) {
		c.ts.close()
	}
	c.ch.CloseWrite()
	status := -1
	for m := range st.exit {
		if m.typ == "exit-status" {
			var es exitStatus
			if gossh.Unmarshal(m.payload, &es) == nil {
				status = int(es.Status)
			}
		}
		c.ch.SendRequest(m.typ, false, m.payload)
	}
	if scp != nil {
		scp.finish(status)
	}
	c.ch.Close()
}

// errRecording marks a copy stopped because the recording failed.
var errRecording = errors.New("recording failed")

// copy moves bytes from src to dst with a pooled buffer, handing each read
// to tap (scp parsing) and rec (the recording) first. It returns nil at
// EOF.
func (c *channel) copy(dst io.Writer, src io.Reader, rec func([]byte) error, tap func([]byte)) error {
	bp := c.s.p.bufs.Get().(*[]byte)
	defer c.s.p.bufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if tap != nil {
				tap(buf[:n])
			}
			if rec != nil {
				if rerr := rec(buf[:n]); rerr != nil {
					return errors.Join(errRecording, rerr)
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// notify shows msg on a running terminal channel, and records it.
func (c *channel) notify(msg string) {
	if !c.isTerminal() {
		return
	}
	b := []byte("\r\n" + msg + "\r\n")
	c.s.rec.output(b)
	c.ch.Write(b)
}
