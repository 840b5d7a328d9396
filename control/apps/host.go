package apps

import (
	"net"
	"strings"
)

// validLabel reports whether s is a DNS label: 1 to 63 lowercase letters,
// digits and hyphens, not starting or ending with a hyphen.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Publishable reports whether a resource name can be served as an app: it
// must be one lowercase DNS label (a resource "Wiki" or "a.b" has no app
// host).
func Publishable(name string) bool { return validLabel(name) }

// splitHost splits a Host header into its lowercase host name and port
// ("" when absent).
func splitHost(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.TrimSuffix(strings.ToLower(h), "."), p
	}
	return strings.TrimSuffix(strings.ToLower(hostport), "."), ""
}

// appName returns the app a Host header names under domain: "wiki" for
// "wiki.<domain>:7443". ok is false for any other host (the control host
// itself, IP addresses, deeper names).
func appName(hostport, domain string) (name string, ok bool) {
	host, _ := splitHost(hostport)
	name, found := strings.CutSuffix(host, "."+domain)
	if !found || !validLabel(name) {
		return "", false
	}
	return name, true
}

// withPort appends ":port" to host when port is set.
func withPort(host, port string) string {
	if port == "" {
		return host
	}
	return net.JoinHostPort(host, port)
}
