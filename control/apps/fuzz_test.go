package apps

import (
	"strings"
	"testing"
)

// FuzzParseState: a state cookie is browser input; whatever it holds,
// parseState never panics and only yields a valid nonce and a path on
// this host.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"", ".", "x.Lw", strings.Repeat("A", 43) + ".Lw", strings.Repeat("A", 43) + ".Ly9ldmls", strings.Repeat("A", 43) + ".L3g_eT0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		nonce, back, ok := parseState(v)
		if ok && (!validToken(nonce) || !safePath(back)) {
			t.Fatalf("parseState(%q) accepted nonce %q, path %q", v, nonce, back)
		}
	})
}

// FuzzAppName: the Host header is browser input; an app name found in it
// is always one DNS label.
func FuzzAppName(f *testing.F) {
	for _, s := range []string{"web.localhost:7443", "localhost", "a.b.localhost", "[::1]:1", "WEB.LOCALHOST.", ".localhost", "x.localhost:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if name, ok := appName(host, "localhost"); ok && !validLabel(name) {
			t.Fatalf("appName(%q) = %q", host, name)
		}
	})
}
