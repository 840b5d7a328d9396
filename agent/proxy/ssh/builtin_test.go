package ssh

import (
	"errors"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/pkg/api"
)

func TestBuiltinShell(t *testing.T) {
	h := mustOpen(t, &TargetConfig{Builtin: true}, harnessOpts{})
	s := mustSession(t, h.client())
	if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	s.Stdout = &out
	in, _ := s.StdinPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "echo builtin-$((6*7)) $USER $TERM; tty\n")
	waitFor(t, "shell output", func() bool {
		return strings.Contains(out.String(), "builtin-42") && strings.Contains(out.String(), "/dev/pts/")
	})
	s.WindowChange(50, 132)
	io.WriteString(in, "stty size\n")
	waitFor(t, "new size", func() bool { return strings.Contains(out.String(), "50 132") })
	io.WriteString(in, "exit 4\n")
	var ee *gossh.ExitError
	if err := s.Wait(); !errors.As(err, &ee) || ee.ExitStatus() != 4 {
		t.Fatalf("shell ended with %v, want exit status 4", err)
	}
	me, _ := user.Current()
	hdr, evs := h.cast()
	if env := hdr["env"].(map[string]any); env["TERM"] != "xterm" || env["SHELL"] == "" {
		t.Errorf("header env %v", env)
	}
	if o := joined(evs, "o"); !strings.Contains(o, "builtin-42 "+me.Username+" xterm") {
		t.Errorf("output %q", o)
	}
	if i := joined(evs, "i"); !strings.Contains(i, "stty size\n") {
		t.Errorf("input %q", i)
	}
	if r := joined(evs, "r"); r != "132x50" {
		t.Errorf("resizes %q", r)
	}
}

func TestBuiltinExec(t *testing.T) {
	h := mustOpen(t, &TargetConfig{Builtin: true}, harnessOpts{})
	c := h.client()
	tests := []struct {
		name, cmd, stdin, wantOut, wantErr string
		pty                                bool
		status                             int
	}{
		{name: "exit status and stderr", cmd: "echo out; echo err >&2; exit 3", wantOut: "out\n", wantErr: "err\n", status: 3},
		{name: "stdin to EOF", cmd: "tr a-z A-Z", stdin: "hello", wantOut: "HELLO"},
		{name: "with a pty", cmd: "test -t 0 && echo tty", pty: true, wantOut: "tty\r\n"},
		{name: "environment", cmd: `echo "$HOME|$USER|$SHELL" | grep -c '^/.*|.*|/'`, wantOut: "1\n"},
		{name: "background child does not hold the channel", cmd: "sleep 30 & echo started", wantOut: "started\n"},
		{name: "background child does not hold the terminal", cmd: "sleep 30 & echo started", pty: true, wantOut: "started\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSession(t, c)
			if tt.pty {
				if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
					t.Fatal(err)
				}
			}
			var out, errb syncBuffer
			s.Stdout, s.Stderr, s.Stdin = &out, &errb, strings.NewReader(tt.stdin)
			err := s.Run(tt.cmd)
			var ee *gossh.ExitError
			if tt.status == 0 && err != nil || tt.status != 0 && (!errors.As(err, &ee) || ee.ExitStatus() != tt.status) {
				t.Fatalf("run: %v, want status %d", err, tt.status)
			}
			if out.String() != tt.wantOut || errb.String() != tt.wantErr {
				t.Errorf("stdout %q stderr %q", out.String(), errb.String())
			}
		})
	}
	t.Run("signal", func(t *testing.T) {
		s := mustSession(t, c)
		var out syncBuffer
		s.Stdout = &out
		if err := s.Start("echo ready; exec sleep 30"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "ready", func() bool { return out.String() == "ready\n" })
		s.Signal(gossh.SIGTERM)
		var ee *gossh.ExitError
		if err := s.Wait(); !errors.As(err, &ee) || ee.Signal() != "TERM" {
			t.Fatalf("wait: %v, want signal TERM", err)
		}
	})
}

