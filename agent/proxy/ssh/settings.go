package ssh

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/agent/proxy"
)

// settingsYAML is the ssh part of an agent.yaml resource entry:
//
//	logins: {root: {key_file: PATH}, deploy: {password: ...}}
//	default_login: {key_file: PATH}
//	host_key: "ssh-ed25519 AAAA..."       # or known_hosts: PATH
//	insecure_ignore_host_key: false
//	allow_port_forwarding: false
//	builtin: true, user: OSUSER           # the agent host itself, no sshd
type settingsYAML struct {
	Builtin               bool                 `yaml:"builtin"`
	User                  string               `yaml:"user"`
	Logins                map[string]loginYAML `yaml:"logins"`
	DefaultLogin          *loginYAML           `yaml:"default_login"`
	HostKey               string               `yaml:"host_key"`
	KnownHosts            string               `yaml:"known_hosts"`
	InsecureIgnoreHostKey bool                 `yaml:"insecure_ignore_host_key"`
	AllowPortForwarding   bool                 `yaml:"allow_port_forwarding"`
}

type loginYAML struct {
	KeyFile  string `yaml:"key_file"`
	Password string `yaml:"password"`
}

var settingKeys = []string{"builtin", "user", "logins", "default_login", "host_key", "known_hosts", "insecure_ignore_host_key", "allow_port_forwarding"}

// ParseTargetConfig decodes the ssh settings of one agent.yaml resource
// entry (a mapping node): the common fields are ignored, any other unknown
// key is an error. The result is checked by Validate once the resource's
// URL (if any) has been merged in (see Merge).
func ParseTargetConfig(node *yaml.Node) (*TargetConfig, error) {
	if node == nil {
		return &TargetConfig{}, nil
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("ssh resource (line %d): want a mapping of settings", node.Line)
	}
	known := map[string]bool{}
	for _, k := range settingKeys {
		known[k] = true
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k := node.Content[i].Value; !proxy.IsCommonField(k) && !known[k] {
			return nil, fmt.Errorf("ssh resource (line %d): unknown setting %q (known: %s)", node.Content[i].Line, k, strings.Join(settingKeys, ", "))
		}
	}
	var y settingsYAML
	if err := node.Decode(&y); err != nil {
		return nil, fmt.Errorf("ssh resource: %w", err)
	}
	c := &TargetConfig{Builtin: y.Builtin, User: y.User, HostKey: y.HostKey, KnownHosts: y.KnownHosts,
		InsecureIgnoreHostKey: y.InsecureIgnoreHostKey, AllowPortForwarding: y.AllowPortForwarding}
	for login, l := range y.Logins {
		if c.Logins == nil {
			c.Logins = map[string]LoginConfig{}
		}
		c.Logins[login] = LoginConfig(l)
	}
	if y.DefaultLogin != nil {
		d := LoginConfig(*y.DefaultLogin)
		c.DefaultLogin = &d
	}
	return c, nil
}

// Merge adds the settings of o (from agent.yaml) to c (from the URL).
func (c *TargetConfig) Merge(o *TargetConfig) {
	if o == nil {
		return
	}
	c.Builtin = c.Builtin || o.Builtin
	if o.User != "" {
		c.User = o.User
	}
	for login, l := range o.Logins {
		if c.Logins == nil {
			c.Logins = map[string]LoginConfig{}
		}
		c.Logins[login] = l
	}
	if o.DefaultLogin != nil {
		c.DefaultLogin = o.DefaultLogin
	}
	if o.HostKey != "" {
		c.HostKey = o.HostKey
	}
	if o.KnownHosts != "" {
		c.KnownHosts = o.KnownHosts
	}
	c.InsecureIgnoreHostKey = c.InsecureIgnoreHostKey || o.InsecureIgnoreHostKey
	c.AllowPortForwarding = c.AllowPortForwarding || o.AllowPortForwarding
}

var urlOptions = []string{"key", "known_hosts", "host_key", "insecure_ignore_host_key", "allow_port_forwarding"}

// ParseURL reads an ssh resource URL:
//
//	ssh://LOGIN@HOST[:PORT]?key=PATH            a private key file
//	ssh://LOGIN:PASSWORD@HOST[:PORT]
//	     &known_hosts=PATH | &host_key=KEY | &insecure_ignore_host_key=true
//	     &allow_port_forwarding=true
//	ssh://[USER@]builtin                          the agent host's own shell as OS user USER
//
// It returns the target address (port 22 by default; "" for builtin) and
// the settings.
func ParseURL(u *url.URL) (string, *TargetConfig, error) {
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.Opaque != "" {
		return "", nil, fmt.Errorf("an ssh URL is ssh://login@host:port?key=PATH, got %q", u.Redacted())
	}
	c := &TargetConfig{}
	login := u.User.Username()
	password, hasPassword := u.User.Password()
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("invalid URL query: %v", err)
	}
	if u.Hostname() == "builtin" {
		if u.Port() != "" || hasPassword || len(q) > 0 {
			return "", nil, errors.New("the built-in target is just ssh://USER@builtin")
		}
		c.Builtin, c.User = true, login
		return "", c, nil
	}
	if login == "" {
		return "", nil, errors.New("an ssh URL names its login: ssh://login@host:port")
	}
	addr := u.Host
	if u.Port() == "" && u.Hostname() != "" {
		addr = net.JoinHostPort(u.Hostname(), "22")
	}
	creds := LoginConfig{Password: password}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := q[k]
		v := vs[len(vs)-1]
		switch k {
		case "key":
			creds.KeyFile = v
		case "known_hosts":
			c.KnownHosts = v
		case "host_key":
			c.HostKey = v
		case "insecure_ignore_host_key", "allow_port_forwarding":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", nil, fmt.Errorf("%s=%q is not true or false", k, v)
			}
			if k == "allow_port_forwarding" {
				c.AllowPortForwarding = b
			} else {
				c.InsecureIgnoreHostKey = b
			}
		default:
			return "", nil, fmt.Errorf("unknown ssh URL option %q (known: %s)", k, strings.Join(urlOptions, ", "))
		}
	}
	if hasPassword && creds.KeyFile != "" {
		return "", nil, errors.New("give a password or key=PATH, not both")
	}
	c.Logins = map[string]LoginConfig{login: creds}
	return addr, c, nil
}
