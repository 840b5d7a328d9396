// Package sshtest runs a private OpenSSH server on a loopback port for
// tests of the SSH proxy (and end-to-end tests): its own host key, a key
// the current user logs in with, internal-sftp. Without /usr/sbin/sshd the
// test is skipped, or fails when CI=true.
package sshtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSHD is a running sshd on 127.0.0.1.
type SSHD struct {
	Addr       string // 127.0.0.1:PORT
	Port       int
	User       string // the current user, who may log in
	KeyFile    string // private key the server accepts for User
	HostKey    string // the server's host key, "ssh-ed25519 AAAA..."
	KnownHosts string // a known_hosts file listing the server
	Dir        string

	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// Binary is the sshd started.
const Binary = "/usr/sbin/sshd"

// Available skips tb (or fails it when CI=true) when sshd or the OpenSSH
// client tools are not installed.
func Available(tb testing.TB) {
	tb.Helper()
	missing := ""
	if _, err := os.Stat(Binary); err != nil {
		missing = Binary
	}
	for _, tool := range []string{"ssh", "sftp", "scp", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil && missing == "" {
			missing = tool
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is not installed (CI=true); ./scripts/test installs openssh-server", missing)
	}
	tb.Skipf("%s is not installed; ./scripts/test installs openssh-server", missing)
}

// Start starts sshd and waits until it accepts connections; it is stopped
// when the test ends.
func Start(tb testing.TB) *SSHD {
	tb.Helper()
	Available(tb)
	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	for _, k := range []string{"host", "client"} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", filepath.Join(dir, k)).CombinedOutput()
		if err != nil {
			tb.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(read("client.pub")+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	port := freePort(tb)
	s := &SSHD{
		Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), User: u.Username,
		KeyFile: filepath.Join(dir, "client"), HostKey: read("host.pub"), Dir: dir,
		KnownHosts: filepath.Join(dir, "known_hosts"), done: make(chan struct{}),
	}
	if err := os.WriteFile(s.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", port, s.HostKey)), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding no
Subsystem sftp internal-sftp
SetEnv SHLVL=1
AcceptEnv LANG LC_*
LogLevel ERROR
`, port, filepath.Join(dir, "host"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.cmd = exec.Command(Binary, "-D", "-e", "-f", cfgFile)
	s.cmd.Stdout, s.cmd.Stderr = (*lockedWriter)(s), (*lockedWriter)(s)
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start sshd: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	tb.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.done:
			tb.Fatalf("sshd exited:\n%s", s.Output())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sshd did not listen on %s:\n%s", s.Addr, s.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output is what sshd logged.
func (s *SSHD) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

type lockedWriter SSHD

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// ClientArgs are ssh/sftp/scp options that log in to this server
// directly, non-interactively (use -P for scp's port).
func (s *SSHD) ClientArgs() []string {
	return []string{"-i", s.KeyFile, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "User=" + s.User}
}

func freePort(tb testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
