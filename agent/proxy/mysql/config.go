package mysql

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/dbcred"
)

// TLSMode says how the agent secures its connection to the server.
type TLSMode string

// The TLS modes.
const (
	TLSDisable    TLSMode = "disable"     // plain TCP
	TLSRequire    TLSMode = "require"     // TLS, server certificate not verified
	TLSVerifyFull TLSMode = "verify-full" // TLS, certificate verified against ca_file (or the system roots) and the host name
)

// UserConfig holds the credentials of one database user.
type UserConfig struct {
	// Password of the user; may be empty for a user without one.
	Password string `yaml:"password"`
}

// String redacts the password.
func (u UserConfig) String() string { return fmt.Sprintf("{password set: %t}", u.Password != "") }

// GoString redacts the password in %#v.
func (u UserConfig) GoString() string {
	return fmt.Sprintf("mysql.UserConfig{Password set: %t}", u.Password != "")
}

// LogValue redacts the password in logs.
func (u UserConfig) LogValue() slog.Value { return slog.BoolValue(u.Password != "") }

// TargetConfig is the MySQL-specific part of a resource in agent.yaml
// (proxy.Target.Options holds a *TargetConfig for mysql resources):
//
//   - name: shop-db
//     type: db
//     address: 10.0.0.7:3306
//     user: app                 # default database user (and its password)
//     password: s3cret
//     database: shop            # default database when the client names none
//     users:                    # more database users the person may ask for
//     report: {password: r3port}
//     tls: verify-full          # disable (default) | require | verify-full
//     ca_file: /etc/onepam/db-ca.pem     # verify-full: the CA (default: system roots)
//     server_name: db.internal  # verify-full: name in the certificate (default: address host)
//     cert_file: /etc/onepam/db-client.pem   # optional TLS client certificate
//     key_file: /etc/onepam/db-client.key
//     server_public_key_file: /etc/onepam/db-rsa.pem  # optional, see below
//
// The database user of a connection is SessionOpen.Login when set, else
// the user the client logs in as when it has credentials here, else the
// default user. caching_sha2_password's full authentication without TLS
// encrypts the password with the server's RSA key: server_public_key_file
// pins it; without it the key is requested from the server.
type TargetConfig struct {
	User                string                `yaml:"user"`
	Password            string                `yaml:"password"`
	Database            string                `yaml:"database"`
	Users               map[string]UserConfig `yaml:"users"`
	TLS                 TLSMode               `yaml:"tls"`
	CAFile              string                `yaml:"ca_file"`
	ServerName          string                `yaml:"server_name"`
	CertFile            string                `yaml:"cert_file"`
	KeyFile             string                `yaml:"key_file"`
	ServerPublicKeyFile string                `yaml:"server_public_key_file"`
}

// String redacts passwords.
func (c *TargetConfig) String() string {
	return fmt.Sprintf("mysql{user:%q password set:%t database:%q users:%v tls:%s}",
		c.User, c.Password != "", c.Database, c.userNames(), c.TLS)
}

// GoString redacts passwords in %#v.
func (c *TargetConfig) GoString() string { return c.String() }

// LogValue redacts passwords in logs.
func (c *TargetConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.User), slog.Bool("password_set", c.Password != ""),
		slog.String("database", c.Database), slog.Any("users", c.userNames()), slog.String("tls", string(c.TLS)))
}

func (c *TargetConfig) userNames() []string { return dbcred.Names(c.Users) }

