package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client.
type Config struct {
	// URL is control's base URL, e.g. https://control.example:7443. A bare
	// host:port is taken as https.
	URL string
	// Token is the API bearer token ("opt_...").
	Token string
	// CAPin is control's CA pin ("sha256:<hex>"), used when CAPEM is empty.
	CAPin string
	// CAPEM is control's CA certificate (PEM); when set it is the only CA
	// trusted and the server's hostname is checked against its certificate.
	CAPEM []byte
	// UserAgent is sent with every request (default "onepam").
	UserAgent string
	// Timeout bounds connecting, the TLS handshake and the wait for an
	// answer's headers (default 30s). Bodies (recordings) and upgraded
	// connections are not limited by it; use the context.
	Timeout time.Duration
}

func (c *Config) setDefaults() {
	if c.UserAgent == "" {
		c.UserAgent = "onepam"
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
}

// ErrUnknownCA is returned by New when neither a CA certificate nor a CA pin
// is configured.
var ErrUnknownCA = errors.New("control's CA is unknown: run onepam login --control URL --token TOKEN (or set ONEPAM_CA_PIN)")

// Client calls control's API. It is safe for concurrent use; connections
// are kept alive and TLS sessions resumed.
type Client struct {
	cfg    Config
	base   *url.URL
	tls    *tls.Config
	dialer *net.Dialer
	http   *http.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	base, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := tlsConfig(cfg, base.Hostname())
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{
		cfg:    cfg,
		base:   base,
		tls:    tlsCfg,
		dialer: dialer,
		http:   &http.Client{Transport: tr},
	}, nil
}

// ParseURL parses control's base URL: https only; a bare host:port is taken
// as https://host:port.
func ParseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("control's URL is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad control URL %q: %w", raw, err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("bad control URL %q: want https://HOST:PORT", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("bad control URL %q: no host", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// URL returns control's base URL.
func (c *Client) URL() string { return c.base.String() }

// Close releases idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

func (c *Client) endpoint(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// send performs a request and returns the answer when it is 2xx; the
// caller closes its body.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path, q), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	c.authorize(req.Header)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{URL: c.URL(), Err: unwrapURLError(err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp.StatusCode, http.StatusText(resp.StatusCode), resp.Body)
	}
	return resp, nil
}

// do performs a JSON request and decodes a JSON answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, q, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

func (c *Client) authorize(h http.Header) {
	if c.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	h.Set("User-Agent", c.cfg.UserAgent)
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
