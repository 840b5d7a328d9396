package postgres

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/dbcred"
)

// SSL modes towards the database server.
const (
	SSLDisable    = "disable"     // plain TCP
	SSLRequire    = "require"     // TLS, server certificate not verified
	SSLVerifyFull = "verify-full" // TLS, certificate verified against CAFile (or the system roots) and the host name
)

// DefaultPort is PostgreSQL's port, used when an address or URL has none.
const DefaultPort = "5432"

// UserConfig holds the credentials of one database user.
type UserConfig struct {
	// Password is used for SCRAM-SHA-256, md5 or cleartext
	// authentication; "" when the server does not ask (trust, cert).
	Password string `yaml:"password"`
}

// String redacts the password.
func (u UserConfig) String() string { return fmt.Sprintf("{password set: %t}", u.Password != "") }

// GoString redacts the password in %#v.
func (u UserConfig) GoString() string {
	return fmt.Sprintf("postgres.UserConfig{Password:%t}", u.Password != "")
}

// LogValue redacts the password in logs.
func (u UserConfig) LogValue() slog.Value { return slog.BoolValue(u.Password != "") }

// TargetConfig is the PostgreSQL part of a resource in agent.yaml
// (proxy.Target.Options holds a *TargetConfig for postgres resources):
//
//   - name: orders-db
//     type: db
//     address: 10.0.0.7:5432
//     user: app                 # default database user ...
//     password: s3cret          # ... and its password
//     users:                    # further users the agent can log in as
//     report: {password: r3p0rt}
//     database: orders          # default database ("" = the user name)
//     sslmode: verify-full      # disable (default) | require | verify-full
//     ca_file: /etc/onepam/pg-ca.pem   # verify-full: CA of the server cert
//     server_name: db.internal  # verify-full: name in the certificate
//     cert_file: /etc/onepam/pg-client.pem # optional client certificate
//     key_file: /etc/onepam/pg-client.key
//
// Credentials stay on the agent; String, GoString and LogValue redact them.
type TargetConfig struct {
	// User is the default database user; Password its password.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// Users maps further database users to their credentials.
	Users map[string]UserConfig `yaml:"users"`
	// Database is the default database; "" means the user's name.
	Database string `yaml:"database"`
	// SSLMode is disable, require or verify-full ("" = disable).
	SSLMode string `yaml:"sslmode"`
	// CAFile is a PEM file of CA certificates for verify-full; "" uses the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName is the host name verify-full checks; "" = the address's
	// host.
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile are a PEM client certificate and key presented
	// over TLS (cert authentication); both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// String redacts passwords.
func (c *TargetConfig) String() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("postgres{user=%s users=%s database=%s sslmode=%s}", c.User, strings.Join(c.userNames(), ","), c.Database, c.sslMode())
}

// GoString redacts passwords in %#v.
func (c *TargetConfig) GoString() string { return c.String() }

// LogValue redacts passwords in logs.
func (c *TargetConfig) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("user", c.User),
		slog.Bool("password_set", c.Password != ""),
		slog.Any("users", c.userNames()),
		slog.String("database", c.Database),
		slog.String("sslmode", c.sslMode()),
	)
}

func (c *TargetConfig) userNames() []string { return dbcred.Names(c.Users) }

func (c *TargetConfig) sslMode() string {
	if c.SSLMode == "" {
		return SSLDisable
	}
	return c.SSLMode
}

// Validate checks the settings and reports the first problem clearly.
func (c *TargetConfig) Validate() error {
	switch c.sslMode() {
	case SSLDisable, SSLRequire, SSLVerifyFull:
	default:
		return fmt.Errorf("sslmode %q: want disable, require or verify-full", c.SSLMode)
	}
	if c.User == "" && len(c.Users) == 0 {
		return errors.New("no database credentials: give user (and password) or users: {NAME: {password: ...}}")
	}
	if c.User == "" && c.Password != "" {
		return errors.New("password without user: give the default user's name in user")
	}
	for name := range c.Users {
		if name == "" {
			return errors.New("users: a user has no name")
		}
	}
	if c.CAFile != "" && c.sslMode() != SSLVerifyFull {
		return fmt.Errorf("ca_file is only used with sslmode verify-full (sslmode is %s)", c.sslMode())
	}
	if c.ServerName != "" && c.sslMode() != SSLVerifyFull {
		return fmt.Errorf("server_name is only used with sslmode verify-full (sslmode is %s)", c.sslMode())
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("give cert_file and key_file together")
	}
	if c.CertFile != "" && c.sslMode() == SSLDisable {
		return errors.New("cert_file needs TLS: set sslmode require or verify-full")
	}
	return nil
}

