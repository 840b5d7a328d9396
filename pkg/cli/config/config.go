// Package config reads and writes the CLI's configuration file, a small
// YAML document saved by `onepam login`:
//
//	control: https://control.example:7443   # control's base URL
//	token: opt_...                          # API bearer token
//	ca_pin: sha256:<hex>                    # pin of control's CA certificate
//	ca_pem: |                               # control's CA certificate (PEM)
//	  -----BEGIN CERTIFICATE-----
//	  ...
//
// The file lives at --config, else $ONEPAM_CONFIG, else
// $XDG_CONFIG_HOME/onepam/config.yaml (~/.config/onepam/config.yaml). It is
// written atomically with mode 0600. ONEPAM_CONTROL, ONEPAM_TOKEN and
// ONEPAM_CA_PIN override the file's values (see Load).
package config

import (
	"errors"
	"fmt"
	"github.com/onepam/onepam/pkg/fsutil"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Environment variables read by Load and Path.
const (
	EnvConfig  = "ONEPAM_CONFIG"
	EnvControl = "ONEPAM_CONTROL"
	EnvToken   = "ONEPAM_TOKEN"
	EnvCAPin   = "ONEPAM_CA_PIN"
)

// File is the YAML document on disk.
type File struct {
	Control string `yaml:"control"`          // control's base URL
	Token   string `yaml:"token"`            // API bearer token
	CAPin   string `yaml:"ca_pin,omitempty"` // "sha256:<hex>" of control's CA
	CAPEM   string `yaml:"ca_pem,omitempty"` // control's CA certificate, PEM
}

// Config is the effective configuration: the file's values overridden by
// the environment.
type Config struct {
	Path    string // the file's path (it may not exist)
	Saved   File   // what the file holds (zero when it does not exist)
	Control string
	Token   string
	CAPin   string
	CAPEM   []byte
}

// LoggedIn reports whether both a control URL and a token are known.
func (c *Config) LoggedIn() bool { return c.Control != "" && c.Token != "" }

// Path returns the configuration file's path: flagValue when set, else
// $ONEPAM_CONFIG, else $XDG_CONFIG_HOME/onepam/config.yaml, else
// $HOME/.config/onepam/config.yaml.
func Path(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if p := getenv(EnvConfig); p != "" {
		return p, nil
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "onepam", "config.yaml"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the CLI config: set --config or %s: %w", EnvConfig, err)
		}
		home = h
	}
	return filepath.Join(home, ".config", "onepam", "config.yaml"), nil
}

// Read reads the file at path; a missing file is an empty File.
func Read(path string) (File, error) {
	var f File
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read CLI config: %w", err)
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("read CLI config %s: %w", path, err)
	}
	return f, nil
}

// Load reads the file at path and applies the environment:
//
//   - ONEPAM_CONTROL replaces the URL. When it names another control than
//     the file's, the file's token and CA are not used for it.
//   - ONEPAM_TOKEN replaces the token.
//   - ONEPAM_CA_PIN replaces the pin; the saved CA certificate is used only
//     when its pin is that pin, so without one every connection pins the CA
//     on first contact.
func Load(path string, getenv func(string) string) (*Config, error) {
	f, err := Read(path)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: path, Saved: f, Control: f.Control, Token: f.Token, CAPin: f.CAPin}
	if f.CAPEM != "" {
		c.CAPEM = []byte(f.CAPEM)
	}
	if v := getenv(EnvControl); v != "" && v != f.Control {
		c.Control, c.Token, c.CAPin, c.CAPEM = v, "", "", nil
	}
	if v := getenv(EnvToken); v != "" {
		c.Token = v
	}
	if v := getenv(EnvCAPin); v != "" && v != c.CAPin {
		c.CAPin, c.CAPEM = v, nil
	}
	return c, nil
}

// Save writes f to path atomically (a temporary file in the same directory,
// synced, then renamed) with mode 0600, creating the directory (0700).
func Save(path string, f File) error {
	b, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode CLI config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return fsutil.WriteFileAtomic(path, b, 0o600)
}
