package rdp

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/deskrec"
)

// Config configures the RDP proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// DialTimeout bounds every dial to an RDP server. Default 10 s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the connection sequence on each leg (X.224,
	// TLS, NLA, MCS). Default 20 s.
	HandshakeTimeout time.Duration
	// Recording shapes the recording (keyframes, clipboard cap).
	deskrec.Recording
	// CertFile and KeyFile are the PEM certificate and key the agent
	// shows the person's RDP client; empty: a self-signed ECDSA
	// certificate made in memory once per Proxy.
	CertFile, KeyFile string
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 20 * time.Second
	}
	c.Recording = c.Recording.WithDefaults()
	return c
}

// Security modes towards the RDP server.
const (
	SecurityTLS = "tls" // TLS only; the credentials go in the Client Info PDU
	SecurityNLA = "nla" // TLS + CredSSP/NTLMv2 (Windows' default)
)

// TargetConfig is the RDP-specific part of a resource in agent.yaml
// (proxy.Target.Options holds a *TargetConfig for rdp resources):
//
//   - name: win
//     type: rdp
//     address: 10.0.0.9:3389
//     username: alice           # or DOMAIN\alice
//     password: s3cret
//     domain: CORP              # optional
//     security: nla             # nla (default) or tls
//     ignore_cert: false        # true: accept any server certificate
//     ca_file: /etc/onepam/rdp-ca.pem
//     cert_fingerprint: 3f:a2:...  # SHA-256 of the server certificate (DER)
//     clipboard: true           # false: no clipboard (cliprdr withheld)
//     drives: true              # false: no device redirection (rdpdr withheld)
//     debug_dump: /var/lib/onepam/rdp-dump  # write each connection's PDUs there (see dump.go)
//
// With neither ignore_cert, ca_file nor cert_fingerprint the server's
// certificate must chain to the system roots and name the host.
type TargetConfig struct {
	Username        string `yaml:"username"`
	Password        string `yaml:"password"`
	Domain          string `yaml:"domain"`
	Security        string `yaml:"security"`
	IgnoreCert      bool   `yaml:"ignore_cert"`
	CAFile          string `yaml:"ca_file"`
	CertFingerprint string `yaml:"cert_fingerprint"`
	// DisableClipboard withholds the clipboard channel (cliprdr) from
	// the server, DisableDrives the device redirection channel (rdpdr:
	// drives, and with them printers, smart cards and ports): options
	// clipboard and drives set to false/off.
	DisableClipboard bool `yaml:"-"`
	DisableDrives    bool `yaml:"-"`
	// DebugDump is a directory where the agent writes the decrypted PDUs
	// of every connection of the resource, credentials masked, to
	// collect test data from real servers; empty: none.
	DebugDump string `yaml:"debug_dump"`
}

// String redacts the password.
func (c TargetConfig) String() string {
	return fmt.Sprintf("rdp user=%s domain=%s security=%s password_set=%t clipboard=%t drives=%t", c.Username, c.Domain, c.Security, c.Password != "", !c.DisableClipboard, !c.DisableDrives)
}

// GoString redacts the password in %#v.
func (c TargetConfig) GoString() string {
	return fmt.Sprintf("rdp.TargetConfig{Username:%q, Domain:%q, Security:%q, Password:%t}", c.Username, c.Domain, c.Security, c.Password != "")
}

// LogValue redacts the password in logs.
func (c TargetConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", c.Username), slog.String("domain", c.Domain),
		slog.String("security", c.Security), slog.Bool("password_set", c.Password != ""))
}

