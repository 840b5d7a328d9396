package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/agent/proxy"
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
//	spool_limit: 10GiB                # recording spool size limit (0: none)
//	resources:
//	  - name: pg                      # long form: type is a protocol
//	    type: tcp                     # tcp, ssh, postgres, mysql, http, vnc
//	    address: 127.0.0.1:5432
//	    labels: {env: prod}
//	    description: main database
//	  - name: echo                    # URL form: the scheme gives the protocol,
//	    url: tcp://127.0.0.1:7        # credentials in it stay on the agent
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
//	  - name: orders                  # databases: postgres or mysql
//	    url: postgres://app:s3cret@10.0.0.7/orders?sslmode=verify-full&sslrootcert=/etc/onepam/pg-ca.pem
//	  - name: grafana                 # web applications
//	    url: https://grafana.internal:3000/
//	  - name: build-desktop           # VNC desktops
//	    url: vnc://:s3cret@10.0.0.8:5901
//	  - name: win-jump                # RDP desktops (TLS or NLA towards the server)
//	    url: rdp://CORP%5Cops:s3cret@10.0.0.9?security=nla&cert_fingerprint=HEX
//
// Each protocol's settings are documented with its TargetConfig in
// agent/proxy/<protocol>.
type FileConfig struct {
	Name      string
	Control   string
	Token     string
	DataDir   string
	Recording string // "", "fail-closed", "fail-open" or "off"
	// SpoolLimit is spool_limit in bytes: 0 when not set, -1 for "0" (no
	// limit).
	SpoolLimit int64
	Resources  []ResourceConfig
}

type fileYAML struct {
	Name       string      `yaml:"name"`
	Control    string      `yaml:"control"`
	Token      string      `yaml:"token"`
	DataDir    string      `yaml:"data_dir"`
	Recording  string      `yaml:"recording"`
	SpoolLimit string      `yaml:"spool_limit"`
	Resources  []yaml.Node `yaml:"resources"`
}

// commonYAML is what every resource entry has; the rest belongs to its
// protocol.
type commonYAML struct {
	Name        string            `yaml:"name"`
	Type        string            `yaml:"type"`
	Address     string            `yaml:"address"`
	URL         string            `yaml:"url"`
	Labels      map[string]string `yaml:"labels"`
	Description string            `yaml:"description"`
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
	if y.SpoolLimit != "" {
		n, err := ParseSize(y.SpoolLimit)
		if err != nil {
			return FileConfig{}, fmt.Errorf("spool_limit: %w", err)
		}
		fc.SpoolLimit = n
		if n == 0 {
			fc.SpoolLimit = -1
		}
	}
	for i := range y.Resources {
		r, err := parseResourceYAML(&y.Resources[i])
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

// parseResourceYAML reads one resource entry: the common fields, then its
// protocol's settings (a URL's settings merged with the entry's where the
// protocol allows it).
func parseResourceYAML(node *yaml.Node) (ResourceConfig, error) {
	var c commonYAML
	if err := node.Decode(&c); err != nil {
		return ResourceConfig{}, fmt.Errorf("line %d: %w", node.Line, err)
	}
	if c.Name == "" {
		return ResourceConfig{}, fmt.Errorf("line %d: a resource has no name", node.Line)
	}
	var r ResourceConfig
	var p protocol
	extra := extraKeys(node)
	if c.URL != "" {
		if c.Type != "" || c.Address != "" {
			return ResourceConfig{}, fmt.Errorf("resource %q: give either url or type and address, not both", c.Name)
		}
		var err error
		if r, err = parseResourceURL(c.Name, c.URL); err != nil {
			return ResourceConfig{}, err
		}
		p, _ = protocolNamed(r.Protocol)
		if len(extra) > 0 {
			if p.merge == nil {
				return ResourceConfig{}, fmt.Errorf("resource %q: %s is given by the url; %s settings (%s) cannot be added beside it", c.Name, p.name, p.name, strings.Join(extra, ", "))
			}
			more, err := p.parseYAML(node)
			if err != nil {
				return ResourceConfig{}, fmt.Errorf("resource %q: %w", c.Name, err)
			}
			r.Options = p.merge(r.Options, more)
		}
	} else {
		var ok bool
		if p, ok = protocolNamed(strings.ToLower(c.Type)); !ok {
			if t, err := api.ParseSessionType(c.Type); err == nil && len(protocolsOfType(t)) > 0 {
				return ResourceConfig{}, fmt.Errorf("resource %q: type %s: name the protocol (%s)", c.Name, t, strings.Join(protocolsOfType(t), " or "))
			}
			return ResourceConfig{}, fmt.Errorf("resource %q: unknown type %q (want one of %s)", c.Name, c.Type, protocolNames())
		}
		r = ResourceConfig{Name: c.Name, Type: p.typ, Protocol: p.name, Address: c.Address}
		switch {
		case p.parseYAML != nil:
			opts, err := p.parseYAML(node)
			if err != nil {
				return ResourceConfig{}, fmt.Errorf("resource %q: %w", c.Name, err)
			}
			r.Options = opts
		case len(extra) > 0:
			return ResourceConfig{}, fmt.Errorf("resource %q: unknown setting %q for a %s resource", c.Name, extra[0], p.name)
		}
	}
	r.Labels, r.Description = c.Labels, c.Description
	return r, r.check()
}

// extraKeys lists the keys of a resource entry beyond the common ones.
func extraKeys(node *yaml.Node) []string {
	var out []string
	if node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k := node.Content[i].Value; !proxy.IsCommonField(k) {
			out = append(out, k)
		}
	}
	return out
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
