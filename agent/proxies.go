package agent

import (
	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/tcp"
	"github.com/onepam/onepam/pkg/api"
)

// defaultProxies is the one place protocol proxies are registered: a
// session type maps to the proxy that serves it. A protocol added here also
// adds its URL scheme in resource.go.
func defaultProxies() map[api.SessionType]proxy.Proxy {
	return map[api.SessionType]proxy.Proxy{
		api.TypeTCP: tcp.New(tcp.Config{}),
	}
}