// credentials returns the password of a database user the agent knows.
func (c *TargetConfig) credentials(user string) (string, error) {
	if u, ok := c.Users[user]; ok {
		return u.Password, nil
	}
	if user != "" && user == c.User {
		return c.Password, nil
	}
	known := c.userNames()
	if c.User != "" {
		known = append([]string{c.User}, known...)
	}
	return "", fmt.Errorf("database user %q is not configured for this resource (the agent has credentials for: %s)", user, strings.Join(known, ", "))
}

// tlsConfig builds the TLS configuration towards the server at addr, or
// nil for sslmode disable.
func (c *TargetConfig) tlsConfig(addr string) (*tls.Config, error) {
	mode := c.sslMode()
	if mode == SSLDisable {
		return nil, nil
	}
	return dbcred.TLS{Verify: mode == SSLVerifyFull, CAFile: c.CAFile, ServerName: c.ServerName, CertFile: c.CertFile, KeyFile: c.KeyFile}.Config(addr)
}

var targetKeys = map[string]bool{"user": true, "password": true, "users": true, "database": true, "sslmode": true, "ca_file": true, "server_name": true, "cert_file": true, "key_file": true}

// ParseTargetConfig decodes the PostgreSQL fields of one agent.yaml
// resource entry (a mapping node) and validates them. The common fields
// (name, type, address, url, labels, description) are ignored; any other
// unknown key is an error, so a misspelt setting is not silently dropped.
func ParseTargetConfig(node *yaml.Node) (*TargetConfig, error) {
	if node == nil {
		return nil, errors.New("postgres resource: no settings")
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("postgres resource (line %d): want a mapping of settings", node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i].Value
		if !proxy.IsCommonField(k) && !targetKeys[k] {
			return nil, fmt.Errorf("postgres resource (line %d): unknown setting %q (known: user, password, users, database, sslmode, ca_file, server_name, cert_file, key_file)", node.Content[i].Line, k)
		}
	}
	var cfg TargetConfig
	if err := node.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("postgres resource: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("postgres resource: %w", err)
	}
	return &cfg, nil
}

// ParseURL reads a resource URL
//
//	postgres://USER:PASSWORD@HOST[:PORT]/DATABASE?sslmode=MODE&sslrootcert=CA&sslcert=CERT&sslkey=KEY
//
// (scheme postgres or postgresql; port 5432 by default; the path is the
// default database; USER and PASSWORD the default user and its password;
// query options use libpq's names, ca_file/cert_file/key_file/server_name
// are accepted as well). It returns the target address host:port and the
// settings.
func ParseURL(u *url.URL) (string, *TargetConfig, error) {
	if u == nil {
		return "", nil, errors.New("postgres URL: empty")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", nil, fmt.Errorf("postgres URL: scheme %q, want postgres://", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", nil, errors.New("postgres URL: no host (want postgres://user:password@host:port/database)")
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	cfg := &TargetConfig{Database: strings.TrimPrefix(u.Path, "/")}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	if strings.Contains(cfg.Database, "/") {
		return "", nil, fmt.Errorf("postgres URL: database %q contains '/'", cfg.Database)
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "sslmode":
			cfg.SSLMode = v
		case "sslrootcert", "ca_file":
			cfg.CAFile = v
		case "sslcert", "cert_file":
			cfg.CertFile = v
		case "sslkey", "key_file":
			cfg.KeyFile = v
		case "server_name":
			cfg.ServerName = v
		default:
			return "", nil, fmt.Errorf("postgres URL: unknown option %q (known: sslmode, sslrootcert, sslcert, sslkey, server_name)", k)
		}
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, fmt.Errorf("postgres URL: %w", err)
	}
	return addr, cfg, nil
}
