package cli

import (
	"net"
	"time"

	"github.com/onepam/onepam/agent"
)

// Demo database of `onepam dev`: the machine's PostgreSQL, when one
// answers on its usual local address (a Debian or Homebrew install trusts
// local connections as postgres).
const (
	devPGResource = "pg"
	devPGAddr     = "127.0.0.1:5432"
	devPGURL      = "postgres://postgres@" + devPGAddr + "/postgres"
)

// devDemoDB returns the "pg" demo resource when a PostgreSQL server
// listens on 127.0.0.1:5432 and no --resource is already called pg.
func devDemoDB(have []agent.ResourceConfig) (agent.ResourceConfig, bool) {
	for _, r := range have {
		if r.Name == devPGResource {
			return agent.ResourceConfig{}, false
		}
	}
	c, err := net.DialTimeout("tcp", devPGAddr, 300*time.Millisecond)
	if err != nil {
		return agent.ResourceConfig{}, false
	}
	c.Close()
	r, err := agent.ParseResourceURL(devPGResource, devPGURL)
	if err != nil {
		return agent.ResourceConfig{}, false
	}
	r.Labels = map[string]string{"env": "dev"}
	r.Description = "this machine's PostgreSQL, found by onepam dev (onepam db connect pg -- psql)"
	return r, true
}
