package rdp

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, addr, err string
		want          TargetConfig
	}{
		{in: `rdp://CORP%5Calice:pw@win.example:3390`, addr: "win.example:3390", want: TargetConfig{Username: "alice", Domain: "CORP", Password: "pw", Security: "nla"}},
		{in: `rdp://bob:x@10.0.0.9?security=tls&ignore_cert=true`, addr: "10.0.0.9:3389", want: TargetConfig{Username: "bob", Password: "x", Security: "tls", IgnoreCert: true}},
		{in: `rdp://bob:x@h?domain=D&cert_fingerprint=` + strings.Repeat("0a", 32), addr: "h:3389", want: TargetConfig{Username: "bob", Password: "x", Domain: "D", Security: "nla", CertFingerprint: strings.Repeat("0a", 32)}},
		{in: `rdp://h?security=tls`, addr: "h:3389", want: TargetConfig{Security: "tls"}},
		{in: `rdp://h`, err: "needs a username"},
		{in: `rdp://a:b@h?security=rc4`, err: "want tls or nla"},
		{in: `rdp://a:b@h?bogus=1`, err: "unknown URL option"},
		{in: `rdp://a:b@h/path`, err: "has a path"},
		{in: `vnc://a:b@h`, err: "want rdp"},
		{in: `rdp://a:b@h?ignore_cert=maybe`, err: "ignore_cert"},
		{in: `rdp://a:b@h?cert_fingerprint=zz`, err: "cert_fingerprint"},
		{in: `rdp://a:b@h?security=tls&clipboard=off&drives=false&debug_dump=/var/tmp/d`, addr: "h:3389",
			want: TargetConfig{Username: "a", Password: "b", Security: "tls", DisableClipboard: true, DisableDrives: true, DebugDump: "/var/tmp/d"}},
		{in: `rdp://a:b@h?clipboard=on&drives=yes`, addr: "h:3389", want: TargetConfig{Username: "a", Password: "b", Security: "nla"}},
		{in: `rdp://a:b@h?clipboard=sometimes`, err: "clipboard="},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			addr, cfg, err := ParseURL(u)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || addr != tc.addr || *cfg != tc.want {
				t.Fatalf("%s %+v %v", addr, cfg, err)
			}
		})
	}
}

func TestParseTargetConfig(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
		want          TargetConfig
	}{
		{name: "long form", in: "name: w\ntype: rdp\naddress: h:3389\nlabels: {a: b}\nusername: 'CORP\\alice'\npassword: s\nsecurity: tls\nca_file: ''\n",
			want: TargetConfig{Username: "alice", Domain: "CORP", Password: "s", Security: "tls"}},
		{name: "defaults", in: "username: a\npassword: b\n", want: TargetConfig{Username: "a", Password: "b", Security: "nla"}},
		{name: "unknown", in: "usernme: a\n", err: `unknown field "usernme"`},
		{name: "bad type", in: "ignore_cert: [1]\n", err: "ignore_cert"},
		{name: "domain conflict", in: "username: 'A\\u'\ndomain: B\npassword: p\n", err: "names domain"},
		{name: "missing ca file", in: "username: a\nca_file: /nonexistent/ca.pem\n", err: "ca_file"},
		{name: "not a mapping", in: "- a\n", err: "mapping"},
		{name: "channels off, debug dump", in: "username: a\npassword: b\nclipboard: off\ndrives: false\ndebug_dump: /var/tmp/d\n",
			want: TargetConfig{Username: "a", Password: "b", Security: "nla", DisableClipboard: true, DisableDrives: true, DebugDump: "/var/tmp/d"}},
		{name: "channels on", in: "username: a\npassword: b\nclipboard: true\ndrives: on\n", want: TargetConfig{Username: "a", Password: "b", Security: "nla"}},
		{name: "bad switch", in: "username: a\ndrives: sometimes\n", err: "drives: want true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.in), &n); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseTargetConfig(&n)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || *cfg != tc.want {
				t.Fatalf("%+v %v", cfg, err)
			}
		})
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	c := TargetConfig{Username: "a", Password: "hunter2"}
	for _, s := range []string{c.String(), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", c), c.LogValue().String()} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password in %q", s)
		}
	}
}
