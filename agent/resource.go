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
	sshproxy "github.com/onepam/onepam/agent/proxy/ssh"
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
	// SSH holds an ssh resource's logins, host key check and options (or
	// its built-in target); never announced.
	SSH *sshproxy.TargetConfig
}

// Announce returns the resource as announced to control: name, type,
// labels, description and address, never credentials.
func (r ResourceConfig) Announce() api.Resource {
	a := api.Resource{Name: r.Name, Type: r.Type, Labels: r.Labels, Description: r.Description, Address: r.Address}
	if r.builtin() && a.Description == "" {
		user := r.SSH.User
		if user == "" {
			user = "the agent's user"
		}
		a.Description = "built-in shell of the agent host, as " + user
	}
	return a
}

func (r ResourceConfig) target() proxy.Target {
	t := proxy.Target{Name: r.Name, Type: r.Type, Address: r.Address, Credentials: r.Credentials}
	if r.SSH != nil {
		t.Options = r.SSH
	}
	return t
}

// builtin reports a built-in ssh target (no address).
func (r ResourceConfig) builtin() bool {
	return r.Type == api.TypeSSH && r.SSH != nil && r.SSH.Builtin
}

// schemes maps resource URL schemes to session types. Each protocol adds
// its scheme here when its proxy is registered in proxies.go.
var schemes = map[string]api.SessionType{
	"tcp": api.TypeTCP,
	"ssh": api.TypeSSH,
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
// resource's Credentials, which stay on the agent. SSH URLs are
// ssh://LOGIN@HOST[:PORT]?key=PATH (a private key file), or
// ssh://LOGIN:PASSWORD@HOST[:PORT], with the target's host key given by
// known_hosts=PATH or host_key=KEY (or insecure_ignore_host_key=true), and
// allow_port_forwarding=true; ssh://USER@builtin is the agent host's own
// shell as OS user USER.
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
	typ, ok := schemes[scheme]
	if !ok {
		if scheme == "" {
			return ResourceConfig{}, fmt.Errorf("resource %q: URL %q has no scheme (supported: %s)", name, u.Redacted(), supportedSchemes())
		}
		return ResourceConfig{}, fmt.Errorf("resource %q: unsupported URL scheme %q (supported: %s)", name, scheme+"://", supportedSchemes())
	}
	if typ == api.TypeSSH {
		return parseSSHURL(name, u)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ResourceConfig{}, fmt.Errorf("resource %q: a %s URL is just %s://host:port, got %q", name, scheme, scheme, u.Redacted())
	}
	r := ResourceConfig{Name: name, Type: typ, Address: u.Host}
	if u.User != nil {
		r.Credentials.Username = u.User.Username()
		r.Credentials.Password, _ = u.User.Password()
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
	if r.Type == api.TypeSSH {
		if r.SSH == nil {
			return fmt.Errorf("resource %q: an ssh resource needs logins (with key_file or password) or builtin: true", r.Name)
		}
		if err := r.SSH.Validate(r.Name); err != nil {
			return err
		}
		if r.SSH.Builtin {
			if r.Address != "" {
				return fmt.Errorf("resource %q: a built-in ssh target has no address", r.Name)
			}
			return nil
		}
	} else if r.SSH != nil {
		return fmt.Errorf("resource %q: ssh settings on a %s resource", r.Name, r.Type)
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

// parseSSHURL makes an ssh resource from its URL (see ParseResourceURL).
func parseSSHURL(name string, u *url.URL) (ResourceConfig, error) {
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.Opaque != "" {
		return ResourceConfig{}, fmt.Errorf("resource %q: an ssh URL is ssh://login@host:port?key=PATH, got %q", name, u.Redacted())
	}
	r := ResourceConfig{Name: name, Type: api.TypeSSH, SSH: &sshproxy.TargetConfig{}}
	login := u.User.Username()
	password, hasPassword := u.User.Password()
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return ResourceConfig{}, fmt.Errorf("resource %q: invalid URL query: %v", name, err)
	}
	if u.Hostname() == "builtin" {
		if u.Port() != "" || hasPassword || len(q) > 0 {
			return ResourceConfig{}, fmt.Errorf("resource %q: the built-in target is just ssh://USER@builtin", name)
		}
		r.SSH.Builtin, r.SSH.User = true, login
		return r, nil
	}
	if login == "" {
		return ResourceConfig{}, fmt.Errorf("resource %q: an ssh URL names its login: ssh://login@host:port", name)
	}
	r.Address = u.Host
	if u.Port() == "" && u.Hostname() != "" {
		r.Address = net.JoinHostPort(u.Hostname(), "22")
	}
	creds := sshproxy.LoginConfig{Password: password}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "key":
			creds.KeyFile = v
		case "known_hosts":
			r.SSH.KnownHosts = v
		case "host_key":
			r.SSH.HostKey = v
		case "insecure_ignore_host_key", "allow_port_forwarding":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return ResourceConfig{}, fmt.Errorf("resource %q: %s=%q is not true or false", name, k, v)
			}
			if k == "allow_port_forwarding" {
				r.SSH.AllowPortForwarding = b
			} else {
				r.SSH.InsecureIgnoreHostKey = b
			}
		default:
			return ResourceConfig{}, fmt.Errorf("resource %q: unknown ssh URL option %q (known: key, known_hosts, host_key, insecure_ignore_host_key, allow_port_forwarding)", name, k)
		}
	}
	if hasPassword && creds.KeyFile != "" {
		return ResourceConfig{}, fmt.Errorf("resource %q: give a password or key=PATH, not both", name)
	}
	r.SSH.Logins = map[string]sshproxy.LoginConfig{login: creds}
	return r, nil
}
