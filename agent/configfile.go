package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	sshproxy "github.com/onepam/onepam/agent/proxy/ssh"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
)

// FileConfig is the content of agent.yaml:
//
//	name: web-1                       # agent name (default: hostname)
//	control: control.example:7444     # control's agent address
//	token: <secret>.<pin hex>         # enrollment token, first start only
//	data_dir: /var/lib/onepam-agent
//	recording: fail-closed            # or fail-open, or off
//	resources:
//	  - name: pg                      # long form
//	    type: tcp
//	    address: 127.0.0.1:5432
//	    labels: {env: prod}
//	    description: main database
//	  - name: echo                    # URL form: the scheme gives the type,
//	    url: tcp://127.0.0.1:7        # user info stays on the agent
//	    labels: {env: dev}
//	  - name: web                     # an ssh server
//	    type: ssh
//	    address: 10.0.0.5:22
//	    logins:                       # credentials per login
//	      root: {key_file: /etc/onepam/keys/root}
//	      deploy: {password: s3cret}
//	    default_login: {key_file: /etc/onepam/keys/any}  # other logins
//	    host_key: "ssh-ed25519 AAAA..."  # or known_hosts: PATH
//	    insecure_ignore_host_key: false  # accept any host key (labs only)
//	    allow_port_forwarding: false     # ssh -L through the session
//	  - name: web2                    # URL form of the same
//	    url: ssh://root@10.0.0.6?key=/etc/onepam/keys/root&known_hosts=/etc/onepam/known_hosts
//	  - name: here                    # the agent host itself, no sshd
//	    type: ssh
//	    builtin: true
//	    user: deploy                  # OS user (default: the agent's)
type FileConfig struct {
	Name      string
	Control   string
	Token     string
	DataDir   string
	Recording string // "", "fail-closed", "fail-open" or "off"
	Resources []ResourceConfig
}

type fileYAML struct {
	Name      string         `yaml:"name"`
	Control   string         `yaml:"control"`
	Token     string         `yaml:"token"`
	DataDir   string         `yaml:"data_dir"`
	Recording string         `yaml:"recording"`
	Resources []resourceYAML `yaml:"resources"`
}

type resourceYAML struct {
	Name        string            `yaml:"name"`
	Type        string            `yaml:"type"`
	Address     string            `yaml:"address"`
	URL         string            `yaml:"url"`
	Labels      map[string]string `yaml:"labels"`
	Description string            `yaml:"description"`

	// ssh resources (see sshproxy.TargetConfig)
	Builtin               bool                 `yaml:"builtin"`
	User                  string               `yaml:"user"`
	Logins                map[string]loginYAML `yaml:"logins"`
	DefaultLogin          *loginYAML           `yaml:"default_login"`
	HostKey               string               `yaml:"host_key"`
	KnownHosts            string               `yaml:"known_hosts"`
	InsecureIgnoreHostKey bool                 `yaml:"insecure_ignore_host_key"`
	AllowPortForwarding   bool                 `yaml:"allow_port_forwarding"`
}

// loginYAML is one ssh login's credentials.
type loginYAML struct {
	KeyFile  string `yaml:"key_file"`
	Password string `yaml:"password"`
}

func (l loginYAML) config() sshproxy.LoginConfig {
	return sshproxy.LoginConfig{KeyFile: l.KeyFile, Password: l.Password}
}

// hasSSH reports whether any ssh setting is given.
func (ry resourceYAML) hasSSH() bool {
	return ry.Builtin || ry.User != "" || len(ry.Logins) > 0 || ry.DefaultLogin != nil || ry.HostKey != "" ||
		ry.KnownHosts != "" || ry.InsecureIgnoreHostKey || ry.AllowPortForwarding
}

