package ssh

import (
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/agent/proxy/ssh/sshtest"
	"github.com/onepam/onepam/pkg/api"
)

func TestShellRecorded(t *testing.T) {
	d := sshtest.Start(t)
	h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr})
	sess, err := h.client().NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{gossh.ECHO: 1}); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	sess.Stdout, sess.Stderr = &out, &out
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "echo marker-$((6*7))\n")
	waitFor(t, "shell output", func() bool { return strings.Contains(out.String(), "marker-42") })
	if err := sess.WindowChange(40, 100); err != nil {
		t.Fatal(err)
	}
	// The window change (a channel request) and the next keystrokes
	// (channel data) reach the proxy in order but are relayed by two
	// goroutines (x/crypto/ssh hands requests and data over separately),
	// so the shell may run one "stty size" before the pty has the new
	// size: ask again until it shows.
	asked := time.Time{}
	waitFor(t, "new size", func() bool {
		if time.Since(asked) > 250*time.Millisecond {
			io.WriteString(in, "stty size\n")
			asked = time.Now()
		}
		return strings.Contains(out.String(), "40 100")
	})
	io.WriteString(in, "exit 0\n")
	if err := sess.Wait(); err != nil {
		t.Fatalf("shell: %v", err)
	}
	hdr, evs := h.cast()
	if hdr["width"].(float64) != 80 || hdr["height"].(float64) != 24 || hdr["env"].(map[string]any)["TERM"] != "xterm-256color" || hdr["onepam"].(map[string]any)["session_id"] != h.open.SessionID {
		t.Errorf("header %v", hdr)
	}
	if o := joined(evs, "o"); !strings.Contains(o, "marker-42") || !strings.Contains(o, "40 100") {
		t.Errorf("output not recorded: %q", o)
	}
	if i := joined(evs, "i"); !strings.Contains(i, "echo marker-$((6*7))\n") || !strings.Contains(i, "stty size\n") {
		t.Errorf("input not recorded: %q", i)
	}
	if r := joined(evs, "r"); r != "100x40" {
		t.Errorf("resizes %q", r)
	}
}

func TestExec(t *testing.T) {
	d := sshtest.Start(t)
	h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr})
	c := h.client()
	tests := []struct {
		name, cmd, stdin, wantOut, wantErr string
		status                             int
	}{
		{name: "exit status", cmd: "echo out; echo err >&2; exit 3", wantOut: "out\n", wantErr: "err\n", status: 3},
		{name: "stdin EOF", cmd: "wc -c", stdin: "12345", wantOut: "5\n"},
		{name: "signal", cmd: "kill -TERM $$", status: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			var out, errb syncBuffer
			s.Stdout, s.Stderr, s.Stdin = &out, &errb, strings.NewReader(tt.stdin)
			err = s.Run(tt.cmd)
			var ee *gossh.ExitError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("run: %v", err)
			case tt.status > 0 && (!errors.As(err, &ee) || ee.ExitStatus() != tt.status):
				t.Fatalf("run: %v, want exit status %d", err, tt.status)
			case tt.status < 0 && (!errors.As(err, &ee) || ee.Signal() != "TERM"):
				t.Fatalf("run: %v, want signal TERM", err)
			}
			if out.String() != tt.wantOut || errb.String() != tt.wantErr {
				t.Errorf("stdout %q stderr %q", out.String(), errb.String())
			}
		})
	}
	_, evs := h.cast()
	if o := joined(evs, "o"); !strings.Contains(o, "out\n") || !strings.Contains(o, "err\n") {
		t.Errorf("exec output not recorded: %q", o)
	}
	if i := joined(evs, "i"); !strings.Contains(i, "12345") {
		t.Errorf("exec input not recorded: %q", i)
	}
}

