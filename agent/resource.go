package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/pkg/api"
)

// Credentials are a target's login details; they stay on the agent.
type Credentials = proxy.Credentials

// ResourceConfig is one resource the agent serves, as configured. Later
// protocols add their credential fields to Credentials.
type ResourceConfig struct {
	Name        string
	Type        api.SessionType
	Address     string // target host:port
	Labels      map[string]string
	Description string
	// Credentials never leave the agent: Announce drops them.
	Credentials Credentials
}

// Announce returns the resource as announced to control: name, type,
// labels, description and address, never credentials.
func (r ResourceConfig) Announce() api.Resource {
	return api.Resource{Name: r.Name, Type: r.Type, Labels: r.Labels, Description: r.Description, Address: r.Address}
}

func (r ResourceConfig) target() proxy.Target {
	return proxy.Target{Name: r.Name, Type: r.Type, Address: r.Address, Credentials: r.Credentials}
}

// schemes maps resource URL schemes to session types. Each protocol adds
// its scheme here when its proxy is registered in proxies.go.
var schemes = map[string]api.SessionType{
	"tcp": api.TypeTCP,
}

func supportedSchemes() string {
	var s []string
	for k := range schemes {
		s = append(s, k+"://")
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ParseResourceURL makes a resource from a URL whose scheme names the
// protocol, e.g. "tcp://127.0.0.1:5432". User info in the URL becomes the
// resource's Credentials, which stay on the agent.
func ParseResourceURL(name, rawURL string) (ResourceConfig, error) {
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
	typ, ok := schemes[scheme]
	if !ok {
		if scheme == "" {
			return ResourceConfig{}, fmt.Errorf("resource %q: URL %q has no scheme (supported: %s)", name, u.Redacted(), supportedSchemes())
		}
		return ResourceConfig{}, fmt.Errorf("resource %q: unsupported URL scheme %q (supported: %s)", name, scheme+"://", supportedSchemes())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ResourceConfig{}, fmt.Errorf("resource %q: a %s URL is just %s://host:port, got %q", name, scheme, scheme, u.Redacted())
	}
	r := ResourceConfig{Name: name, Type: typ, Address: u.Host}
	if u.User != nil {
		r.Credentials.Username = u.User.Username()
		r.Credentials.Password, _ = u.User.Password()
	}
	if err := r.check(); err != nil {
		return ResourceConfig{}, err
	}
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
	if !r.Type.Valid() {
		return fmt.Errorf("resource %q: unknown type %q (want one of ssh, rdp, vnc, db, http, tcp)", r.Name, r.Type)
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
