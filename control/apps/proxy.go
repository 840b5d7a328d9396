package apps

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// endWait bounds how long a failed request waits to learn whether its
// session was ending (killed), to show the right page.
const endWait = 2 * time.Second

// newProxy returns the reverse proxy of a session: requests go out on the
// session's transport (data connections of the session) with control's
// cookies removed; the agent sets Host, X-OnePAM-User and X-Forwarded-*.
func (a *Apps) newProxy(s *appSession) *httputil.ReverseProxy {
	ours := []string{a.cfg.CookieName, a.stateCookie()}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = s.login.app
			pr.Out.Host = pr.In.Host
			dropCookies(pr.Out.Header, ours)
			// The agent sends the upstream's own Host: an Origin naming the
			// app host would look cross-site to the upstream (WebSocket
			// origin checks, Origin-based CSRF checks). A same-origin
			// request is the app's own: its Origin is dropped (control
			// refuses cross-origin upgrades itself, in serveApp); any other
			// Origin goes on unchanged.
			if sameOrigin(pr.In.Header.Get("Origin"), pr.In.Host) {
				pr.Out.Header.Del("Origin")
			}
		},
		Transport: s.transport,
		ModifyResponse: func(resp *http.Response) error {
			dropSetCookies(resp.Header, ours)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { a.proxyError(w, r, s, err) },
		ErrorLog:     slog.NewLogLogger(a.cfg.Logger.With("app", s.login.app).Handler(), slog.LevelDebug),
	}
}

// proxyError answers a request that could not be forwarded.
func (a *Apps) proxyError(w http.ResponseWriter, r *http.Request, s *appSession, err error) {
	if r.Context().Err() != nil {
		return // the browser went away
	}
	if api.CodeOf(err) == api.CodeTerminated {
		s.login.markTerminated(err.Error())
	} else {
		// A connection cut by the session's end (a kill) fails the request
		// before the end is known here: wait for it, briefly.
		ctx, cancel := context.WithTimeout(r.Context(), endWait)
		waitDone(ctx, s)
		cancel()
	}
	if msg := s.login.terminatedMessage(); msg != "" {
		a.terminatedPage(w, s.login, msg)
		return
	}
	a.cfg.Logger.Info("app request failed", "session_id", s.id, "app", s.login.app, "err", err)
	a.page(w, http.StatusBadGateway, pageData{Title: s.login.app + " did not answer", Message: err.Error(), Link: "/", LinkText: "Try again"})
}

// dropCookies removes the named cookies from the Cookie headers of h,
// leaving the others byte for byte.
func dropCookies(h http.Header, names []string) {
	vals := h.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name == "" || slices.Contains(names, name) {
				continue
			}
			kept = append(kept, strings.TrimSpace(part))
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// dropSetCookies removes Set-Cookie headers of the named cookies: an
// upstream cannot overwrite control's login cookie.
func dropSetCookies(h http.Header, names []string) {
	vals := h.Values("Set-Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, v := range vals {
		name, _, _ := strings.Cut(v, "=")
		if !slices.Contains(names, strings.TrimSpace(name)) {
			kept = append(kept, v)
		}
	}
	h.Del("Set-Cookie")
	for _, v := range kept {
		h.Add("Set-Cookie", v)
	}
}

// sameOrigin reports whether origin (an Origin header) is https://host,
// host being the request's Host header.
func sameOrigin(origin, host string) bool {
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "https" || u.Path != "" {
		return false
	}
	oh, op := splitHost(u.Host)
	hh, hp := splitHost(host)
	if op == "" {
		op = "443"
	}
	if hp == "" {
		hp = "443"
	}
	return oh == hh && op == hp
}

// isUpgrade reports whether r asks to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