func TestStdinRoundTrip(t *testing.T) {
	d := sshtest.Start(t)
	h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr, discardRec: true})
	s, err := h.client().NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	outp, _ := s.StdoutPipe()
	if err := s.Start("cat"); err != nil {
		t.Fatal(err)
	}
	const size = 100 << 20
	sent := make(chan [32]byte, 1)
	go func() {
		hs := sha256.New()
		r := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 256<<10)
		for n := 0; n < size; n += len(buf) {
			for i := 0; i < len(buf); i += 8 {
				v := r.Uint64()
				for j := 0; j < 8; j++ {
					buf[i+j] = byte(v >> (8 * j))
				}
			}
			hs.Write(buf)
			if _, err := in.Write(buf); err != nil {
				break
			}
		}
		in.Close()
		sent <- [32]byte(hs.Sum(nil))
	}()
	hr := sha256.New()
	n, err := io.Copy(hr, outp)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("cat: %v", err)
	}
	if want := <-sent; n != size || [32]byte(hr.Sum(nil)) != want {
		t.Fatalf("got %d bytes, checksum equal %v", n, [32]byte(hr.Sum(nil)) == want)
	}
	h.sess.Close()
	if h.rec.n < 2*size {
		t.Errorf("recording holds %d bytes for %d each way", h.rec.n, size)
	}
}

func TestSFTPBatch(t *testing.T) {
	d := sshtest.Start(t)
	h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr})
	port := h.listen()
	dir := t.TempDir()
	local := filepath.Join(dir, "local.bin")
	payload := make([]byte, 300_001)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	os.WriteFile(local, payload, 0o644)
	remote := filepath.Join(dir, "remote")
	batch := strings.Join([]string{
		"mkdir " + remote,
		"put " + local + " " + remote + "/up.bin",
		"get " + remote + "/up.bin " + dir + "/back.bin",
		"rename " + remote + "/up.bin " + remote + "/moved.bin",
		"ls " + remote,
		"chmod 600 " + remote + "/moved.bin",
		"symlink " + remote + "/moved.bin " + remote + "/link",
		"rm " + remote + "/link",
		"rm " + remote + "/moved.bin",
		"rmdir " + remote,
	}, "\n") + "\n"
	bf := filepath.Join(dir, "batch")
	os.WriteFile(bf, []byte(batch), 0o644)
	openssh(t, "sftp", port, "-b", bf, "127.0.0.1")
	if b, _ := os.ReadFile(filepath.Join(dir, "back.bin")); string(b) != string(payload) {
		t.Fatalf("downloaded %d bytes, want the %d uploaded", len(b), len(payload))
	}
	n := int64(len(payload))
	for _, want := range []api.FileEvent{
		{Op: api.FileOpMkdir, Path: remote, Bytes: 0},
		{Op: api.FileOpUpload, Path: remote + "/up.bin", Bytes: n},
		{Op: api.FileOpDownload, Path: remote + "/up.bin", Bytes: n},
		{Op: api.FileOpRename, Path: remote + "/up.bin", Path2: remote + "/moved.bin", Bytes: 0},
		{Op: api.FileOpList, Path: remote, Bytes: 0},
		{Op: api.FileOpSetstat, Path: remote + "/moved.bin", Bytes: 0},
		{Op: api.FileOpSymlink, Path: remote + "/link", Path2: remote + "/moved.bin", Bytes: 0},
		{Op: api.FileOpDelete, Path: remote + "/link", Bytes: 0},
		{Op: api.FileOpDelete, Path: remote + "/moved.bin", Bytes: 0},
		{Op: api.FileOpRmdir, Path: remote, Bytes: 0},
	} {
		want.Protocol, want.Result = "sftp", "ok"
		ev := h.waitEvent(want)
		if ev.SessionID != h.open.SessionID || ev.Time.IsZero() {
			t.Errorf("event %+v", ev)
		}
	}
	// An error from the target reaches the client with its status code
	// and is reported.
	c, err := sftp.NewClient(h.client())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open missing: %v, want not exist", err)
	}
	h.waitEvent(api.FileEvent{Op: api.FileOpDownload, Path: filepath.Join(dir, "missing"), Bytes: 0, Result: "error"})
	if err := c.Mkdir(filepath.Join(dir, "nodir", "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mkdir in missing dir: %v", err)
	}
	if err := c.RemoveDirectory(dir); err == nil {
		t.Errorf("rmdir of a non-empty directory succeeded")
	}
	h.waitEvent(api.FileEvent{Op: api.FileOpRmdir, Path: dir, Result: "error"})
}

