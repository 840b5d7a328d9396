package ssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/onepam/onepam/agent/proxy"
)

// osUser is the OS account a built-in target runs as.
type osUser struct {
	name, home, shell string
	uid, gid          uint32
	groups            []uint32
	// switchUser: the agent runs as root and the account is another
	// user, so processes get its credentials.
	switchUser bool
}

// builtin serves the agent host itself: a login shell through a PTY,
// execs, and SFTP on the local filesystem, as one OS user.
type builtin struct {
	p    *Proxy
	info *proxy.SessionInfo
	u    *osUser
	dead chan struct{}

	mu       sync.Mutex
	closed   bool
	sessions map[*builtinSession]struct{}
}

func newBuiltin(p *Proxy, info *proxy.SessionInfo, tc *TargetConfig) (*builtin, error) {
	u, err := lookupOSUser(tc.User)
	if err != nil {
		return nil, err
	}
	if l := info.Open.Login; l != "" && l != u.name {
		return nil, fmt.Errorf("resource %q is the agent host's built-in shell as user %q; login %q is not available", info.Target.Name, u.name, l)
	}
	return &builtin{p: p, info: info, u: u, dead: make(chan struct{}), sessions: map[*builtinSession]struct{}{}}, nil
}

// lookupOSUser finds the account name ("" is the agent's own user) and
// checks the agent may act as it: as root any user; otherwise only its own.
func lookupOSUser(name string) (*osUser, error) {
	self, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("built-in ssh target: who is the agent running as: %w", err)
	}
	if name == "" {
		name = self.Username
	}
	uu, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("built-in ssh target: OS user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(uu.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(uu.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("built-in ssh target: OS user %q has a non-numeric uid or gid", name)
	}
	u := &osUser{name: uu.Username, home: uu.HomeDir, uid: uint32(uid), gid: uint32(gid)}
	euid := os.Geteuid()
	if int(u.uid) != euid {
		if euid != 0 {
			return nil, fmt.Errorf("built-in ssh target: the agent runs as %s (uid %d), not root, so it can only serve its own user: set user: %s (or leave it out), or run the agent as root to serve %q", self.Username, euid, self.Username, name)
		}
		u.switchUser = true
		gids, err := uu.GroupIds()
		if err == nil {
			for _, g := range gids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil {
					u.groups = append(u.groups, uint32(n))
				}
			}
		}
	}
	u.shell = loginShell(u.name)
	return u, nil
}

// loginShell reads the user's shell from /etc/passwd (/bin/sh when it is
// not there or not executable).
func loginShell(name string) string {
	f, err := os.Open("/etc/passwd")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Split(sc.Text(), ":")
			if len(fs) >= 7 && fs[0] == name && fs[6] != "" {
				if st, err := os.Stat(fs[6]); err == nil && st.Mode()&0o111 != 0 {
					return fs[6]
				}
			}
		}
	}
	return "/bin/sh"
}

func (b *builtin) shell() string         { return b.u.shell }
func (b *builtin) done() <-chan struct{} { return b.dead }

func (b *builtin) close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.dead)
	all := make([]*builtinSession, 0, len(b.sessions))
	for s := range b.sessions {
		all = append(all, s)
	}
	b.mu.Unlock()
	for _, s := range all {
		s.kill(syscall.SIGKILL)
	}
	return nil
}

func (b *builtin) forward(ctx context.Context, host string, port uint32, _ []byte) (io.ReadWriteCloser, error) {
	dctx, cancel := context.WithTimeout(ctx, b.p.cfg.DialTimeout)
	defer cancel()
	return b.info.Dial(dctx, "tcp", net.JoinHostPort(host, strconv.FormatUint(uint64(port), 10)))
}

func (b *builtin) openSession(context.Context) (targetSession, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("session is ending")
	}
	s := &builtinSession{b: b}
	b.sessions[s] = struct{}{}
	return s, nil
}

// builtinSession is one session channel served on the agent host.
type builtinSession struct {
	b *builtin

	mu     sync.Mutex
	pty    *ptyRequest
	env    []string
	tty    *os.File   // the PTY master while a process runs on it
	files  []*os.File // the process's streams on our side, closed by close
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	closed bool
}

