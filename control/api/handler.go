package api

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

type handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler with every route, wrapped in the request
// logging and metrics middleware.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Tokens == nil || cfg.Sessions == nil || cfg.Gateway == nil || cfg.Recordings == nil {
		return nil, errors.New("api: Config.Store, Tokens, Sessions, Gateway and Recordings are required")
	}
	h := &handler{cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	h.routes()
	return h.observe(h.mux), nil
}

func (h *handler) routes() {
	open := func(pattern string, fn http.HandlerFunc) { h.mux.Handle(pattern, fn) }
	authed := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, p auth.Principal)) {
		h.mux.Handle(pattern, h.cfg.Tokens.Middleware(h.writeError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := auth.PrincipalFrom(r.Context())
			fn(w, r, p)
		})))
	}
	open("GET /healthz", h.healthz)
	if h.cfg.Metrics != nil {
		h.mux.Handle("GET /metrics", h.cfg.Metrics.Handler())
	}
	authed("GET /v1/whoami", h.whoami)
	authed("POST /v1/users", h.createUser)
	authed("GET /v1/users", h.listUsers)
	authed("DELETE /v1/users/{name}", h.deleteUser)
	authed("PUT /v1/users/{name}/password", h.setUserPassword)
	authed("POST /v1/tokens", h.createToken)
	authed("GET /v1/tokens", h.listTokens)
	authed("DELETE /v1/tokens/{id}", h.revokeToken)
	authed("GET /v1/policy", h.listPolicy)
	authed("POST /v1/policy", h.addPolicyRule)
	authed("PUT /v1/policy", h.replacePolicy)
	authed("DELETE /v1/policy/{id}", h.deletePolicyRule)
	authed("GET /v1/audit", h.listAudit)
	authed("POST /v1/agents/tokens", h.createEnrollToken)
	authed("GET /v1/agents", h.listAgents)
	authed("DELETE /v1/agents/{agent}", h.removeAgent)
	authed("GET /v1/resources", h.listResources)
	authed("POST /v1/sessions", h.createSession)
	authed("GET /v1/sessions", h.listSessions)
	authed("GET /v1/sessions/stream", h.sessionStream)
	authed("GET /v1/sessions/{id}", h.getSession)
	authed("POST /v1/sessions/{id}/kill", h.killSession)
	authed("GET /v1/sessions/{id}/connect", h.connect)
	authed("GET /v1/sessions/{id}/recording", h.readRecording)
	authed("GET /v1/sessions/{id}/verify", h.verifyRecording)
	authed("GET /v1/sessions/{id}/watch", h.watchSession)
	authed("GET /v1/sessions/{id}/files", h.files)
	authed("GET /v1/search", h.search)
	h.settingsRoutes(authed)
	// Anything else under /v1/ is a JSON 404, not the mux's text answer.
	open("/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, api.Errorf(api.CodeNotFound, "no API route %s %s", r.Method, r.URL.Path))
	})
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) whoami(w http.ResponseWriter, _ *http.Request, p auth.Principal) {
	writeJSON(w, http.StatusOK, api.Whoami{User: p.User, Role: p.Role, TokenID: p.TokenID})
}

// clientIP is the TCP peer's host.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit writes an audit event; failures are logged, not answered.
func (h *handler) audit(ctx context.Context, r *http.Request, p auth.Principal, action, target, outcome, detail string, fields map[string]string) {
	e := api.AuditEvent{
		ID: newID(), Time: h.cfg.Clock().UTC(), Actor: p.User, Action: action, Target: target,
		Outcome: outcome, Detail: detail, ClientIP: clientIP(r), Fields: fields,
	}
	if err := h.cfg.Store.AddAudit(ctx, e); err != nil {
		h.cfg.Logger.Error("write audit event", "request_id", requestID(ctx), "action", action, "target", target, "err", err)
	}
}

// check answers a forbidden error (and audits it) when p may not perform
// action on owner's object; it reports whether to go on.
func (h *handler) check(w http.ResponseWriter, r *http.Request, p auth.Principal, action auth.Action, owner string) bool {
	if err := auth.Check(p, action, owner); err != nil {
		h.writeError(w, r, err)
		return false
	}
	return true
}
