package e2etest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"
)

// SSHD is a private OpenSSH server on a free loopback port, accepting the
// current user with a key made for it.
type SSHD struct {
	*Proc
	Port    int
	User    string
	KeyFile string // private key accepted by the server
	Dir     string
}

// StartSSHD starts /usr/sbin/sshd with its own host key, config and pid file.
func StartSSHD(tb testing.TB) *SSHD {
	tb.Helper()
	bin := "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("sshd is not installed (CI=true); ./scripts/test installs openssh-server")
		}
		tb.Skip("sshd is not installed; ./scripts/test installs openssh-server")
	}
	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	_ = os.MkdirAll("/run/sshd", 0o755)
	for _, k := range []string{"host", "client"} {
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput()
		if err != nil {
			tb.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &SSHD{Port: FreePort(tb), User: u.Username, KeyFile: filepath.Join(dir, "client"), Dir: dir}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PasswordAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
Subsystem sftp internal-sftp
SetEnv SHLVL=1
LogLevel ERROR
`, s.Port, filepath.Join(dir, "host"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.Proc = Start(tb, "sshd", nil, bin, "-D", "-e", "-f", cfgFile)
	WaitFor(tb, 10*time.Second, "sshd to listen", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
		if err == nil {
			c.Close()
			return true
		}
		return s.Exited()
	})
	if s.Exited() {
		tb.Fatalf("sshd exited:\n%s", s.Output())
	}
	return s
}

// ClientArgs are the ssh options that reach this server non-interactively.
func (s *SSHD) ClientArgs() []string {
	return []string{"-i", s.KeyFile, "-p", fmt.Sprint(s.Port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-l", s.User}
}

// Forward starts `ssh -N -L localPort:target` through this server and waits
// until the local port accepts connections.
func (s *SSHD) Forward(tb testing.TB, target string) (localAddr string, p *Proc) {
	tb.Helper()
	port := FreePort(tb)
	args := append(s.ClientArgs(), "-N", "-o", "ExitOnForwardFailure=yes",
		"-L", fmt.Sprintf("127.0.0.1:%d:%s", port, target), "127.0.0.1")
	p = Start(tb, "ssh-L", nil, "ssh", args...)
	localAddr = fmt.Sprintf("127.0.0.1:%d", port)
	WaitFor(tb, 15*time.Second, "ssh -L to listen", func() bool {
		c, err := net.Dial("tcp", localAddr)
		if err == nil {
			c.Close()
			return true
		}
		return p.Exited()
	})
	if p.Exited() {
		tb.Fatalf("ssh -L exited:\n%s", p.Output())
	}
	return localAddr, p
}