// ParseTargetConfig decodes the MySQL fields of one agent.yaml resource
// entry (a mapping node) and validates them. The common resource fields
// are ignored; any other unknown field is an error (a typo would
// otherwise silently drop a setting).
func ParseTargetConfig(node *yaml.Node) (*TargetConfig, error) {
	if node == nil {
		return nil, errors.New("mysql resource: no settings")
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("mysql resource (line %d): want a mapping of settings", node.Line)
	}
	known := map[string]bool{}
	for _, f := range []string{"user", "password", "database", "users", "tls", "ca_file", "server_name", "cert_file", "key_file", "server_public_key_file"} {
		known[f] = true
	}
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i].Value
		switch {
		case known[k]:
			own.Content = append(own.Content, node.Content[i], node.Content[i+1])
		case proxy.IsCommonField(k):
		default:
			return nil, fmt.Errorf("mysql resource (line %d): unknown field %q (mysql fields: user, password, database, users, tls, ca_file, server_name, cert_file, key_file, server_public_key_file)", node.Content[i].Line, k)
		}
	}
	var cfg TargetConfig
	if err := own.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("mysql resource: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// ParseURL reads a resource URL:
//
//	mysql://USER:PASSWORD@HOST[:PORT][/DATABASE][?tls=MODE&ca_file=PATH&server_name=NAME&cert_file=PATH&key_file=PATH&server_public_key_file=PATH]
//
// (scheme mysql or mariadb; port 3306 by default). The user and password
// become the default user.
func ParseURL(u *url.URL) (address string, cfg *TargetConfig, err error) {
	if u == nil {
		return "", nil, errors.New("mysql URL: empty")
	}
	if s := strings.ToLower(u.Scheme); s != "mysql" && s != "mariadb" {
		return "", nil, fmt.Errorf("mysql URL: scheme %q, want mysql:// or mariadb://", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", nil, errors.New("mysql URL: no host (want mysql://user:password@host:port/database)")
	}
	if port == "" {
		port = "3306"
	}
	cfg = &TargetConfig{}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	cfg.Database = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(cfg.Database, "/") {
		return "", nil, fmt.Errorf("mysql URL: database %q contains a slash", cfg.Database)
	}
	q := u.Query()
	for k, v := range q {
		if len(v) != 1 {
			return "", nil, fmt.Errorf("mysql URL: option %q given %d times", k, len(v))
		}
		switch k {
		case "tls":
			cfg.TLS = TLSMode(v[0])
		case "ca_file":
			cfg.CAFile = v[0]
		case "server_name":
			cfg.ServerName = v[0]
		case "cert_file":
			cfg.CertFile = v[0]
		case "key_file":
			cfg.KeyFile = v[0]
		case "server_public_key_file":
			cfg.ServerPublicKeyFile = v[0]
		default:
			return "", nil, fmt.Errorf("mysql URL: unknown option %q (options: tls, ca_file, server_name, cert_file, key_file, server_public_key_file)", k)
		}
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, err
	}
	return net.JoinHostPort(host, port), cfg, nil
}

// Validate checks the settings and fills the TLS default (disable).
func (c *TargetConfig) Validate() error {
	switch c.TLS {
	case "":
		c.TLS = TLSDisable
	case TLSDisable, TLSRequire, TLSVerifyFull:
	default:
		return fmt.Errorf("mysql resource: tls %q: want disable, require or verify-full", c.TLS)
	}
	if c.Password != "" && c.User == "" {
		return errors.New("mysql resource: password without user")
	}
	for name := range c.Users {
		if name == "" {
			return errors.New("mysql resource: users: a user has no name")
		}
	}
	if c.TLS == TLSDisable && (c.CAFile != "" || c.CertFile != "" || c.ServerName != "") {
		return errors.New("mysql resource: ca_file, server_name and cert_file need tls: require or verify-full")
	}
	if c.CAFile != "" && c.TLS != TLSVerifyFull {
		return errors.New("mysql resource: ca_file is only used with tls: verify-full")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("mysql resource: give cert_file and key_file together")
	}
	for _, f := range []struct{ name, path string }{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"key_file", c.KeyFile}, {"server_public_key_file", c.ServerPublicKeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("mysql resource: %s: %w", f.name, err)
		}
	}
	if c.ServerPublicKeyFile != "" {
		b, err := os.ReadFile(c.ServerPublicKeyFile)
		if err != nil {
			return fmt.Errorf("mysql resource: server_public_key_file: %w", err)
		}
		if _, err := parseRSAPublicKey(b); err != nil {
			return fmt.Errorf("mysql resource: server_public_key_file: %w", err)
		}
	}
	if _, err := c.tlsConfig("localhost:3306"); err != nil {
		return err
	}
	return nil
}

// credentials returns the database user of a connection and its
// password: login (SessionOpen.Login) when set, else the client's user
// when it has credentials here, else the default user.
func (c *TargetConfig) credentials(login, clientUser string) (user, password string, err error) {
	lookup := func(name string) (string, bool) {
		if u, ok := c.Users[name]; ok {
			return u.Password, true
		}
		if name != "" && name == c.User {
			return c.Password, true
		}
		return "", false
	}
	if login != "" {
		if pw, ok := lookup(login); ok {
			return login, pw, nil
		}
		return "", "", fmt.Errorf("database user %q has no credentials on this resource (configured: %s)", login, strings.Join(c.configured(), ", "))
	}
	if pw, ok := lookup(clientUser); ok {
		return clientUser, pw, nil
	}
	if c.User != "" {
		return c.User, c.Password, nil
	}
	if clientUser == "" {
		return "", "", errors.New("no database user: the resource has no default user and the client named none")
	}
	return "", "", fmt.Errorf("database user %q has no credentials on this resource (configured: %s)", clientUser, strings.Join(c.configured(), ", "))
}

func (c *TargetConfig) configured() []string {
	names := c.userNames()
	if c.User != "" {
		names = append([]string{c.User}, names...)
	}
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// tlsConfig builds the TLS configuration towards the server at addr;
// nil with tls: disable.
func (c *TargetConfig) tlsConfig(addr string) (*tls.Config, error) {
	if c.TLS == TLSDisable || c.TLS == "" {
		return nil, nil
	}
	cfg, err := dbcred.TLS{Verify: c.TLS == TLSVerifyFull, CAFile: c.CAFile, ServerName: c.ServerName, CertFile: c.CertFile, KeyFile: c.KeyFile}.Config(addr)
	if err != nil {
		return nil, fmt.Errorf("mysql resource: %w", err)
	}
	return cfg, nil
}
