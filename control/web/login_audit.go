package web

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// authenticate opens a web session for a token or a user and password.
func (h *handler) authenticate(r *http.Request, req LoginRequest) (auth.WebSession, error) {
	if req.Token != "" {
		return h.cfg.Auth.Login(r.Context(), req.Token)
	}
	pa, ok := h.cfg.Auth.(PasswordAuth)
	if !ok {
		return auth.WebSession{}, api.Errorf(api.CodeUnavailable, "password login is not available: log in with an API token")
	}
	return pa.LoginPassword(r.Context(), req.User, req.Password)
}

// clientIP is the connection's address (no forwarding header is trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginMethod names how a login was attempted, for logs and the audit log.
func loginMethod(req LoginRequest) string {
	if req.Token != "" {
		return "token"
	}
	return "password"
}

// loginFailed counts the failure against the client IP, logs it and
// records it in the audit log (action web.login, outcome denied).
func (h *handler) loginFailed(r *http.Request, req LoginRequest, ip string, err error) {
	if api.CodeOf(err) == api.CodeUnauthenticated {
		h.limiter.fail(ip)
	}
	h.cfg.Logger.Info("console login refused", "client", ip, "method", loginMethod(req), "user", req.User, "err", err)
	outcome := api.OutcomeDenied
	if api.CodeOf(err) != api.CodeUnauthenticated {
		outcome = api.OutcomeError
	}
	actor := req.User
	if actor == "" {
		actor = "anonymous"
	}
	h.audit(r.Context(), api.AuditEvent{Actor: actor, Action: "web.login", Target: req.User, Outcome: outcome, Detail: err.Error(), ClientIP: ip,
		Fields: map[string]string{"method": loginMethod(req)}})
}

// loginSucceeded logs a login and records it in the audit log.
func (h *handler) loginSucceeded(r *http.Request, req LoginRequest, ip string, ws auth.WebSession) {
	h.cfg.Logger.Info("console login", "user", ws.Principal.User, "client", ip, "method", loginMethod(req))
	h.audit(r.Context(), api.AuditEvent{Actor: ws.Principal.User, Action: "web.login", Target: ws.Principal.User, Outcome: api.OutcomeSuccess, ClientIP: ip,
		Fields: map[string]string{"method": loginMethod(req)}})
}

func (h *handler) audit(ctx context.Context, e api.AuditEvent) {
	if h.cfg.Audit == nil {
		return
	}
	e.ID = store.NewID()
	e.Time = h.cfg.Clock().UTC()
	// The answer does not wait for a slow audit write forever.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.cfg.Audit(ctx, e); err != nil {
		h.cfg.Logger.Warn("audit of a console login failed", "err", err)
	}
}
