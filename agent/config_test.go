package agent

import (
	"fmt"
	sshproxy "github.com/onepam/onepam/agent/proxy/ssh"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/api"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, fc FileConfig)
	}{
		{name: "long form", yaml: `
name: edge-1
control: ctl.example:7444
token: abc.def
data_dir: /var/lib/onepam-agent
resources:
  - name: pg
    type: tcp
    address: 127.0.0.1:5432
    labels: {env: prod}
    description: main database
`, check: func(t *testing.T, fc FileConfig) {
			r := fc.Resources[0]
			if fc.Name != "edge-1" || fc.Control != "ctl.example:7444" || fc.Token != "abc.def" || fc.DataDir != "/var/lib/onepam-agent" {
				t.Errorf("top level: %+v", fc)
			}
			if r.Name != "pg" || r.Type != api.TypeTCP || r.Address != "127.0.0.1:5432" || r.Labels["env"] != "prod" || r.Description != "main database" {
				t.Errorf("resource: %+v", r)
			}
		}},
		{name: "url form", yaml: `
resources:
  - name: echo
    url: tcp://localhost:7
    labels: {env: dev}
`, check: func(t *testing.T, fc FileConfig) {
			r := fc.Resources[0]
			if r.Type != api.TypeTCP || r.Protocol != "tcp" || r.Address != "localhost:7" || r.Labels["env"] != "dev" {
				t.Errorf("resource: %+v", r)
			}
			if a := r.Announce(); a.Address != "localhost:7" || strings.Contains(a.Address+a.Description, "pw") {
				t.Errorf("announced %+v", a)
			}
		}},
		{name: "empty file", yaml: "", check: func(t *testing.T, fc FileConfig) {
			if len(fc.Resources) != 0 {
				t.Errorf("resources %+v", fc.Resources)
			}
		}},
		{name: "bad scheme", yaml: "resources:\n  - name: x\n    url: ftp://h:1\n", wantErr: `unsupported URL scheme "ftp://" (supported: http://, https://, mariadb://, mysql://, postgres://, postgresql://, rdp://, ssh://, tcp://, vnc://)`},
		{name: "missing name", yaml: "resources:\n  - type: tcp\n    address: h:1\n", wantErr: "has no name"},
		{name: "duplicate names", yaml: "resources:\n  - {name: a, url: 'tcp://h:1'}\n  - {name: a, type: tcp, address: 'h:2'}\n", wantErr: `resource "a" is configured twice`},
		{name: "url and address", yaml: "resources:\n  - {name: a, url: 'tcp://h:1', address: 'h:1'}\n", wantErr: "either url or type and address"},
		{name: "unknown type", yaml: "resources:\n  - {name: a, type: smtp, address: 'h:1'}\n", wantErr: `unknown type "smtp"`},
		{name: "no port", yaml: "resources:\n  - {name: a, type: tcp, address: 'h'}\n", wantErr: "not host:port"},
		{name: "bad port", yaml: "resources:\n  - {name: a, type: tcp, address: 'h:99999'}\n", wantErr: "port 1-65535"},
		{name: "unknown key", yaml: "nmae: x\n", wantErr: "field nmae not found"},
		{name: "bad recording mode", yaml: "recording: maybe\n", wantErr: "unknown recording mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, err := ParseConfig([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, fc)
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(p, []byte("resources:\n  - {name: a, url: 'tcp://127.0.0.1:22'}\n"), 0o600)
	fc, err := LoadConfigFile(p)
	if err != nil || len(fc.Resources) != 1 {
		t.Fatalf("%+v, %v", fc, err)
	}
	if _, err := LoadConfigFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestParseResourceURL(t *testing.T) {
	tests := []struct {
		url, wantErr, wantAddr string
	}{
		{url: "tcp://127.0.0.1:5432", wantAddr: "127.0.0.1:5432"},
		{url: "TCP://[::1]:22/", wantAddr: "[::1]:22"},
		{url: "ftp://root@h:22", wantErr: "unsupported URL scheme"},
		{url: "127.0.0.1:22", wantErr: "scheme"},
		{url: "tcp://h:22/path", wantErr: "just tcp://host:port"},
		{url: "tcp://user:hunter2@h", wantErr: "just tcp://host:port"},
		{url: "tcp://h:1:2:3", wantErr: "not host:port"},
		{url: "tcp://us er:hunter2@h:%zz", wantErr: "invalid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			r, err := ParseResourceURL("r", tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || r.Address != tt.wantAddr || r.Type != api.TypeTCP {
				t.Fatalf("%+v, %v", r, err)
			}
		})
	}
}

