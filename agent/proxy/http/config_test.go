package httpproxy

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, addr, err string
		check         func(*TargetConfig) bool
	}{
		{in: "http://app.internal", addr: "app.internal:80", check: func(c *TargetConfig) bool { return c.Scheme == "http" && c.BasePath == "" }},
		{in: "https://svc:pw@10.0.0.5:8443/wiki/?ca_file=&server_name=wiki.internal&header=X-Key:abc&redact=pin,otp&body_cap=-1", addr: "10.0.0.5:8443",
			check: func(c *TargetConfig) bool {
				return c.BasePath == "/wiki" && c.BasicAuth.Username == "svc" && c.BasicAuth.Password == "pw" && c.TLS.ServerName == "wiki.internal" &&
					c.Headers["X-Key"] == "abc" && len(c.Redact) == 2 && c.BodyCap == -1
			}},
		{in: "https://h?insecure_skip_verify=true", addr: "h:443", check: func(c *TargetConfig) bool { return c.TLS.InsecureSkipVerify }},
		{in: "ftp://h", err: "scheme must be http or https"},
		{in: "http://h?insecure_skip_verify=true", err: "tls settings need scheme https"},
		{in: "http://h?frobnicate=1", err: `unknown option "frobnicate"`},
		{in: "https://h?pin_sha256=zz", err: "64 hex digits"},
		{in: "https://h?ca_file=/does/not/exist", err: "tls.ca_file"},
		{in: "http://h?header=novalue", err: "want Name:value"},
		{in: "http:///x", err: "no host"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			addr, cfg, err := ParseURL(u)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error with %q", err, tc.err)
				}
				if err != nil && strings.Contains(err.Error(), "pw@") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil || addr != tc.addr || !tc.check(cfg) {
				t.Fatalf("got %q %+v %v", addr, cfg, err)
			}
		})
	}
}

func TestParseTargetConfig(t *testing.T) {
	for _, tc := range []struct{ name, doc, err string }{
		{"long form with common fields", `
name: wiki
type: http
address: 10.0.0.7:8443
url: ignored
labels: {env: prod}
description: the wiki
scheme: https
base_path: /wiki
tls: {insecure_skip_verify: true}
headers: {Authorization: "Bearer agent-secret"}
basic_auth: {username: svc, password: pw}
user_header: X-Who
body_cap: 1024
redact: [pin]
`, ""},
		{"bad scheme", "scheme: gopher", "scheme \"gopher\""},
		{"bad base path", "base_path: wiki", "must start with /"},
		{"bad header", "headers: {\"Bad Name\": x}", "not a valid header"},
		{"bad user header", "user_header: \"a b\"", "user_header"},
		{"basic auth without user", "basic_auth: {password: x}", "needs a username"},
		{"wrong type", "body_cap: lots", "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.doc), &n); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseTargetConfig(n.Content[0])
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error with %q", err, tc.err)
				}
				return
			}
			if err != nil || cfg.Scheme != "https" || cfg.Headers["Authorization"] != "Bearer agent-secret" || cfg.BodyCap != 1024 {
				t.Fatalf("%+v %v", cfg, err)
			}
			// Secrets never show in formatting or logs.
			var logged bytes.Buffer
			slog.New(slog.NewTextHandler(&logged, nil)).Info("resource", "cfg", cfg)
			for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), logged.String()} {
				if strings.Contains(s, "agent-secret") || strings.Contains(s, "pw}") || strings.Contains(s, ":pw") {
					t.Fatalf("secret shown: %s", s)
				}
			}
		})
	}
}
