package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/onepam/onepam/agent/proxy"
	sshproxy "github.com/onepam/onepam/agent/proxy/ssh"
	"github.com/onepam/onepam/pkg/api"
)

// Credentials are a target's login details; they stay on the agent.
type Credentials = proxy.Credentials

// ResourceConfig is one resource the agent serves, as configured.
type ResourceConfig struct {
	Name string
	Type api.SessionType
	// Protocol names the entry of protocols.go that serves the resource
	// (tcp, ssh, postgres, mysql, http, vnc).
	Protocol    string
	Address     string // target host:port ("" for ssh's built-in target)
	Labels      map[string]string
	Description string
	// Options are the protocol's own settings (its *TargetConfig, with the
	// credentials); they never leave the agent: Announce drops them.
	Options any
}

// Announce returns the resource as announced to control: name, type,
// protocol, labels, description and address, never credentials.
func (r ResourceConfig) Announce() api.Resource {
	a := api.Resource{Name: r.Name, Type: r.Type, Protocol: r.Protocol, Labels: r.Labels, Description: r.Description, Address: r.Address}
	if c, ok := r.Options.(*sshproxy.TargetConfig); ok && c.Builtin && a.Description == "" {
		user := c.User
		if user == "" {
			user = "the agent's user"
		}
		a.Description = "built-in shell of the agent host, as " + user
	}
	return a
}

func (r ResourceConfig) target() proxy.Target {
	return proxy.Target{Name: r.Name, Type: r.Type, Address: r.Address, Options: r.Options}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ParseResourceURL makes a resource from a URL whose scheme names the
// protocol: tcp://HOST:PORT, ssh://LOGIN@HOST?key=PATH (or
// ssh://USER@builtin), postgres://USER:PASSWORD@HOST/DB, mysql://...,
// http(s)://HOST/BASE, vnc://:PASSWORD@HOST:PORT. Credentials in the URL
// stay on the agent.
func ParseResourceURL(name, rawURL string) (ResourceConfig, error) {
	r, err := parseResourceURL(name, rawURL)
	if err != nil {
		return ResourceConfig{}, err
	}
	if err := r.check(); err != nil {
		return ResourceConfig{}, err
	}
	return r, nil
}

// parseResourceURL is ParseResourceURL without the final check (agent.yaml
// may add settings to the URL's).
func parseResourceURL(name, rawURL string) (ResourceConfig, error) {
	if !strings.Contains(rawURL, "://") {
		return ResourceConfig{}, fmt.Errorf("resource %q: want a URL with a scheme, like tcp://host:port (supported: %s)", name, supportedSchemes())
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error repeats the URL, password included
		}
		return ResourceConfig{}, fmt.Errorf("resource %q: invalid URL: %v", name, err)
	}
	scheme := strings.ToLower(u.Scheme)
	p, ok := protocolOfScheme(scheme)
	if !ok {
		if scheme == "" {
			return ResourceConfig{}, fmt.Errorf("resource %q: URL %q has no scheme (supported: %s)", name, u.Redacted(), supportedSchemes())
		}
		return ResourceConfig{}, fmt.Errorf("resource %q: unsupported URL scheme %q (supported: %s)", name, scheme+"://", supportedSchemes())
	}
	r := ResourceConfig{Name: name, Type: p.typ, Protocol: p.name}
	if p.parseURL == nil {
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.User != nil {
			return ResourceConfig{}, fmt.Errorf("resource %q: a %s URL is just %s://host:port, got %q", name, scheme, scheme, u.Redacted())
		}
		r.Address = u.Host
		return r, nil
	}
	addr, opts, err := p.parseURL(u)
	if err != nil {
		return ResourceConfig{}, fmt.Errorf("resource %q: %w", name, err)
	}
	r.Address, r.Options = addr, opts
	return r, nil
}

// check validates one resource.
func (r ResourceConfig) check() error {
	if r.Name == "" {
		return errors.New("a resource has no name")
	}
	if !namePattern.MatchString(r.Name) {
		return fmt.Errorf("resource %q: a name is 1-63 letters, digits, '.', '-' or '_', starting with a letter or digit", r.Name)
	}
	p, ok := protocolNamed(r.Protocol)
	if !ok {
		return fmt.Errorf("resource %q: unknown protocol %q (want one of %s)", r.Name, r.Protocol, protocolNames())
	}
	if r.Type != p.typ {
		return fmt.Errorf("resource %q: protocol %s serves %s sessions, not %s", r.Name, p.name, p.typ, r.Type)
	}
	needsAddress := true
	if p.validate != nil {
		var err error
		if needsAddress, err = p.validate(r.Name, r.Options); err != nil {
			return err
		}
	}
	if !needsAddress {
		if r.Address != "" {
			return fmt.Errorf("resource %q: this %s target has no address", r.Name, p.name)
		}
		return nil
	}
	if r.Address == "" {
		return fmt.Errorf("resource %q: no target address (host:port)", r.Name)
	}
	host, port, err := net.SplitHostPort(r.Address)
	if err != nil {
		return fmt.Errorf("resource %q: target address %q is not host:port: %v", r.Name, r.Address, err)
	}
	if p, err := strconv.Atoi(port); host == "" || err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("resource %q: target address %q needs a host and a port 1-65535", r.Name, r.Address)
	}
	return nil
}

// checkResources validates every resource and refuses duplicate names.
func checkResources(rs []ResourceConfig) error {
	seen := map[string]bool{}
	for _, r := range rs {
		if err := r.check(); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("resource %q is configured twice", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}