const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID+syd0Pd0Eh4oS+MGedy0LSC1ntKkEatMDFZTMFVcdr"

func TestParseSSHResourceURL(t *testing.T) {
	tests := []struct {
		url, wantErr string
		check        func(t *testing.T, r ResourceConfig)
	}{
		{url: "ssh://root@h?key=/k/root&insecure_ignore_host_key=true", check: func(t *testing.T, r ResourceConfig) {
			if r.Address != "h:22" || sshOf(r).Logins["root"].KeyFile != "/k/root" || !sshOf(r).InsecureIgnoreHostKey || sshOf(r).AllowPortForwarding {
				t.Errorf("%+v %+v", r, sshOf(r))
			}
		}},
		{url: "ssh://deploy:hunter2@10.0.0.5:2222?host_key=" + url.QueryEscape(testHostKey) + "&allow_port_forwarding=true", check: func(t *testing.T, r ResourceConfig) {
			if r.Address != "10.0.0.5:2222" || sshOf(r).Logins["deploy"].Password != "hunter2" || sshOf(r).HostKey != testHostKey || !sshOf(r).AllowPortForwarding {
				t.Errorf("%+v %+v", r, sshOf(r))
			}
			if a := r.Announce(); strings.Contains(fmt.Sprintf("%+v", a), "hunter2") || a.Address != "10.0.0.5:2222" {
				t.Errorf("announced %+v", a)
			}
		}},
		{url: "ssh://root@h:22?key=/k&known_hosts=" + os.DevNull, check: func(t *testing.T, r ResourceConfig) {
			if sshOf(r).KnownHosts != os.DevNull {
				t.Errorf("%+v", sshOf(r))
			}
		}},
		{url: "ssh://me@builtin", check: func(t *testing.T, r ResourceConfig) {
			if !sshOf(r).Builtin || sshOf(r).User != "me" || r.Address != "" || !strings.Contains(r.Announce().Description, "built-in") {
				t.Errorf("%+v %+v", r, sshOf(r))
			}
		}},
		{url: "ssh://builtin", check: func(t *testing.T, r ResourceConfig) {
			if !sshOf(r).Builtin || sshOf(r).User != "" {
				t.Errorf("%+v", sshOf(r))
			}
		}},
		{url: "ssh://root@h:22", wantErr: "give key_file or password"},
		{url: "ssh://root@h:22?key=/k", wantErr: "host key cannot be verified"},
		{url: "ssh://h:22?key=/k", wantErr: "names its login"},
		{url: "ssh://root:hunter2@h:22?key=/k&insecure_ignore_host_key=1", wantErr: "not both"},
		{url: "ssh://root@h:22?key=/k&bogus=1", wantErr: "unknown ssh URL option"},
		{url: "ssh://root@h:22?key=/k&host_key=garbage", wantErr: "host_key"},
		{url: "ssh://root@h:22?key=/k&allow_port_forwarding=maybe", wantErr: "not true or false"},
		{url: "ssh://me@builtin:22", wantErr: "just ssh://USER@builtin"},
		{url: "ssh://root@h:22/x?key=/k", wantErr: "ssh://login@host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			r, err := ParseResourceURL("r", tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || r.Type != api.TypeSSH {
				t.Fatalf("%+v, %v", r, err)
			}
			tt.check(t, r)
			if tgt := r.target(); tgt.Options != r.Options {
				t.Errorf("target options %+v", tgt.Options)
			}
		})
	}
}

