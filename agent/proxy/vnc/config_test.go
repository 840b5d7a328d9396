package vnc

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseTargetConfig(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("filepw\n"), 0o600)
	cases := []struct {
		name, yaml string
		want       TargetConfig
		wantErr    string
	}{
		{"none", "name: d\ntype: vnc\naddress: h:5900\nlabels: {env: lab}\ndescription: x\n", TargetConfig{}, ""},
		{"password", "name: d\npassword: s3cret\n", TargetConfig{Password: "s3cret"}, ""},
		{"password file", "name: d\npassword_file: " + pwFile + "\n", TargetConfig{PasswordFile: pwFile}, ""},
		{"both", "password: a\npassword_file: " + pwFile + "\n", TargetConfig{}, "not both"},
		{"missing file", "password_file: /nonexistent/pw\n", TargetConfig{}, "no such file"},
		{"unknown field", "passwd: a\n", TargetConfig{}, `unknown field "passwd"`},
		{"not a mapping", "- a\n", TargetConfig{}, "must be a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(c.yaml), &n); err != nil {
				t.Fatal(err)
			}
			got, err := ParseTargetConfig(&n)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || *got != c.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
	tc := &TargetConfig{PasswordFile: pwFile}
	if pw, err := tc.password(); err != nil || pw != "filepw" {
		t.Fatalf("password from file: %q, %v", pw, err)
	}
}

func TestParseURL(t *testing.T) {
	cases := []struct {
		url, addr, pw, wantErr string
	}{
		{"vnc://:s3cret@10.0.0.8:5901", "10.0.0.8:5901", "s3cret", ""},
		{"vnc://:p%40ss@host", "host:5900", "p@ss", ""},
		{"vnc://host:5902", "host:5902", "", ""},
		{"vnc://[::1]:5901", "[::1]:5901", "", ""},
		{"vnc://user:pw@host", "", "", "has a user name"},
		{"vnc://host?color=1", "", "", "unknown URL option"},
		{"vnc://host/path", "", "", "has a path"},
		{"rdp://host", "", "", "scheme"},
		{"vnc://:pw@", "", "", "no host"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			u, err := url.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			addr, tc, err := ParseURL(u)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "pw") && strings.Contains(c.url, ":pw@") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil || addr != c.addr || tc.Password != c.pw {
				t.Fatalf("got %q %+v %v", addr, tc, err)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	tc := TargetConfig{Password: "hunter2"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "cfg", tc)
	for _, s := range []string{tc.String(), fmt.Sprintf("%v %+v %#v", tc, tc, tc), b.String()} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password leaked: %s", s)
		}
	}
}
