package vnc

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/deskrec"
	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
)

// Config configures the VNC proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// DialTimeout bounds every dial to a VNC server. Default 10 s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the RFB handshake with the server and with
	// the viewer. Default 15 s.
	HandshakeTimeout time.Duration
	// Recording shapes the recording (keyframes, clipboard cap).
	deskrec.Recording
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 15 * time.Second
	}
	c.Recording = c.Recording.WithDefaults()
	return c
}

// TargetConfig is the VNC-specific part of a resource in agent.yaml
// (proxy.Target.Options holds a *TargetConfig for vnc resources):
//
//   - name: desktop
//     type: vnc
//     address: 10.0.0.7:5901
//     password: s3cret                   # VNC Authentication, or:
//     password_file: /etc/onepam/vnc.pw  # a text file (first line) or a vncpasswd file
//
// Without a password the server must offer security type None. VNC
// passwords are at most 8 bytes: longer ones are cut, as every VNC server
// does.
type TargetConfig struct {
	// Password is the VNC Authentication password.
	Password string `yaml:"password"`
	// PasswordFile holds the password: the first line of a text file, or
	// a binary vncpasswd file. It is read at every session, so it can be
	// rotated without restarting the agent.
	PasswordFile string `yaml:"password_file"`
}

// String redacts the password.
func (c TargetConfig) String() string {
	switch {
	case c.Password != "":
		return "password:<redacted>"
	case c.PasswordFile != "":
		return "password_file:" + c.PasswordFile
	}
	return "no password"
}

// GoString redacts the password in %#v.
func (c TargetConfig) GoString() string {
	return fmt.Sprintf("vnc.TargetConfig{Password:%t, PasswordFile:%q}", c.Password != "", c.PasswordFile)
}

// LogValue redacts the password in logs.
func (c TargetConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("password_set", c.Password != ""), slog.String("password_file", c.PasswordFile))
}

// Validate checks the settings.
func (c *TargetConfig) Validate() error {
	if c.Password != "" && c.PasswordFile != "" {
		return fmt.Errorf("vnc: give password or password_file, not both")
	}
	if c.PasswordFile != "" {
		if _, err := c.password(); err != nil {
			return err
		}
	}
	return nil
}

// password returns the configured password ("" for none).
func (c *TargetConfig) password() (string, error) {
	if c == nil {
		return "", nil
	}
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("vnc: password_file: %w", err)
	}
	if (len(b) == 8 || len(b) == 16) && !printable(b) {
		return rfb.DecodePasswordFile(b)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	pw := strings.TrimRight(string(line), "\r")
	if pw == "" {
		return "", fmt.Errorf("vnc: password_file %s: the first line is empty", c.PasswordFile)
	}
	return pw, nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// ParseTargetConfig decodes the VNC fields of one agent.yaml resource
// entry (a mapping node), ignoring the fields every resource has, and
// validates them. Unknown fields are errors.
func ParseTargetConfig(node *yaml.Node) (*TargetConfig, error) {
	cfg := &TargetConfig{}
	if node == nil {
		return cfg, nil
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("vnc: line %d: a resource must be a mapping", node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		switch {
		case proxy.IsCommonField(k.Value):
		case k.Value == "password":
			if err := v.Decode(&cfg.Password); err != nil {
				return nil, fmt.Errorf("vnc: line %d: password: %w", v.Line, err)
			}
		case k.Value == "password_file":
			if err := v.Decode(&cfg.PasswordFile); err != nil {
				return nil, fmt.Errorf("vnc: line %d: password_file: %w", v.Line, err)
			}
		default:
			return nil, fmt.Errorf("vnc: line %d: unknown field %q (vnc resources take password or password_file)", k.Line, k.Value)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseURL reads a resource URL: vnc://[:PASSWORD@]HOST[:PORT] (port 5900
// by default; the password is percent-encoded) or
// vnc://HOST[:PORT]?password_file=PATH.
func ParseURL(u *url.URL) (string, *TargetConfig, error) {
	if u.Scheme != "vnc" {
		return "", nil, fmt.Errorf("vnc: URL scheme %q, want vnc", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", nil, fmt.Errorf("vnc: URL %q has no host (want vnc://:PASSWORD@HOST:PORT)", u.Redacted())
	}
	if u.Path != "" && u.Path != "/" {
		return "", nil, fmt.Errorf("vnc: URL %q has a path; VNC resources take none", u.Redacted())
	}
	cfg := &TargetConfig{}
	if u.User != nil {
		if u.User.Username() != "" {
			return "", nil, fmt.Errorf("vnc: URL %q has a user name; VNC has none: write vnc://:PASSWORD@HOST:PORT", u.Redacted())
		}
		cfg.Password, _ = u.User.Password()
	}
	for k, vs := range u.Query() {
		switch k {
		case "password_file":
			cfg.PasswordFile = vs[len(vs)-1]
		default:
			return "", nil, fmt.Errorf("vnc: unknown URL option %q (known: password_file)", k)
		}
	}
	port := u.Port()
	if port == "" {
		port = "5900"
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, err
	}
	return net.JoinHostPort(u.Hostname(), port), cfg, nil
}