func TestParseSSHConfig(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, r ResourceConfig)
	}{
		{name: "long form", yaml: `
resources:
  - name: web
    type: ssh
    address: 127.0.0.1:22
    labels: {env: prod}
    logins:
      root: {key_file: /k/root}
      deploy: {password: hunter2}
    default_login: {key_file: /k/any}
    host_key: "` + testHostKey + `"
    allow_port_forwarding: true
`, check: func(t *testing.T, r ResourceConfig) {
			c := sshOf(r)
			if r.Type != api.TypeSSH || r.Address != "127.0.0.1:22" || c.Logins["root"].KeyFile != "/k/root" || c.Logins["deploy"].Password != "hunter2" ||
				c.DefaultLogin.KeyFile != "/k/any" || c.HostKey != testHostKey || !c.AllowPortForwarding || c.InsecureIgnoreHostKey || r.Labels["env"] != "prod" {
				t.Errorf("%+v %+v", r, c)
			}
			if fmt.Sprint(c.Logins) != "map[deploy:password:<redacted> root:key_file:/k/root]" {
				t.Errorf("logins print as %v", c.Logins)
			}
		}},
		{name: "builtin", yaml: "resources:\n  - {name: here, type: ssh, builtin: true, user: nobody}\n", check: func(t *testing.T, r ResourceConfig) {
			if !sshOf(r).Builtin || sshOf(r).User != "nobody" || r.Address != "" {
				t.Errorf("%+v", sshOf(r))
			}
		}},
		{name: "url plus options", yaml: "resources:\n  - {name: u, url: 'ssh://root@h?key=/k', known_hosts: '" + os.DevNull + "', allow_port_forwarding: true}\n", check: func(t *testing.T, r ResourceConfig) {
			if sshOf(r).KnownHosts != os.DevNull || !sshOf(r).AllowPortForwarding || sshOf(r).Logins["root"].KeyFile != "/k" {
				t.Errorf("%+v", sshOf(r))
			}
		}},
		{name: "no credentials", yaml: "resources:\n  - {name: w, type: ssh, address: 'h:22', host_key: '" + testHostKey + "'}\n", wantErr: "no credentials"},
		{name: "no host key", yaml: "resources:\n  - {name: w, type: ssh, address: 'h:22', logins: {root: {key_file: /k}}}\n", wantErr: "insecure_ignore_host_key: true"},
		{name: "both host keys", yaml: "resources:\n  - {name: w, type: ssh, address: 'h:22', logins: {root: {key_file: /k}}, host_key: '" + testHostKey + "', known_hosts: /x}\n", wantErr: "not both"},
		{name: "missing known_hosts", yaml: "resources:\n  - {name: w, type: ssh, address: 'h:22', logins: {root: {key_file: /k}}, known_hosts: /nonexistent/kh}\n", wantErr: "known_hosts"},
		{name: "key and password", yaml: "resources:\n  - {name: w, type: ssh, address: 'h:22', logins: {root: {key_file: /k, password: p}}, insecure_ignore_host_key: true}\n", wantErr: "not both"},
		{name: "builtin with logins", yaml: "resources:\n  - {name: w, type: ssh, builtin: true, logins: {root: {key_file: /k}}}\n", wantErr: "built-in"},
		{name: "builtin with address", yaml: "resources:\n  - {name: w, type: ssh, builtin: true, address: 'h:22'}\n", wantErr: "has no address"},
		{name: "ssh keys on tcp", yaml: "resources:\n  - {name: w, type: tcp, address: 'h:22', allow_port_forwarding: true}\n", wantErr: `unknown setting "allow_port_forwarding" for a tcp resource`},
		{name: "user on server", yaml: "resources:\n  - {name: w, type: ssh, address: 'h:22', user: x, logins: {root: {key_file: /k}}, insecure_ignore_host_key: true}\n", wantErr: "built-in targets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, err := ParseConfig([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, fc.Resources[0])
		})
	}
}

