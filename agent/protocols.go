package agent

import (
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/onepam/onepam/agent/proxy"
	httpproxy "github.com/onepam/onepam/agent/proxy/http"
	"github.com/onepam/onepam/agent/proxy/mysql"
	"github.com/onepam/onepam/agent/proxy/postgres"
	"github.com/onepam/onepam/agent/proxy/rdp"
	sshproxy "github.com/onepam/onepam/agent/proxy/ssh"
	"github.com/onepam/onepam/agent/proxy/tcp"
	"github.com/onepam/onepam/agent/proxy/vnc"
	"github.com/onepam/onepam/pkg/api"
	"gopkg.in/yaml.v3"
)

// protocol is one way the agent reaches targets: the session type it
// serves, the URL schemes and agent.yaml type names that select it, its
// proxy, and how a resource's protocol settings are read.
type protocol struct {
	name    string          // also accepted as the type of a long-form resource
	typ     api.SessionType // the sessions it serves
	schemes []string        // resource URL schemes
	// newProxy makes the proxy; dataDir holds its own files ("" = none).
	newProxy func(dataDir, version string) proxy.Proxy
	// parseYAML reads the protocol's settings from a resource entry; nil:
	// the protocol has none (only the common fields are allowed).
	parseYAML func(node *yaml.Node) (any, error)
	// parseURL reads a resource URL of one of the schemes: the target
	// address and the settings. nil: the URL is just scheme://host:port.
	parseURL func(u *url.URL) (string, any, error)
	// merge adds settings from agent.yaml to those of a resource's URL;
	// nil: agent.yaml settings are not allowed beside a URL.
	merge func(fromURL, fromYAML any) any
	// validate checks the settings of resource name once complete, and
	// says whether the resource needs a target address.
	validate func(name string, opts any) (needsAddress bool, err error)
}

// protocols is the one place protocols are registered.
var protocols = []protocol{
	{
		name: "tcp", typ: api.TypeTCP, schemes: []string{"tcp"},
		newProxy: func(string, string) proxy.Proxy { return tcp.New(tcp.Config{}) },
	},
	{
		name: "ssh", typ: api.TypeSSH, schemes: []string{"ssh"},
		newProxy: func(dataDir, _ string) proxy.Proxy {
			var hostKey string
			if dataDir != "" {
				hostKey = filepath.Join(dataDir, "ssh_host_ed25519_key")
			}
			// The terminal recorder hands its buffer to the spool every
			// RecorderFlush; the spool makes it durable within its own
			// interval: together under a second (the crash loss window).
			return sshproxy.New(sshproxy.Config{HostKeyFile: hostKey, FlushInterval: RecorderFlush})
		},
		parseYAML: func(n *yaml.Node) (any, error) { return sshproxy.ParseTargetConfig(n) },
		parseURL:  func(u *url.URL) (string, any, error) { return sshproxy.ParseURL(u) },
		merge: func(u, y any) any {
			c := u.(*sshproxy.TargetConfig)
			c.Merge(y.(*sshproxy.TargetConfig))
			return c
		},
		validate: func(name string, o any) (bool, error) {
			c := o.(*sshproxy.TargetConfig)
			return !c.Builtin, c.Validate(name)
		},
	},
	{
		name: "postgres", typ: api.TypeDB, schemes: []string{"postgres", "postgresql"},
		newProxy:  func(string, string) proxy.Proxy { return postgres.New(postgres.Config{}) },
		parseYAML: func(n *yaml.Node) (any, error) { return postgres.ParseTargetConfig(n) },
		parseURL:  func(u *url.URL) (string, any, error) { return postgres.ParseURL(u) },
	},
	{
		name: "mysql", typ: api.TypeDB, schemes: []string{"mysql", "mariadb"},
		newProxy:  func(string, string) proxy.Proxy { return mysql.New(mysql.Config{}) },
		parseYAML: func(n *yaml.Node) (any, error) { return mysql.ParseTargetConfig(n) },
		parseURL:  func(u *url.URL) (string, any, error) { return mysql.ParseURL(u) },
	},
	{
		name: "http", typ: api.TypeHTTP, schemes: []string{"http", "https"},
		newProxy:  func(_, version string) proxy.Proxy { return httpproxy.New(httpproxy.Config{Version: version}) },
		parseYAML: func(n *yaml.Node) (any, error) { return httpproxy.ParseTargetConfig(n) },
		parseURL:  func(u *url.URL) (string, any, error) { return httpproxy.ParseURL(u) },
	},
	{
		name: "vnc", typ: api.TypeVNC, schemes: []string{"vnc"},
		newProxy:  func(string, string) proxy.Proxy { return vnc.New(vnc.Config{}) },
		parseYAML: func(n *yaml.Node) (any, error) { return vnc.ParseTargetConfig(n) },
		parseURL:  func(u *url.URL) (string, any, error) { return vnc.ParseURL(u) },
	},
	{
		name: "rdp", typ: api.TypeRDP, schemes: []string{"rdp"},
		newProxy:  func(string, string) proxy.Proxy { return rdp.New(rdp.Config{}) },
		parseYAML: func(n *yaml.Node) (any, error) { return rdp.ParseTargetConfig(n) },
		parseURL:  func(u *url.URL) (string, any, error) { return rdp.ParseURL(u) },
	},
}

// protocolNamed returns the protocol called name (a long-form type).
func protocolNamed(name string) (protocol, bool) {
	for _, p := range protocols {
		if p.name == name {
			return p, true
		}
	}
	return protocol{}, false
}

// protocolOfScheme returns the protocol a URL scheme selects.
func protocolOfScheme(scheme string) (protocol, bool) {
	for _, p := range protocols {
		for _, s := range p.schemes {
			if s == scheme {
				return p, true
			}
		}
	}
	return protocol{}, false
}

// protocolsOfType lists the protocols serving a session type.
func protocolsOfType(t api.SessionType) []string {
	var names []string
	for _, p := range protocols {
		if p.typ == t {
			names = append(names, p.name)
		}
	}
	return names
}

func supportedSchemes() string {
	var s []string
	for _, p := range protocols {
		for _, sc := range p.schemes {
			s = append(s, sc+"://")
		}
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func protocolNames() string {
	var s []string
	for _, p := range protocols {
		s = append(s, p.name)
	}
	return strings.Join(s, ", ")
}

// defaultProxies makes one proxy per protocol.
func defaultProxies(dataDir, version string) map[string]proxy.Proxy {
	m := map[string]proxy.Proxy{}
	for _, p := range protocols {
		m[p.name] = p.newProxy(dataDir, version)
	}
	return m
}
