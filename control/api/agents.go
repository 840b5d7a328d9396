package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func (h *handler) createEnrollToken(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.AgentsEnroll, "") {
		return
	}
	var req api.CreateEnrollTokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.TTLSeconds < 0 {
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "ttl_seconds=%d: want 0 (default, 1 hour) or more", req.TTLSeconds))
		return
	}
	et, err := auth.CreateEnrollToken(r.Context(), h.cfg.Store, h.cfg.CAPin, time.Duration(req.TTLSeconds)*time.Second, p.User, h.cfg.Clock())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "agent.token.create", "enrollment token", api.OutcomeSuccess, "", map[string]string{"expires_at": et.ExpiresAt.Format(time.RFC3339)})
	writeJSON(w, http.StatusCreated, et)
}

func (h *handler) listAgents(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.AgentsList, "") {
		return
	}
	recs, err := h.cfg.Store.ListAgents(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.cfg.Store.ListResources(r.Context(), store.ResourceFilter{})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	names := map[string][]string{}
	for _, rr := range res {
		names[rr.AgentID] = append(names[rr.AgentID], rr.Name)
	}
	out := make([]api.Agent, 0, len(recs))
	for _, a := range recs {
		rs := names[a.ID]
		if rs == nil {
			rs = []string{}
		}
		out = append(out, api.Agent{
			ID: a.ID, Name: a.Name, Hostname: a.Hostname, Version: a.Version,
			Online: a.RevokedAt == nil && h.cfg.Gateway.Online(a.ID), EnrolledAt: a.EnrolledAt,
			LastSeenAt: a.LastSeenAt, RevokedAt: a.RevokedAt, Resources: rs, RemoteAddr: a.RemoteAddr,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) removeAgent(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.AgentsRemove, "") {
		return
	}
	key := r.PathValue("agent")
	a, err := h.cfg.Store.GetAgent(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		a, err = h.cfg.Store.GetAgentByName(r.Context(), key)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		h.writeError(w, r, api.Errorf(api.CodeNotFound, "agent %q not found: list agents with onepam agents ls", key))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if a.RevokedAt != nil {
		h.writeError(w, r, api.Errorf(api.CodeConflict, "agent %q was already removed", a.Name))
		return
	}
	if err := h.cfg.Store.RevokeAgent(r.Context(), a.ID, h.cfg.Clock().UTC()); err != nil {
		h.audit(r.Context(), r, p, "agent.remove", a.Name, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.cfg.Gateway.Disconnect(a.ID, "agent revoked by "+p.User, true)
	h.audit(r.Context(), r, p, "agent.remove", a.Name, api.OutcomeSuccess, "", map[string]string{"agent_id": a.ID})
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listResources(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.ResourcesList, "") {
		return
	}
	q := r.URL.Query()
	types, err := parseTypes(q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f := store.ResourceFilter{Types: types}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "label=%q: want key=value", l))
			return
		}
		if f.Labels == nil {
			f.Labels = map[string]string{}
		}
		f.Labels[k] = v
	}
	recs, err := h.cfg.Store.ListResources(r.Context(), f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]api.Resource, 0, len(recs))
	for _, rr := range recs {
		res := rr.Resource
		res.Online = h.cfg.Gateway.Online(rr.AgentID)
		if res.Labels == nil {
			res.Labels = map[string]string{}
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, out)
}
