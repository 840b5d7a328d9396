// Package agent is the OnePAM agent: it enrolls once with control
// (exchanging a one-time token for a client certificate), then keeps one
// TLS 1.3 + yamux link to control up, reconnecting with jittered
// exponential backoff after any loss. Over the link it announces its
// resources and spooled recordings (control stream), serves the session
// and connection streams control opens through the protocol proxies of
// agent/proxy (registered in proxies.go), and uploads recordings from its
// spool (agent/spool). Target credentials from the agent's configuration
// never leave it. The protocol is described in docs/ARCHITECTURE.md §3–§6
// and pkg/tunnel.
//
// Entry points: Run(ctx, Config), or New(Config) and (*Agent).Run for
// access to the link state; LoadConfigFile and ParseResourceURL for
// agent.yaml and resource URLs.
package agent
