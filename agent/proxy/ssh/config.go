package ssh

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// LoginConfig is how the agent logs in to the target as one login. Exactly
// one of KeyFile and Password is set. It never leaves the agent.
type LoginConfig struct {
	// KeyFile is an unencrypted private key file (OpenSSH or PEM format).
	KeyFile string
	// Password is used for the password and keyboard-interactive methods.
	Password string
}

// String redacts the password.
func (l LoginConfig) String() string {
	if l.Password != "" {
		return "password:<redacted>"
	}
	return "key_file:" + l.KeyFile
}

// GoString redacts the password in %#v.
func (l LoginConfig) GoString() string {
	return fmt.Sprintf("ssh.LoginConfig{KeyFile:%q, Password:%t}", l.KeyFile, l.Password != "")
}

// LogValue redacts the password in logs.
func (l LoginConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_file", l.KeyFile), slog.Bool("password_set", l.Password != ""))
}

func (l LoginConfig) check() error {
	switch {
	case l.KeyFile != "" && l.Password != "":
		return errors.New("give key_file or password, not both")
	case l.KeyFile == "" && l.Password == "":
		return errors.New("give key_file or password")
	}
	return nil
}

// TargetConfig is the SSH-specific part of a resource in agent.yaml
// (proxy.Target.Options holds a *TargetConfig for ssh resources):
//
//   - name: web
//     type: ssh
//     address: 10.0.0.5:22
//     logins:                          # credentials per login
//     root: {key_file: /etc/onepam/keys/root}
//     deploy: {password: s3cret}
//     default_login: {key_file: /etc/onepam/keys/any}  # any other login
//     host_key: "ssh-ed25519 AAAA..."  # or known_hosts: /etc/onepam/known_hosts
//     insecure_ignore_host_key: false  # only for labs; never the default
//     allow_port_forwarding: false     # direct-tcpip channels
//   - name: here
//     type: ssh
//     builtin: true                    # no sshd: the agent host's own shell
//     user: deploy                     # OS user (default: the agent's user)
type TargetConfig struct {
	// Builtin serves the agent host itself (no sshd, no address).
	Builtin bool
	// User is the OS user of a built-in target; "" is the agent's user.
	User string
	// Logins maps a login to its credentials.
	Logins map[string]LoginConfig
	// DefaultLogin, when set, holds the credentials of logins not in Logins.
	DefaultLogin *LoginConfig
	// HostKey pins the target's host key ("ssh-ed25519 AAAA..." in
	// authorized_keys format).
	HostKey string
	// KnownHosts is an OpenSSH known_hosts file that lists the target.
	KnownHosts string
	// InsecureIgnoreHostKey accepts any target host key. It must be set
	// explicitly: without HostKey or KnownHosts the resource is refused.
	InsecureIgnoreHostKey bool
	// AllowPortForwarding allows direct-tcpip channels (ssh -L).
	AllowPortForwarding bool
}

// Validate checks the configuration of the resource called name.
func (c *TargetConfig) Validate(name string) error {
	if c.Builtin {
		if len(c.Logins) > 0 || c.DefaultLogin != nil || c.HostKey != "" || c.KnownHosts != "" || c.InsecureIgnoreHostKey {
			return fmt.Errorf("resource %q: a built-in ssh target takes no logins, host_key or known_hosts (it runs as user %q on the agent host)", name, c.User)
		}
		return nil
	}
	if c.User != "" {
		return fmt.Errorf("resource %q: user is for built-in targets; give logins for an ssh server", name)
	}
	if len(c.Logins) == 0 && c.DefaultLogin == nil {
		return fmt.Errorf("resource %q: no credentials: give logins (e.g. logins: {root: {key_file: PATH}}) or default_login", name)
	}
	for _, login := range sortedKeys(c.Logins) {
		if login == "" {
			return fmt.Errorf("resource %q: a login has no name", name)
		}
		if err := c.Logins[login].check(); err != nil {
			return fmt.Errorf("resource %q: login %q: %v", name, login, err)
		}
	}
	if c.DefaultLogin != nil {
		if err := c.DefaultLogin.check(); err != nil {
			return fmt.Errorf("resource %q: default_login: %v", name, err)
		}
	}
	if c.HostKey != "" && c.KnownHosts != "" {
		return fmt.Errorf("resource %q: give host_key or known_hosts, not both", name)
	}
	if c.HostKey != "" {
		if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(c.HostKey)); err != nil {
			return fmt.Errorf("resource %q: host_key %q is not a public key like \"ssh-ed25519 AAAA...\": %v", name, c.HostKey, err)
		}
	}
	if c.KnownHosts != "" {
		if _, err := os.Stat(c.KnownHosts); err != nil {
			return fmt.Errorf("resource %q: known_hosts: %w", name, err)
		}
	}
	if c.HostKey == "" && c.KnownHosts == "" && !c.InsecureIgnoreHostKey {
		return fmt.Errorf("resource %q: the target's host key cannot be verified: give host_key (\"ssh-ed25519 AAAA...\", see ssh-keyscan) or known_hosts (a file path), or set insecure_ignore_host_key: true to accept any key", name)
	}
	return nil
}

// credentials returns the credentials of login.
func (c *TargetConfig) credentials(login string) (LoginConfig, error) {
	if l, ok := c.Logins[login]; ok {
		return l, nil
	}
	if c.DefaultLogin != nil {
		return *c.DefaultLogin, nil
	}
	return LoginConfig{}, fmt.Errorf("login %q is not configured on this resource (configured: %s)", login, strings.Join(sortedKeys(c.Logins), ", "))
}

// login picks the login of a session: the one asked for, or the only
// configured one when none was asked for.
func (c *TargetConfig) login(asked string) (string, error) {
	if asked != "" {
		return asked, nil
	}
	if len(c.Logins) == 1 {
		for l := range c.Logins {
			return l, nil
		}
	}
	return "", errors.New("no login given: connect as LOGIN@RESOURCE")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