func TestBuiltinSFTP(t *testing.T) {
	h := mustOpen(t, &TargetConfig{Builtin: true}, harnessOpts{})
	c, err := sftp.NewClient(h.client())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me, _ := user.Current()
	if wd, err := c.Getwd(); err != nil || wd != me.HomeDir {
		t.Errorf("working directory %q %v, want %q", wd, err, me.HomeDir)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	f, err := c.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("built-in sftp"))
	f.Close()
	if b, _ := os.ReadFile(p); string(b) != "built-in sftp" {
		t.Fatalf("file holds %q", b)
	}
	rf, _ := c.Open(p)
	b, _ := io.ReadAll(rf)
	rf.Close()
	c.Mkdir(dir + "/d")
	c.Rename(p, dir+"/d/g.txt")
	c.ReadDir(dir + "/d")
	c.Chmod(dir+"/d/g.txt", 0o600)
	c.Symlink(dir+"/d/g.txt", dir+"/d/l")
	c.Remove(dir + "/d/l")
	c.Remove(dir + "/d/g.txt")
	c.RemoveDirectory(dir + "/d")
	if string(b) != "built-in sftp" {
		t.Fatalf("read back %q", b)
	}
	for _, w := range []api.FileEvent{
		{Op: api.FileOpUpload, Path: p, Bytes: 13},
		{Op: api.FileOpDownload, Path: p, Bytes: 13},
		{Op: api.FileOpMkdir, Path: dir + "/d"},
		{Op: api.FileOpRename, Path: p, Path2: dir + "/d/g.txt"},
		{Op: api.FileOpList, Path: dir + "/d"},
		{Op: api.FileOpSetstat, Path: dir + "/d/g.txt"},
		{Op: api.FileOpSymlink, Path: dir + "/d/l", Path2: dir + "/d/g.txt"},
		{Op: api.FileOpDelete, Path: dir + "/d/l"},
		{Op: api.FileOpDelete, Path: dir + "/d/g.txt"},
		{Op: api.FileOpRmdir, Path: dir + "/d"},
	} {
		w.Protocol, w.Result = "sftp", "ok"
		h.waitEvent(w)
	}
	if _, err := os.Stat(dir + "/d"); !os.IsNotExist(err) {
		t.Errorf("directory still there: %v", err)
	}
	if err := c.Remove(dir + "/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("remove missing: %v", err)
	}
	h.waitEvent(api.FileEvent{Op: api.FileOpDelete, Path: dir + "/missing", Result: "error"})
}

// TestBuiltinOtherUser runs the built-in target as another OS user, which
// needs the agent to run as root.
func TestBuiltinOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		_, err := openSession(t, &TargetConfig{Builtin: true, User: "root"}, harnessOpts{})
		if err == nil || !strings.Contains(err.Error(), "can only serve its own user") {
			t.Fatalf("open as root from a non-root agent: %v", err)
		}
		return
	}
	other := otherLoginUser()
	if other == nil {
		// scripts/test installs PostgreSQL, whose postgres user has a login shell.
		if os.Getenv("CI") == "true" {
			t.Fatal("no non-root user with a login shell on this host (CI=true: a missing peer is a failure)")
		}
		t.Skip("no non-root user with a login shell on this host (a failure when CI=true)")
	}
	h := mustOpen(t, &TargetConfig{Builtin: true, User: other.Username}, harnessOpts{login: other.Username})
	c := h.client()
	out, err := mustSession(t, c).Output("id -un")
	if err != nil || string(out) != other.Username+"\n" {
		t.Fatalf("id: %q %v", out, err)
	}
	// SFTP has nobody's file access, not the agent's.
	root := t.TempDir() // 0700, owned by root
	parent := t.TempDir()
	os.Chmod(parent, 0o755)
	os.Chmod(filepath.Dir(parent), 0o755) // t.TempDir's own parent
	open := filepath.Join(parent, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Create(root + "/x"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("create in root's directory: %v, want permission denied", err)
	}
	h.waitEvent(api.FileEvent{Op: api.FileOpUpload, Path: root + "/x", Result: "error"})
	f, err := sc.Create(open + "/y")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hi"))
	f.Close()
	st, err := os.Stat(open + "/y")
	if err != nil {
		t.Fatal(err)
	}
	if owner := fileOwner(st); owner != other.Uid {
		t.Errorf("file owned by uid %s, want %s (%s)", owner, other.Username, other.Uid)
	}
	if _, err := openSession(t, &TargetConfig{Builtin: true, User: other.Username}, harnessOpts{login: "root"}); err == nil || !strings.Contains(err.Error(), `login "root" is not available`) {
		t.Errorf("other login: %v", err)
	}
}

// otherLoginUser finds a non-root account whose login shell runs commands.
func otherLoginUser() *user.User {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || f[2] == "0" || strings.HasSuffix(f[6], "nologin") || strings.HasSuffix(f[6], "false") || strings.HasSuffix(f[6], "sync") || f[6] == "" {
			continue
		}
		if u, err := user.Lookup(f[0]); err == nil {
			return u
		}
	}
	return nil
}
