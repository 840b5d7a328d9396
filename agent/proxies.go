package agent

import (
	"path/filepath"

	"github.com/onepam/onepam/agent/proxy"
	sshproxy "github.com/onepam/onepam/agent/proxy/ssh"
	"github.com/onepam/onepam/agent/proxy/tcp"
	"github.com/onepam/onepam/pkg/api"
)

// defaultProxies is the one place protocol proxies are registered: a
// session type maps to the proxy that serves it. A protocol added here also
// adds its URL scheme in resource.go. dataDir holds the proxies' own
// files (the SSH host key); "" keeps them in memory.
func defaultProxies(dataDir string) map[api.SessionType]proxy.Proxy {
	var hostKey string
	if dataDir != "" {
		hostKey = filepath.Join(dataDir, "ssh_host_ed25519_key")
	}
	return map[api.SessionType]proxy.Proxy{
		api.TypeTCP: tcp.New(tcp.Config{}),
		api.TypeSSH: sshproxy.New(sshproxy.Config{HostKeyFile: hostKey}),
	}
}