// Validate checks the settings and fills the defaults (security nla; a
// DOMAIN\user name split into domain and user).
func (c *TargetConfig) Validate() error {
	if d, u, ok := strings.Cut(c.Username, `\`); ok {
		if c.Domain != "" && c.Domain != d {
			return fmt.Errorf("rdp: username %q names domain %q but domain is %q", c.Username, d, c.Domain)
		}
		c.Domain, c.Username = d, u
	}
	switch c.Security {
	case "":
		c.Security = SecurityNLA
	case SecurityTLS, SecurityNLA:
	default:
		return fmt.Errorf("rdp: security %q: want tls or nla", c.Security)
	}
	if c.Security == SecurityNLA && c.Username == "" {
		return fmt.Errorf("rdp: security nla needs a username and password")
	}
	if c.CAFile != "" {
		if _, err := c.caPool(); err != nil {
			return err
		}
	}
	if c.CertFingerprint != "" {
		if _, err := c.fingerprint(); err != nil {
			return err
		}
	}
	return nil
}

func (c *TargetConfig) caPool() (*x509.CertPool, error) {
	b, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("rdp: ca_file: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("rdp: ca_file %s holds no PEM certificate", c.CAFile)
	}
	return p, nil
}

func (c *TargetConfig) fingerprint() ([]byte, error) {
	s := strings.NewReplacer(":", "", " ", "").Replace(strings.TrimPrefix(strings.ToLower(c.CertFingerprint), "sha256:"))
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("rdp: cert_fingerprint %q: want the SHA-256 of the certificate in hex", c.CertFingerprint)
	}
	return b, nil
}

// ParseTargetConfig decodes the RDP fields of one agent.yaml resource
// entry (a mapping node), ignoring the fields every resource has, and
// validates them. Unknown fields are errors.
func ParseTargetConfig(node *yaml.Node) (*TargetConfig, error) {
	cfg := &TargetConfig{}
	if node != nil {
		if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
			node = node.Content[0]
		}
		if node.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("rdp: line %d: a resource must be a mapping", node.Line)
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			var dst any
			switch k.Value {
			case "username":
				dst = &cfg.Username
			case "password":
				dst = &cfg.Password
			case "domain":
				dst = &cfg.Domain
			case "security":
				dst = &cfg.Security
			case "ignore_cert":
				dst = &cfg.IgnoreCert
			case "ca_file":
				dst = &cfg.CAFile
			case "cert_fingerprint":
				dst = &cfg.CertFingerprint
			case "debug_dump":
				dst = &cfg.DebugDump
			case "clipboard", "drives":
				var on bool
				if err := v.Decode(&on); err != nil {
					return nil, fmt.Errorf("rdp: line %d: %s: want true or false", v.Line, k.Value)
				}
				if k.Value == "clipboard" {
					cfg.DisableClipboard = !on
				} else {
					cfg.DisableDrives = !on
				}
				continue
			default:
				if proxy.IsCommonField(k.Value) {
					continue
				}
				return nil, fmt.Errorf("rdp: line %d: unknown field %q (rdp resources take %s)", k.Line, k.Value, optionNames)
			}
			if err := v.Decode(dst); err != nil {
				return nil, fmt.Errorf("rdp: line %d: %s: %w", v.Line, k.Value, err)
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// optionNames lists the RDP options of a resource.
const optionNames = "username, password, domain, security, ignore_cert, ca_file, cert_fingerprint, clipboard, drives, debug_dump"

// parseSwitch reads an on/off URL option.
func parseSwitch(k, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("rdp: URL option %s=%q: want on or off", k, v)
}

// ParseURL reads a resource URL:
// rdp://[DOMAIN%5C]USER:PASSWORD@HOST[:PORT][?security=tls|nla&ignore_cert=true&ca_file=PATH&cert_fingerprint=HEX&domain=D&clipboard=off&drives=off&debug_dump=DIR]
// (port 3389 by default; user info percent-encoded, %5C being the
// backslash).
func ParseURL(u *url.URL) (string, *TargetConfig, error) {
	if u.Scheme != "rdp" {
		return "", nil, fmt.Errorf("rdp: URL scheme %q, want rdp", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", nil, fmt.Errorf("rdp: URL %q has no host (want rdp://USER:PASSWORD@HOST:PORT)", u.Redacted())
	}
	if u.Path != "" && u.Path != "/" {
		return "", nil, fmt.Errorf("rdp: URL %q has a path; RDP resources take none", u.Redacted())
	}
	cfg := &TargetConfig{}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "security":
			cfg.Security = v
		case "domain":
			cfg.Domain = v
		case "ignore_cert":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", nil, fmt.Errorf("rdp: URL option ignore_cert=%q: want true or false", v)
			}
			cfg.IgnoreCert = b
		case "ca_file":
			cfg.CAFile = v
		case "cert_fingerprint":
			cfg.CertFingerprint = v
		case "debug_dump":
			cfg.DebugDump = v
		case "clipboard", "drives":
			on, err := parseSwitch(k, v)
			if err != nil {
				return "", nil, err
			}
			if k == "clipboard" {
				cfg.DisableClipboard = !on
			} else {
				cfg.DisableDrives = !on
			}
		default:
			return "", nil, fmt.Errorf("rdp: unknown URL option %q (known: security, domain, ignore_cert, ca_file, cert_fingerprint, clipboard, drives, debug_dump)", k)
		}
	}
	port := u.Port()
	if port == "" {
		port = "3389"
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, err
	}
	return net.JoinHostPort(u.Hostname(), port), cfg, nil
}
