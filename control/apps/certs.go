package apps

import (
	"crypto/tls"
	"strings"
	"sync"
)

// maxHostCerts bounds the per-host certificate cache (it is emptied when
// full).
const maxHostCerts = 1024

// SignHost issues a server certificate naming one host (pki's
// SignServerName with control's server key).
type SignHost func(host string) (tls.Certificate, error)

// hostCerts caches the certificates of app hosts.
type hostCerts struct {
	mu    sync.Mutex
	certs map[string]*tls.Certificate
}

// GetCertificate is for tls.Config.GetCertificate: under a one-label apps
// domain (like the default localhost) an app host gets a certificate of
// its own, issued on first use by sign and cached, because clients do not
// honour a wildcard directly under a top-level name (*.localhost). Every
// other name gets nil: the configured server certificate (which carries
// *.<apps domain>) is used.
func (a *Apps) GetCertificate(sign SignHost) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if strings.Contains(a.cfg.Domain, ".") {
		return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }
	}
	hc := &hostCerts{certs: map[string]*tls.Certificate{}}
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		name, ok := appName(hello.ServerName, a.cfg.Domain)
		if !ok {
			return nil, nil
		}
		host := name + "." + a.cfg.Domain
		hc.mu.Lock()
		defer hc.mu.Unlock()
		if c := hc.certs[host]; c != nil {
			return c, nil
		}
		c, err := sign(host)
		if err != nil {
			a.cfg.Logger.Error("issue an app host certificate", "host", host, "err", err)
			return nil, nil
		}
		if len(hc.certs) >= maxHostCerts {
			clear(hc.certs)
		}
		hc.certs[host] = &c
		return &c, nil
	}
}
