package apps

import (
	"context"
	"errors"
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/policy"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// serveApp serves one request for app name: the reserved /_onepam/ paths,
// else login, policy and the session, then the upstream through it.
func (a *Apps) serveApp(w http.ResponseWriter, r *http.Request, name string) {
	switch r.URL.Path {
	case callbackPath:
		a.callback(w, r, name)
		return
	case logoutPath:
		a.logout(w, r, name)
		return
	}
	l, err := a.loginOf(r, name)
	if err != nil {
		a.cfg.Logger.Error("look up app login", "app", name, "err", err)
		a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: "internal error: " + err.Error()})
		return
	}
	if l == nil {
		a.redirectToLogin(w, r, name)
		return
	}
	if msg := l.terminatedMessage(); msg != "" {
		a.terminatedPage(w, l, msg)
		return
	}
	ws, err := a.cfg.Auth.WebSessionByKey(r.Context(), l.webSessionKey)
	if err != nil {
		if api.CodeOf(err) != api.CodeUnauthenticated {
			a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: err.Error()})
			return
		}
		// The console's login ended (logout, token revoked or expired,
		// user removed): so does the app's.
		a.forget(r.Context(), l)
		a.redirectToLogin(w, r, name)
		return
	}
	p := ws.Principal
	if o := r.Header.Get("Origin"); isUpgrade(r) && o != "" && !sameOrigin(o, r.Host) {
		// Cross-site WebSocket hijacking: the cookie would go along.
		a.cfg.Logger.Info("cross-origin upgrade refused", "app", name, "origin", o)
		a.page(w, http.StatusForbidden, pageData{Title: "Access denied", Message: "A WebSocket from another origin (" + o + ") may not use this app."})
		return
	}
	if err := a.authorize(r, p, name); err != nil {
		a.errorPage(w, name, err)
		return
	}
	s, err := l.acquire(r.Context(), p, r)
	if err != nil {
		var oe *sessions.OtherNodeError
		switch {
		case api.CodeOf(err) == api.CodeTerminated:
			a.terminatedPage(w, l, l.terminatedMessage())
		case errors.As(err, &oe):
			a.forward(w, r, name, oe)
		default:
			a.errorPage(w, name, err)
		}
		return
	}
	defer l.release(s)
	s.proxy.ServeHTTP(w, r)
}

// forward sends a request for app name to the live control node its
// agent is attached to (oe names it), which runs the login's session
// there: the Host header and the app cookie are kept, so that node
// serves the same app to the same login. When it cannot be forwarded the
// error page says why.
func (a *Apps) forward(w http.ResponseWriter, r *http.Request, name string, oe *sessions.OtherNodeError) {
	fail := func(why string) {
		a.cfg.Logger.Info("app request not forwarded", "app", name, "to_node", oe.Node.ID, "reason", why)
		a.errorPage(w, name, oe.Reason(why))
	}
	if a.cfg.Forward == nil {
		fail("this control node does not forward requests")
		return
	}
	a.cfg.Forward.Forward(w, r, oe.Node, fail)
}

// authorize checks that name is an http resource that p may use now (the
// policy is read on every request, so a rule removed takes effect at
// once). A denial is audited (session.denied) and returned as forbidden.
func (a *Apps) authorize(r *http.Request, p auth.Principal, name string) error {
	ctx := r.Context()
	res, err := a.cfg.Store.GetResource(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.Errorf(api.CodeNotFound, "there is no app %q: no resource has this name", name)
	case err != nil:
		return err
	case res.Type != api.TypeHTTP:
		return api.Errorf(api.CodeNotFound, "resource %q is a %s resource: only http resources are published as apps", name, res.Type)
	}
	reason := ""
	if err := auth.Check(p, auth.SessionsConnect, p.User); err != nil {
		reason = "role " + string(p.Role) + " of user \"" + p.User + "\" may not connect to resources"
	} else {
		rules, err := a.cfg.Store.ListPolicyRules(ctx)
		if err != nil {
			return err
		}
		if ok, why := policy.Allowed(rules, p, res.Resource, policy.Access{}); !ok {
			reason = why
		}
	}
	if reason == "" {
		return nil
	}
	a.audit(ctx, r, p.User, "session.denied", name, api.OutcomeDenied, reason, map[string]string{"app": r.Host})
	a.cfg.Logger.Info("app request denied", "app", name, "user", p.User, "reason", reason)
	return api.Errorf(api.CodeForbidden, "%s", reason)
}

// errorPage answers err as a page: 403 for a denial, 404 for an unknown
// app, 502 when the agent or the upstream cannot be reached.
func (a *Apps) errorPage(w http.ResponseWriter, name string, err error) {
	switch code := api.CodeOf(err); code {
	case api.CodeForbidden:
		a.page(w, http.StatusForbidden, pageData{Title: "Access denied", Message: err.Error()})
	case api.CodeNotFound:
		a.page(w, http.StatusNotFound, pageData{Title: "App not found", Message: err.Error()})
	case api.CodeInternal:
		a.cfg.Logger.Error("app request", "app", name, "err", err)
		a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: "internal error: " + err.Error()})
	default:
		a.page(w, http.StatusBadGateway, pageData{Title: name + " is not reachable", Message: err.Error(), Link: "/", LinkText: "Try again"})
	}
}

// terminatedPage tells the person an administrator ended the session; the
// login is forgotten, so the next request signs in again (a new session).
func (a *Apps) terminatedPage(w http.ResponseWriter, l *appLogin, msg string) {
	a.forget(context.Background(), l)
	setCookie(w, a.cfg.CookieName, "", -1)
	a.page(w, http.StatusGone, pageData{Title: "Session terminated", Message: msg + ".", Link: "/", LinkText: "Sign in again"})
}

// waitDone waits for s to end, at most until ctx ends.
func waitDone(ctx context.Context, s *appSession) bool {
	select {
	case <-s.done:
		return true
	case <-ctx.Done():
		return false
	}
}
