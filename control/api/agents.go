package api

import (
	"context"
	"errors"
	"fmt"
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
	places, err := h.agentPlaces(r.Context())
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
		ag := api.Agent{
			ID: a.ID, Name: a.Name, Hostname: a.Hostname, Version: a.Version,
			EnrolledAt: a.EnrolledAt, LastSeenAt: a.LastSeenAt, RevokedAt: a.RevokedAt, Resources: rs, RemoteAddr: a.RemoteAddr,
		}
		if a.RevokedAt == nil {
			ag.Online, ag.NodeID, ag.NodeName = places.where(a.ID, a.NodeID)
		}
		out = append(out, ag)
	}
	writeJSON(w, http.StatusOK, out)
}

// agentPlaces tells the listings whether an agent is online and which
// control node it is attached to: this node when the gateway holds it,
// else the node its row names when that node is live (Config.Node).
type agentPlaces struct {
	self  Node
	gw    Gateway
	other map[string]store.ControlNode // the other live nodes, by id
}

// agentPlaces reads the other live nodes (none unless the database is
// shared).
func (h *handler) agentPlaces(ctx context.Context) (agentPlaces, error) {
	p := agentPlaces{self: h.cfg.Node, gw: h.cfg.Gateway}
	if !h.cfg.Node.Shared {
		return p, nil
	}
	nodes, err := h.cfg.Store.ListNodes(ctx)
	if err != nil {
		return p, fmt.Errorf("list control nodes: %w", err)
	}
	now := h.cfg.Clock()
	for _, n := range nodes {
		if n.ID != h.cfg.Node.ID && now.Sub(n.HeartbeatAt) <= h.cfg.Node.Timeout {
			if p.other == nil {
				p.other = map[string]store.ControlNode{}
			}
			p.other[n.ID] = n
		}
	}
	return p, nil
}

// where returns whether the agent agentID, whose row names the node
// nodeID, is online, and the id and name of its node ("" when offline).
// A row naming this node while the gateway does not hold the agent is
// a detach not written yet: offline.
func (p agentPlaces) where(agentID, nodeID string) (online bool, id, name string) {
	if p.gw.Online(agentID) {
		return true, p.self.ID, p.self.Name
	}
	if n, ok := p.other[nodeID]; ok {
		if n.Name == "" {
			n.Name = n.ID
		}
		return true, n.ID, n.Name
	}
	return false, "", ""
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
	places, err := h.agentPlaces(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// The node of each agent, when another node may hold some.
	agentNode := map[string]string{}
	if len(places.other) > 0 {
		agents, err := h.cfg.Store.ListAgents(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for _, a := range agents {
			agentNode[a.ID] = a.NodeID
		}
	}
	out := make([]api.Resource, 0, len(recs))
	for _, rr := range recs {
		res := rr.Resource
		res.Online, res.NodeID, res.NodeName = places.where(rr.AgentID, agentNode[rr.AgentID])
		if res.Labels == nil {
			res.Labels = map[string]string{}
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, out)
}
