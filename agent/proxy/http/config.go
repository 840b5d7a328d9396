package httpproxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/recordfmt/har"
)

// DefaultUserHeader carries the person's onepam user name upstream.
const DefaultUserHeader = "X-OnePAM-User"

// TargetConfig is the HTTP-specific part of a resource in agent.yaml
// (proxy.Target.Options holds a *TargetConfig for http resources). The
// upstream is scheme://<address><base_path>:
//
//   - name: wiki
//     type: http
//     address: 10.0.0.7:8443
//     scheme: https                  # http (default) or https
//     base_path: /wiki               # upstream path prefix; "" = /
//     tls:                           # https only
//     ca_file: /etc/onepam/wiki-ca.pem   # trust this CA (default: system roots)
//     server_name: wiki.internal         # name to verify (default: the address host)
//     pin_sha256: "ab12…"                # or pin the server certificate (hex SHA-256 of its DER)
//     insecure_skip_verify: false        # labs only
//     headers:                       # added to every upstream request; never shown
//     Authorization: "Bearer …"
//     basic_auth: {username: svc, password: …}  # upstream Basic auth, same
//     host_header: wiki.example.com  # Host sent upstream (default: the upstream host)
//     user_header: X-OnePAM-User     # carries the person's user; "-" disables
//     body_cap: 65536                # bytes of each body recorded; -1 none
//     redact: [password, token, pin] # secret field names (replaces the default list)
//     redact_headers: [X-Session]    # more headers whose values are redacted
//
// The URL form is http(s)://[user:password@]host[:port][/base_path]
// [?option=value&...] (see ParseURL).
type TargetConfig struct {
	Scheme        string            `yaml:"scheme"`
	BasePath      string            `yaml:"base_path"`
	TLS           TLSConfig         `yaml:"tls"`
	Headers       map[string]string `yaml:"headers"`
	BasicAuth     *BasicAuth        `yaml:"basic_auth"`
	HostHeader    string            `yaml:"host_header"`
	UserHeader    string            `yaml:"user_header"`
	BodyCap       int               `yaml:"body_cap"`
	Redact        []string          `yaml:"redact"`
	RedactHeaders []string          `yaml:"redact_headers"`
}

// TLSConfig is how the agent checks an https upstream.
type TLSConfig struct {
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	CAFile             string `yaml:"ca_file"`
	ServerName         string `yaml:"server_name"`
	PinSHA256          string `yaml:"pin_sha256"`
}

// BasicAuth is an upstream login that stays on the agent.
type BasicAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// String redacts header values and the password.
func (c *TargetConfig) String() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("http{scheme:%s base_path:%q headers:%v basic_auth:%t host_header:%q tls:%+v body_cap:%d}",
		c.Scheme, c.BasePath, sortedNames(c.Headers), c.BasicAuth != nil, c.HostHeader, c.TLS, c.BodyCap)
}

// GoString redacts like String.
func (c *TargetConfig) GoString() string { return c.String() }

// LogValue redacts header values and the password in logs.
func (c *TargetConfig) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("scheme", c.Scheme), slog.String("base_path", c.BasePath),
		slog.Any("headers", sortedNames(c.Headers)), slog.Bool("basic_auth", c.BasicAuth != nil),
		slog.String("host_header", c.HostHeader), slog.Bool("tls_insecure", c.TLS.InsecureSkipVerify))
}

func sortedNames(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// withDefaults fills in the defaults: scheme http, user header
// X-OnePAM-User, body cap 64 KiB, the default redaction list.
func (c TargetConfig) withDefaults() TargetConfig {
	if c.Scheme == "" {
		c.Scheme = "http"
	}
	c.Scheme = strings.ToLower(c.Scheme)
	if c.UserHeader == "" {
		c.UserHeader = DefaultUserHeader
	}
	if c.BodyCap == 0 {
		c.BodyCap = har.DefaultBodyCap
	}
	if c.BodyCap < 0 {
		c.BodyCap = 0
	}
	if c.Redact == nil {
		c.Redact = har.DefaultSecretFields
	}
	return c
}

// Validate checks the settings.
func (c *TargetConfig) Validate() error {
	switch strings.ToLower(c.Scheme) {
	case "", "http":
		if c.TLS != (TLSConfig{}) {
			return errors.New("tls settings need scheme https")
		}
	case "https":
	default:
		return fmt.Errorf("scheme %q: want http or https", c.Scheme)
	}
	if c.BasePath != "" && !strings.HasPrefix(c.BasePath, "/") {
		return fmt.Errorf("base_path %q must start with /", c.BasePath)
	}
	for name, v := range c.Headers {
		if !validHeaderName(name) || strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("headers: %q is not a valid header (name or value)", name)
		}
	}
	if c.UserHeader != "" && c.UserHeader != "-" && !validHeaderName(c.UserHeader) {
		return fmt.Errorf("user_header %q is not a valid header name", c.UserHeader)
	}
	if c.HostHeader != "" && strings.ContainsAny(c.HostHeader, " /\r\n\t") {
		return fmt.Errorf("host_header %q is not a host", c.HostHeader)
	}
	if c.BasicAuth != nil && c.BasicAuth.Username == "" {
		return errors.New("basic_auth needs a username")
	}
	if c.TLS.CAFile != "" {
		if _, err := loadCA(c.TLS.CAFile); err != nil {
			return err
		}
	}
	if c.TLS.PinSHA256 != "" {
		if _, err := parsePin(c.TLS.PinSHA256); err != nil {
			return err
		}
	}
	return nil
}

func loadCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// parsePin accepts "sha256:<hex>", "<hex>" or colon-separated hex.
func parsePin(s string) ([]byte, error) {
	h := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(s), "sha256:"), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("tls.pin_sha256 %q: want the 64 hex digits of the certificate's SHA-256", s)
	}
	return b, nil
}

// tlsConfig builds the client TLS settings for host (the address host).
func (c *TargetConfig) tlsConfig(host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if c.TLS.CAFile != "" {
		pool, err := loadCA(c.TLS.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.TLS.PinSHA256 != "" {
		pin, err := parsePin(c.TLS.PinSHA256)
		if err != nil {
			return nil, err
		}
		tc.InsecureSkipVerify = true // the pin replaces chain verification
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("upstream sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if string(sum[:]) != string(pin) {
				return fmt.Errorf("upstream certificate sha256:%x does not match the pinned tls.pin_sha256", sum)
			}
			return nil
		}
	}
	return tc, nil
}

// ParseTargetConfig decodes and validates the HTTP fields of one agent.yaml
// resource entry. The common fields (name, type, address, url, labels,
// description) and unknown fields are ignored.
func ParseTargetConfig(node *yaml.Node) (*TargetConfig, error) {
	cfg := new(TargetConfig)
	if node == nil {
		return cfg, nil
	}
	if err := node.Decode(cfg); err != nil {
		return nil, fmt.Errorf("http resource: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("http resource: %w", err)
	}
	return cfg, nil
}

// ParseURL reads the URL form of an HTTP resource:
//
//	http://host[:port][/base_path]
//	https://[user:password@]host[:port][/base_path][?options]
//
// It returns the upstream address (host:port; the port defaults to 80 or
// 443) and the settings. User info becomes upstream basic_auth. Options in
// the query: insecure_skip_verify=true, ca_file=PATH, server_name=NAME,
// pin_sha256=HEX, host_header=HOST, user_header=NAME, body_cap=N,
// redact=a,b,c, redact_headers=A,B, and header=Name:value (repeatable).
func ParseURL(u *url.URL) (string, *TargetConfig, error) {
	cfg := &TargetConfig{Scheme: strings.ToLower(u.Scheme), BasePath: strings.TrimSuffix(u.Path, "/")}
	if cfg.Scheme != "http" && cfg.Scheme != "https" {
		return "", nil, fmt.Errorf("url %s: scheme must be http or https", u.Redacted())
	}
	host := u.Hostname()
	if host == "" {
		return "", nil, fmt.Errorf("url %s: no host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[cfg.Scheme]
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		cfg.BasicAuth = &BasicAuth{Username: u.User.Username(), Password: pw}
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", nil, fmt.Errorf("url option insecure_skip_verify=%q: want true or false", v)
			}
			cfg.TLS.InsecureSkipVerify = b
		case "ca_file":
			cfg.TLS.CAFile = v
		case "server_name":
			cfg.TLS.ServerName = v
		case "pin_sha256":
			cfg.TLS.PinSHA256 = v
		case "host_header":
			cfg.HostHeader = v
		case "user_header":
			cfg.UserHeader = v
		case "body_cap":
			n, err := strconv.Atoi(v)
			if err != nil {
				return "", nil, fmt.Errorf("url option body_cap=%q: want a number of bytes", v)
			}
			cfg.BodyCap = n
		case "redact":
			cfg.Redact = splitList(v)
		case "redact_headers":
			cfg.RedactHeaders = splitList(v)
		case "header":
			cfg.Headers = map[string]string{}
			for _, hv := range vs {
				name, val, ok := strings.Cut(hv, ":")
				if !ok {
					return "", nil, fmt.Errorf("url option header=%q: want Name:value", hv)
				}
				cfg.Headers[strings.TrimSpace(name)] = strings.TrimSpace(val)
			}
		default:
			return "", nil, fmt.Errorf("url %s: unknown option %q (known: insecure_skip_verify, ca_file, server_name, pin_sha256, host_header, user_header, body_cap, redact, redact_headers, header)", u.Redacted(), k)
		}
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, fmt.Errorf("url %s: %w", u.Redacted(), err)
	}
	return net.JoinHostPort(host, port), cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// upstreamURL is the base URL of the upstream.
func (c *TargetConfig) upstreamURL(address string) *url.URL {
	return &url.URL{Scheme: c.Scheme, Host: address, Path: c.BasePath}
}

// secretHeaders are the headers this target adds upstream: their values
// are redacted in the recording whatever their names.
func (c *TargetConfig) secretHeaders() []string {
	hs := append([]string{}, c.RedactHeaders...)
	for k := range c.Headers {
		hs = append(hs, http.CanonicalHeaderKey(k))
	}
	return hs
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 §5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