func TestSCP(t *testing.T) {
	d := sshtest.Start(t)
	h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr})
	port := h.listen()
	dir := t.TempDir()
	local := filepath.Join(dir, "local.txt")
	os.WriteFile(local, []byte(strings.Repeat("scp data\n", 1000)), 0o644)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
	os.WriteFile(filepath.Join(tree, "sub", "f"), []byte("12345"), 0o644)
	tests := []struct {
		name string
		args []string
		want []api.FileEvent
	}{
		{name: "sftp mode upload", args: []string{local, "127.0.0.1:" + dir + "/s1.txt"},
			want: []api.FileEvent{{Protocol: "sftp", Op: api.FileOpUpload, Path: dir + "/s1.txt", Bytes: 9000}}},
		{name: "sftp mode download", args: []string{"127.0.0.1:" + dir + "/s1.txt", dir + "/s1.back"},
			want: []api.FileEvent{{Protocol: "sftp", Op: api.FileOpDownload, Path: dir + "/s1.txt", Bytes: 9000}}},
		{name: "legacy upload", args: []string{"-O", local, "127.0.0.1:" + dir + "/o1.txt"},
			want: []api.FileEvent{{Protocol: "scp", Op: api.FileOpUpload, Path: dir + "/o1.txt", Bytes: 9000}}},
		{name: "legacy download", args: []string{"-O", "127.0.0.1:" + dir + "/o1.txt", dir + "/o1.back"},
			want: []api.FileEvent{{Protocol: "scp", Op: api.FileOpDownload, Path: dir + "/o1.txt", Bytes: 9000}}},
		{name: "legacy recursive upload", args: []string{"-O", "-r", tree, "127.0.0.1:" + dir + "/copy"},
			want: []api.FileEvent{{Protocol: "scp", Op: api.FileOpUpload, Path: dir + "/copy/tree/sub/f", Bytes: 5}}},
		{name: "legacy recursive download", args: []string{"-O", "-r", "127.0.0.1:" + tree, dir + "/down"},
			want: []api.FileEvent{{Protocol: "scp", Op: api.FileOpDownload, Path: tree + "/sub/f", Bytes: 5}}},
	}
	os.MkdirAll(dir+"/copy", 0o755)
	os.MkdirAll(dir+"/down", 0o755)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			openssh(t, "scp", port, tt.args...)
			for _, w := range tt.want {
				w.Result = "ok"
				h.waitEvent(w)
			}
		})
	}
}

func TestOpenSSHShellExec(t *testing.T) {
	d := sshtest.Start(t)
	h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr})
	port := h.listen()
	out := openssh(t, "ssh", port, "127.0.0.1", "echo via-openssh; whoami")
	if !strings.Contains(out, "via-openssh\n"+d.User) {
		t.Fatalf("output %q", out)
	}
}