// acceptedEnv says which variables the person may set (as sshd's default
// AcceptEnv).
func acceptedEnv(name string) bool {
	return name == "LANG" || strings.HasPrefix(name, "LC_") || name == "TZ" || name == "COLORTERM"
}

func (s *builtinSession) request(typ string, _ bool, payload []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch typ {
	case "pty-req":
		var p ptyRequest
		if err := gossh.Unmarshal(payload, &p); err != nil || s.cmd != nil {
			return false, err
		}
		s.pty = &p
		return true, nil
	case "env":
		var e envRequest
		if err := gossh.Unmarshal(payload, &e); err != nil {
			return false, err
		}
		if !acceptedEnv(e.Name) || strings.ContainsRune(e.Value, 0) {
			return false, nil
		}
		s.env = append(s.env, e.Name+"="+e.Value)
		return true, nil
	case "window-change":
		var w windowChange
		if err := gossh.Unmarshal(payload, &w); err != nil {
			return false, err
		}
		if s.tty != nil {
			return setWinsize(s.tty, &unix.Winsize{Col: uint16(w.Cols), Row: uint16(w.Rows), Xpixel: uint16(w.Width), Ypixel: uint16(w.Height)}) == nil, nil
		}
		if s.pty != nil {
			s.pty.Cols, s.pty.Rows = w.Cols, w.Rows
		}
		return true, nil
	case "signal":
		var sr signalRequest
		if err := gossh.Unmarshal(payload, &sr); err != nil {
			return false, err
		}
		sig, ok := signals[sr.Signal]
		if !ok || s.cmd == nil || s.cmd.Process == nil {
			return false, nil
		}
		s.signalLocked(sig)
		return true, nil
	}
	return false, nil
}

// signalLocked signals the process group (the process has its own
// session). s.mu is held.
func (s *builtinSession) signalLocked(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		s.cmd.Process.Signal(sig)
	}
}

func (s *builtinSession) kill(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signalLocked(sig)
}

