package config

import (
	"os"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPath(t *testing.T) {
	cases := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"flag wins", "/a.yaml", map[string]string{EnvConfig: "/b.yaml"}, "/a.yaml"},
		{"env", "", map[string]string{EnvConfig: "/b.yaml", "XDG_CONFIG_HOME": "/x"}, "/b.yaml"},
		{"xdg", "", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/onepam/config.yaml"},
		{"home", "", map[string]string{"HOME": "/h"}, "/h/.config/onepam/config.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Path(tc.flag, env(tc.env))
			if err != nil || got != tc.want {
				t.Fatalf("Path = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestLoadPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.yaml")
	saved := File{Control: "https://c1:7443", Token: "opt_file", CAPin: "sha256:aa", CAPEM: "PEM"}
	if err := Save(path, saved); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	cases := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"file only", nil, Config{Control: "https://c1:7443", Token: "opt_file", CAPin: "sha256:aa", CAPEM: []byte("PEM")}},
		{"env token", map[string]string{EnvToken: "opt_env"}, Config{Control: "https://c1:7443", Token: "opt_env", CAPin: "sha256:aa", CAPEM: []byte("PEM")}},
		{"same control keeps the file", map[string]string{EnvControl: "https://c1:7443"}, Config{Control: "https://c1:7443", Token: "opt_file", CAPin: "sha256:aa", CAPEM: []byte("PEM")}},
		{"other control drops the file's secrets", map[string]string{EnvControl: "https://c2:7443"}, Config{Control: "https://c2:7443"}},
		{"all env", map[string]string{EnvControl: "https://c2:7443", EnvToken: "opt_env", EnvCAPin: "sha256:bb"}, Config{Control: "https://c2:7443", Token: "opt_env", CAPin: "sha256:bb"}},
		{"other pin drops the saved CA", map[string]string{EnvCAPin: "sha256:bb"}, Config{Control: "https://c1:7443", Token: "opt_file", CAPin: "sha256:bb"}},
		{"same pin keeps the saved CA", map[string]string{EnvCAPin: "sha256:aa"}, Config{Control: "https://c1:7443", Token: "opt_file", CAPin: "sha256:aa", CAPEM: []byte("PEM")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(path, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got.Control != tc.want.Control || got.Token != tc.want.Token || got.CAPin != tc.want.CAPin || string(got.CAPEM) != string(tc.want.CAPEM) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			if got.Saved != saved {
				t.Fatalf("saved = %+v", got.Saved)
			}
		})
	}
}

func TestLoadMissingAndBad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(filepath.Join(dir, "none.yaml"), env(nil))
	if err != nil || c.LoggedIn() {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("control: [unclosed"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, env(nil)); err == nil {
		t.Fatal("bad YAML loaded")
	}
}