func TestCredentialsAreRedacted(t *testing.T) {
	for _, u := range []string{"ssh://admin:hunter2@h:22?insecure_ignore_host_key=true", "postgres://admin:hunter2@h/db", "mysql://admin:hunter2@h/db", "vnc://:hunter2@h:5901"} {
		r, err := ParseResourceURL("db", u)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{fmt.Sprintf("%v", r.Options), fmt.Sprintf("%+v", r.Options), fmt.Sprintf("%#v", r.Options), fmt.Sprint(r.Announce())} {
			if strings.Contains(s, "hunter2") {
				t.Fatalf("%s: credentials printed: %s", u, s)
			}
		}
	}
	if _, err := ParseResourceURL("x", "tcp://user:pw@h:1"); err == nil {
		t.Fatal("a tcp URL with credentials was accepted")
	}
}

// sshOf returns an ssh resource's settings.
func sshOf(r ResourceConfig) *sshproxy.TargetConfig {
	c, _ := r.Options.(*sshproxy.TargetConfig)
	return c
}

func TestSplitToken(t *testing.T) {
	pin := strings.Repeat("ab", 32)
	secret, got, err := SplitToken("sec.ret." + pin)
	if err != nil || secret != "sec.ret" || got != "sha256:"+pin {
		t.Fatalf("%q %q %v", secret, got, err)
	}
	for _, bad := range []string{"", "nopin", ".abc", "secret.", "secret.xyz"} {
		if _, _, err := SplitToken(bad); err == nil {
			t.Errorf("SplitToken(%q) accepted", bad)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "data directory") {
		t.Fatalf("no data dir: %v", err)
	}
	dup := []ResourceConfig{{Name: "a", Type: api.TypeTCP, Protocol: "tcp", Address: "h:1"}, {Name: "a", Type: api.TypeTCP, Protocol: "tcp", Address: "h:2"}}
	if _, err := New(Config{DataDir: t.TempDir(), Resources: dup}); err == nil {
		t.Fatal("duplicate resources accepted")
	}
	rdp := []ResourceConfig{{Name: "s", Type: api.TypeRDP, Protocol: "telnet", Address: "h:3389"}}
	if _, err := New(Config{DataDir: t.TempDir(), Resources: rdp}); err == nil || !strings.Contains(err.Error(), "unknown protocol") {
		t.Fatalf("resource without proxy: %v", err)
	}
}

// TestProtocolsByURLAndType: every registered protocol is reached by its
// URL schemes and by its name as a long-form type, and db needs the name.
func TestProtocolsByURLAndType(t *testing.T) {
	for _, tc := range []struct {
		url      string
		typ      api.SessionType
		protocol string
		addr     string
	}{
		{"tcp://h:7", api.TypeTCP, "tcp", "h:7"},
		{"ssh://root:pw@h?insecure_ignore_host_key=true", api.TypeSSH, "ssh", "h:22"},
		{"postgres://app:pw@h/orders", api.TypeDB, "postgres", "h:5432"},
		{"postgresql://app@h:6543/orders", api.TypeDB, "postgres", "h:6543"},
		{"mysql://app:pw@h/orders", api.TypeDB, "mysql", "h:3306"},
		{"mariadb://app@h:3307", api.TypeDB, "mysql", "h:3307"},
		{"http://h:8080/app", api.TypeHTTP, "http", "h:8080"},
		{"https://h/", api.TypeHTTP, "http", "h:443"},
		{"vnc://:pw@h:5901", api.TypeVNC, "vnc", "h:5901"},
		{"rdp://user:pw@h", api.TypeRDP, "rdp", "h:3389"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			r, err := ParseResourceURL("r", tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if r.Type != tc.typ || r.Protocol != tc.protocol || r.Address != tc.addr {
				t.Fatalf("got type %s protocol %s address %s", r.Type, r.Protocol, r.Address)
			}
		})
	}
	fc, err := ParseConfig([]byte("resources:\n  - {name: pg, type: postgres, address: 'h:5432', user: app, password: pw}\n"))
	if err != nil || fc.Resources[0].Type != api.TypeDB || fc.Resources[0].Protocol != "postgres" {
		t.Fatalf("long-form postgres: %+v %v", fc, err)
	}
	if _, err := ParseConfig([]byte("resources:\n  - {name: pg, type: db, address: 'h:5432'}\n")); err == nil || !strings.Contains(err.Error(), "postgres or mysql") {
		t.Fatalf("type db without a protocol: %v", err)
	}
}
