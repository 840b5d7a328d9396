package httpproxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// rewrite maps the person's request onto the upstream: base URL and path
// prefix, Host, the user header (any copy the person sent is dropped),
// the configured headers, X-Forwarded-For/-Host.
func (s *session) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(s.base)
	s.upstreamHeaders(pr.Out, pr.In)
	if x := exchangeOf(pr.In.Context()); x != nil {
		x.setOut(pr.Out)
	}
}

// upstreamHeaders sets everything but the URL on an upstream request out
// made from in.
func (s *session) upstreamHeaders(out, in *http.Request) {
	out.Host = s.cfg.HostHeader // "" sends the upstream host
	for k := range out.Header {
		if strings.HasPrefix(k, "X-Onepam-") {
			out.Header.Del(k)
		}
	}
	if s.cfg.UserHeader != "-" {
		out.Header.Del(s.cfg.UserHeader)
		out.Header.Set(s.cfg.UserHeader, s.info.Open.User)
	}
	for k, v := range s.cfg.Headers {
		out.Header.Set(k, v)
	}
	if b := s.cfg.BasicAuth; b != nil {
		out.SetBasicAuth(b.Username, b.Password)
	}
	out.Header.Del("X-Forwarded-For")
	out.Header.Del("X-Forwarded-Host")
	out.Header.Del("X-Forwarded-Proto")
	out.Header.Del("Forwarded")
	if ip := clientIP(s.info.Open.ClientIP, in); ip != "" {
		out.Header.Set("X-Forwarded-For", ip)
	}
	if in.Host != "" {
		out.Header.Set("X-Forwarded-Host", in.Host)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // do not let Go add its own
	}
}

// clientIP is the person's address as control saw it.
func clientIP(fromControl string, in *http.Request) string {
	if fromControl != "" {
		if h, _, err := net.SplitHostPort(fromControl); err == nil {
			return h
		}
		return fromControl
	}
	return ""
}

// stripBase maps an upstream path to the person's path; false when the
// path is outside the base path.
func (s *session) stripBase(p string) (string, bool) {
	b := s.base.Path
	switch {
	case b == "" || b == "/":
		return p, true
	case p == b:
		return "/", true
	case strings.HasPrefix(p, b+"/"):
		return p[len(b):], true
	}
	return "", false
}

// sameOrigin reports whether u points at the upstream.
func (s *session) sameOrigin(u *url.URL) bool {
	if u.Scheme != "" && !strings.EqualFold(u.Scheme, s.base.Scheme) {
		return false
	}
	return strings.EqualFold(hostPort(u.Host, s.base.Scheme), hostPort(s.base.Host, s.base.Scheme)) ||
		(s.cfg.HostHeader != "" && strings.EqualFold(hostPort(u.Host, s.base.Scheme), hostPort(s.cfg.HostHeader, s.base.Scheme)))
}

func hostPort(h, scheme string) string {
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h
	}
	if scheme == "https" {
		return net.JoinHostPort(h, "443")
	}
	return net.JoinHostPort(h, "80")
}

// location rewrites a Location pointing into the upstream into a path on
// the person's side ("/x"), so redirects work through the local port.
// Anything else is left as it is.
func (s *session) location(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	if u.Host != "" && !s.sameOrigin(u) {
		return loc
	}
	if u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		return loc // relative: the client resolves it on its side
	}
	p, ok := s.stripBase(u.Path)
	if !ok {
		if u.Host != "" {
			return loc
		}
		return loc
	}
	out := url.URL{Path: p, RawQuery: u.RawQuery, Fragment: u.Fragment}
	if u.RawPath != "" {
		if rp, ok := s.stripBase(u.RawPath); ok {
			out.RawPath = rp
		}
	}
	return out.String()
}

// setCookie drops a Domain naming the upstream host and maps a Path under
// the base path, so the person's client keeps and sends the cookie.
func (s *session) setCookie(v string) string {
	parts := strings.Split(v, ";")
	out := parts[:1]
	host := strings.ToLower(s.base.Hostname())
	changed := false
	for _, a := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(a), "=")
		switch strings.ToLower(name) {
		case "domain":
			d := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(val), "."))
			if d == host || (s.cfg.HostHeader != "" && d == strings.ToLower(strings.Split(s.cfg.HostHeader, ":")[0])) {
				changed = true
				continue
			}
		case "path":
			if p, ok := s.stripBase(strings.TrimSpace(val)); ok && p != strings.TrimSpace(val) {
				a = " Path=" + p
				changed = true
			}
		}
		out = append(out, a)
	}
	if !changed {
		return v
	}
	return strings.Join(out, ";")
}

// rewriteResponseHeaders applies location and setCookie to h.
func (s *session) rewriteResponseHeaders(h http.Header) {
	if loc := h.Get("Location"); loc != "" {
		h.Set("Location", s.location(loc))
	}
	if cl := h.Get("Content-Location"); cl != "" {
		h.Set("Content-Location", s.location(cl))
	}
	for i, c := range h["Set-Cookie"] {
		h["Set-Cookie"][i] = s.setCookie(c)
	}
}