func (s *builtinSession) environ() []string {
	u := s.b.u
	path := "/usr/local/bin:/usr/bin:/bin"
	if u.uid == 0 {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env := []string{"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name, "SHELL=" + u.shell, "PATH=" + path}
	if s.pty != nil && s.pty.Term != "" {
		env = append(env, "TERM="+s.pty.Term)
	}
	return append(env, s.env...)
}

func (s *builtinSession) start(typ string, payload []byte) (*streams, bool, error) {
	u := s.b.u
	var args []string
	switch typ {
	case "shell":
		args = []string{"-" + filepath.Base(u.shell)} // a login shell
	case "exec":
		var e execRequest
		if err := gossh.Unmarshal(payload, &e); err != nil {
			return nil, false, err
		}
		args = []string{filepath.Base(u.shell), "-c", e.Command}
	default:
		return nil, false, nil // only sftp among subsystems
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.cmd != nil {
		return nil, false, nil
	}
	cmd := &exec.Cmd{Path: u.shell, Args: args, Env: s.environ()}
	if st, err := os.Stat(u.home); err == nil && st.IsDir() {
		cmd.Dir = u.home
	} else {
		cmd.Dir = "/"
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	if u.switchUser {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}
	}
	exit := make(chan exitMsg, 1)
	st := &streams{exit: exit}
	var drain []*os.File
	if s.pty != nil {
		ws := &unix.Winsize{Col: uint16(s.pty.Cols), Row: uint16(s.pty.Rows), Xpixel: uint16(s.pty.Width), Ypixel: uint16(s.pty.Height)}
		if ws.Col == 0 || ws.Row == 0 {
			ws.Col, ws.Row = 80, 24
		}
		tty, err := startOnPTY(cmd, attr, ws)
		if err != nil {
			return nil, false, fmt.Errorf("start %s on a pty: %w", u.shell, err)
		}
		s.tty = tty
		st.stdin = nopCloser{tty} // a terminal has no EOF to send
		st.stdout = eofReader{tty}
		s.files = []*os.File{tty}
		drain = []*os.File{tty}
	} else {
		cmd.SysProcAttr = attr
		inR, inW, err := os.Pipe()
		if err != nil {
			return nil, false, err
		}
		outR, outW, err := os.Pipe()
		if err != nil {
			inR.Close()
			inW.Close()
			return nil, false, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			for _, f := range []*os.File{inR, inW, outR, outW} {
				f.Close()
			}
			return nil, false, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
		err = cmd.Start()
		inR.Close()
		outW.Close()
		errW.Close()
		if err != nil {
			inW.Close()
			outR.Close()
			errR.Close()
			return nil, false, fmt.Errorf("start %s: %w", u.shell, err)
		}
		st.stdin, st.stdout, st.stderr = inW, eofReader{outR}, eofReader{errR}
		s.files = []*os.File{inW, outR, errR}
		drain = []*os.File{outR, errR}
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	go func() {
		err := cmd.Wait()
		close(exited)
		// Output still buffered is read; a background child holding the
		// terminal or pipes open does not keep the channel open.
		for _, f := range drain {
			f.SetReadDeadline(time.Now().Add(s.b.p.cfg.DrainTimeout))
		}
		exit <- exitMessage(cmd.ProcessState, err)
		close(exit)
	}()
	return st, true, nil
}

// exitMessage turns a process's end into exit-status or exit-signal.
func exitMessage(ps *os.ProcessState, err error) exitMsg {
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			name := signalNames[ws.Signal()]
			if name == "" {
				name = "KILL"
			}
			return exitMsg{typ: "exit-signal", payload: gossh.Marshal(exitSignal{Signal: name, CoreDumped: ws.CoreDump()})}
		}
		return exitMsg{typ: "exit-status", payload: gossh.Marshal(exitStatus{Status: uint32(ps.ExitCode())})}
	}
	_ = err
	return exitMsg{typ: "exit-status", payload: gossh.Marshal(exitStatus{Status: 255})}
}

func (s *builtinSession) sftp() (fileSystem, error) {
	return newLocalFS(s.b.u)
}

func (s *builtinSession) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cmd != nil {
		// Hang up like sshd does; a process that ignores it is killed
		// after the drain timeout.
		s.signalLocked(syscall.SIGHUP)
		go func(pid int, exited <-chan struct{}) {
			select {
			case <-exited:
			case <-time.After(s.b.p.cfg.DrainTimeout):
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}(s.cmd.Process.Pid, s.exited)
	}
	for _, f := range s.files {
		f.Close()
	}
	s.b.mu.Lock()
	delete(s.b.sessions, s)
	s.b.mu.Unlock()
	return nil
}

// eofReader reads a pipe or PTY master: the PTY's EIO after the process
// ended, the drain deadline and a closed file are the end of the stream.
type eofReader struct{ f *os.File }

func (r eofReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && (errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed)) {
		err = io.EOF
	}
	return n, err
}

// startOnPTY starts cmd on a new pseudo-terminal of size ws as its
// controlling terminal and returns the master. The master is made
// non-blocking and pollable, so read deadlines work on it (creack/pty's
// own helpers use File.Fd, which makes a file blocking for good).
func startOnPTY(cmd *exec.Cmd, attr *syscall.SysProcAttr, ws *unix.Winsize) (*os.File, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	fd, err := syscall.Dup(int(ptmx.Fd()))
	ptmx.Close()
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := setWinsize(master, ws); err != nil {
		master.Close()
		return nil, err
	}
	attr.Setsid, attr.Setctty, attr.Ctty = true, true, 0 // fd 0 of the child is the terminal
	cmd.SysProcAttr = attr
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	return master, nil
}

// setWinsize sets a terminal's size without File.Fd.
func setWinsize(f *os.File, ws *unix.Winsize) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) { ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	return ierr
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// signals maps SSH signal names (RFC 4254 6.10) to signals.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

var signalNames = func() map[syscall.Signal]string {
	m := map[syscall.Signal]string{}
	for k, v := range signals {
		m[v] = k
	}
	return m
}()
