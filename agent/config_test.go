package agent

import (
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
    url: tcp://svc:pw@localhost:7
    labels: {env: dev}
`, check: func(t *testing.T, fc FileConfig) {
			r := fc.Resources[0]
			if r.Type != api.TypeTCP || r.Address != "localhost:7" || r.Credentials.Username != "svc" || r.Credentials.Password != "pw" || r.Labels["env"] != "dev" {
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
		{name: "bad scheme", yaml: "resources:\n  - name: x\n    url: ftp://h:1\n", wantErr: `unsupported URL scheme "ftp://" (supported: tcp://)`},
		{name: "missing name", yaml: "resources:\n  - type: tcp\n    address: h:1\n", wantErr: "has no name"},
		{name: "duplicate names", yaml: "resources:\n  - {name: a, url: 'tcp://h:1'}\n  - {name: a, type: tcp, address: 'h:2'}\n", wantErr: `resource "a" is configured twice`},
		{name: "url and address", yaml: "resources:\n  - {name: a, url: 'tcp://h:1', address: 'h:1'}\n", wantErr: "either url or type and address"},
		{name: "unknown type", yaml: "resources:\n  - {name: a, type: smtp, address: 'h:1'}\n", wantErr: "unknown session type"},
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
		{url: "ssh://root@h:22", wantErr: "unsupported URL scheme"},
		{url: "127.0.0.1:22", wantErr: "scheme"},
		{url: "tcp://h:22/path", wantErr: "just tcp://host:port"},
		{url: "tcp://user:hunter2@h", wantErr: "not host:port"},
		{url: "tcp://user:hunter2@h:1:2:3", wantErr: "not host:port"},
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

func TestCredentialsAreRedacted(t *testing.T) {
	r, err := ParseResourceURL("db", "tcp://admin:hunter2@h:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{r.Credentials.String(), r.Credentials.GoString()} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("credentials printed: %s", s)
		}
	}
	if v := r.Credentials.LogValue().String(); strings.Contains(v, "hunter2") {
		t.Fatalf("credentials logged: %s", v)
	}
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
	dup := []ResourceConfig{{Name: "a", Type: api.TypeTCP, Address: "h:1"}, {Name: "a", Type: api.TypeTCP, Address: "h:2"}}
	if _, err := New(Config{DataDir: t.TempDir(), Resources: dup}); err == nil {
		t.Fatal("duplicate resources accepted")
	}
	ssh := []ResourceConfig{{Name: "s", Type: api.TypeSSH, Address: "h:22"}}
	if _, err := New(Config{DataDir: t.TempDir(), Resources: ssh}); err == nil || !strings.Contains(err.Error(), "no proxy") {
		t.Fatalf("resource without proxy: %v", err)
	}
}