// sshConfig merges the ssh settings into tc (nil: a new one).
func (ry resourceYAML) sshConfig(tc *sshproxy.TargetConfig) *sshproxy.TargetConfig {
	if tc == nil {
		tc = &sshproxy.TargetConfig{}
	}
	tc.Builtin = tc.Builtin || ry.Builtin
	if ry.User != "" {
		tc.User = ry.User
	}
	for login, l := range ry.Logins {
		if tc.Logins == nil {
			tc.Logins = map[string]sshproxy.LoginConfig{}
		}
		tc.Logins[login] = l.config()
	}
	if ry.DefaultLogin != nil {
		d := ry.DefaultLogin.config()
		tc.DefaultLogin = &d
	}
	if ry.HostKey != "" {
		tc.HostKey = ry.HostKey
	}
	if ry.KnownHosts != "" {
		tc.KnownHosts = ry.KnownHosts
	}
	tc.InsecureIgnoreHostKey = tc.InsecureIgnoreHostKey || ry.InsecureIgnoreHostKey
	tc.AllowPortForwarding = tc.AllowPortForwarding || ry.AllowPortForwarding
	return tc
}

// LoadConfigFile reads and validates an agent.yaml.
func LoadConfigFile(path string) (FileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("read agent config: %w", err)
	}
	fc, err := ParseConfig(b)
	if err != nil {
		return FileConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

// ParseConfig parses the content of an agent.yaml (see FileConfig).
// Unknown keys are errors, so typos do not go unnoticed.
func ParseConfig(b []byte) (FileConfig, error) {
	var y fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil && !errors.Is(err, io.EOF) {
		return FileConfig{}, fmt.Errorf("parse agent config: %w", err)
	}
	fc := FileConfig{Name: y.Name, Control: y.Control, Token: y.Token, DataDir: y.DataDir, Recording: y.Recording}
	if _, _, err := RecordingSetting(y.Recording); err != nil {
		return FileConfig{}, err
	}
	for i, ry := range y.Resources {
		r, err := ry.resource()
		if err != nil {
			return FileConfig{}, fmt.Errorf("resources[%d]: %w", i, err)
		}
		fc.Resources = append(fc.Resources, r)
	}
	if err := checkResources(fc.Resources); err != nil {
		return FileConfig{}, err
	}
	return fc, nil
}

func (ry resourceYAML) resource() (ResourceConfig, error) {
	if ry.Name == "" {
		return ResourceConfig{}, errors.New("a resource has no name")
	}
	var r ResourceConfig
	if ry.URL != "" {
		if ry.Type != "" || ry.Address != "" {
			return ResourceConfig{}, fmt.Errorf("resource %q: give either url or type and address, not both", ry.Name)
		}
		var err error
		if r, err = parseResourceURL(ry.Name, ry.URL); err != nil {
			return ResourceConfig{}, err
		}
	} else {
		t, err := api.ParseSessionType(ry.Type)
		if err != nil {
			return ResourceConfig{}, fmt.Errorf("resource %q: %w", ry.Name, err)
		}
		r = ResourceConfig{Name: ry.Name, Type: t, Address: ry.Address}
		if t == api.TypeSSH {
			r.SSH = ry.sshConfig(nil)
		}
	}
	if ry.hasSSH() {
		if r.Type != api.TypeSSH {
			return ResourceConfig{}, fmt.Errorf("resource %q: builtin, user, logins, default_login, host_key, known_hosts, insecure_ignore_host_key and allow_port_forwarding are for ssh resources, not %s", ry.Name, r.Type)
		}
		if ry.URL != "" {
			r.SSH = ry.sshConfig(r.SSH)
		}
	}
	r.Labels, r.Description = ry.Labels, ry.Description
	return r, r.check()
}

// RecordingSetting parses the recording setting: "" or "fail-closed",
// "fail-open", or "off" (disabled).
func RecordingSetting(s string) (mode record.Mode, disabled bool, err error) {
	if s == "off" {
		return record.FailClosed, true, nil
	}
	mode, err = record.ParseMode(s)
	return mode, false, err
}