func TestOpenErrors(t *testing.T) {
	d := sshtest.Start(t)
	other := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID+syd0Pd0Eh4oS+MGedy0LSC1ntKkEatMDFZTMFVcdr"
	emptyKH := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(emptyKH, nil, 0o600)
	tests := []struct {
		name    string
		tc      *TargetConfig
		login   string
		wantErr string
	}{
		{name: "pinned key mismatch", tc: &TargetConfig{Logins: map[string]LoginConfig{d.User: {KeyFile: d.KeyFile}}, HostKey: other},
			wantErr: "target host key mismatch for " + d.Addr},
		{name: "not in known_hosts", tc: &TargetConfig{Logins: map[string]LoginConfig{d.User: {KeyFile: d.KeyFile}}, KnownHosts: emptyKH},
			wantErr: "target host key mismatch for " + d.Addr},
		{name: "wrong password", tc: &TargetConfig{Logins: map[string]LoginConfig{d.User: {Password: "wrong"}}, HostKey: d.HostKey},
			wantErr: "unable to authenticate"},
		{name: "unknown login", tc: remoteTarget(d), login: "mallory", wantErr: `login "mallory" is not configured`},
		{name: "no host key check", tc: &TargetConfig{Logins: map[string]LoginConfig{d.User: {KeyFile: d.KeyFile}}}, wantErr: "cannot be verified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			login := tt.login
			if login == "" {
				login = d.User
			}
			_, err := openSession(t, tt.tc, harnessOpts{login: login, address: d.Addr})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("open: %v, want %q", err, tt.wantErr)
			}
		})
	}
	t.Run("pinned key matches", func(t *testing.T) {
		tc := &TargetConfig{Logins: map[string]LoginConfig{d.User: {KeyFile: d.KeyFile}}, HostKey: d.HostKey}
		h := mustOpen(t, tc, harnessOpts{login: d.User, address: d.Addr})
		out, err := mustSession(t, h.client()).Output("echo ok")
		if err != nil || string(out) != "ok\n" {
			t.Fatalf("%q %v", out, err)
		}
	})
}

func mustSession(t *testing.T, c *gossh.Client) *gossh.Session {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForwardingRules(t *testing.T) {
	d := sshtest.Start(t)
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	t.Run("refused by default", func(t *testing.T) {
		h := mustOpen(t, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr})
		c := h.client()
		if _, err := c.Dial("tcp", echo.Addr().String()); err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Fatalf("direct-tcpip: %v, want refused", err)
		}
		s := mustSession(t, c)
		if ok, err := s.SendRequest("auth-agent-req@openssh.com", true, nil); ok || err != nil {
			t.Errorf("agent forwarding: %v %v, want refused", ok, err)
		}
		if ok, err := s.SendRequest("x11-req", true, gossh.Marshal(struct {
			Single        bool
			Proto, Cookie string
			Screen        uint32
		}{false, "MIT-MAGIC-COOKIE-1", "00", 0})); ok || err != nil {
			t.Errorf("x11: %v %v, want refused", ok, err)
		}
		if ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil); ok || err != nil {
			t.Errorf("keepalive: %v %v", ok, err)
		}
		if ok, _, err := c.SendRequest("tcpip-forward", true, gossh.Marshal(struct {
			Addr string
			Port uint32
		}{"127.0.0.1", 0})); ok || err != nil {
			t.Errorf("remote forwarding: %v %v, want refused", ok, err)
		}
		if out, err := s.Output("echo still-fine"); err != nil || string(out) != "still-fine\n" {
			t.Errorf("session after refusals: %q %v", out, err)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		tc := remoteTarget(d)
		tc.AllowPortForwarding = true
		h := mustOpen(t, tc, harnessOpts{login: d.User, address: d.Addr})
		conn, err := h.client().Dial("tcp", echo.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo through the forward: %q %v", buf, err)
		}
		conn.Close()
	})
}

func TestHostKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "ssh_host_ed25519_key")
	s1, err := loadOrCreateHostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	s2, err := loadOrCreateHostKey(path)
	if err != nil || string(s1.PublicKey().Marshal()) != string(s2.PublicKey().Marshal()) || s1.PublicKey().Type() != "ssh-ed25519" {
		t.Fatalf("reloaded key differs: %v", err)
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if _, err := loadOrCreateHostKey(path); err == nil {
		t.Fatal("garbage key accepted")
	}
}
