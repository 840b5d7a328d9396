package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func (h *handler) createToken(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req api.CreateTokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.User == "" {
		req.User = p.User
	}
	if !h.check(w, r, p, auth.TokensCreate, req.User) {
		return
	}
	if _, err := h.cfg.Store.GetUser(r.Context(), req.User); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = notFound("user", req.User)
		}
		h.writeError(w, r, err)
		return
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if req.TTLSeconds < 0 {
		ttl = -1
	}
	tok, err := h.cfg.Tokens.Create(r.Context(), req.User, ttl, req.Name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "token.create", tok.Token.ID, api.OutcomeSuccess, "", map[string]string{"user": req.User, "name": req.Name})
	writeJSON(w, http.StatusCreated, tok)
}

func (h *handler) listTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	user := r.URL.Query().Get("user")
	if auth.ScopeOf(p.Role, auth.TokensList) != auth.ScopeAll && user == "" {
		user = p.User
	}
	if user != "" && !h.check(w, r, p, auth.TokensList, user) {
		return
	}
	ts, err := h.cfg.Store.ListTokens(r.Context(), user)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if ts == nil {
		ts = []api.Token{}
	}
	writeJSON(w, http.StatusOK, ts)
}

func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	tok, err := h.cfg.Store.GetToken(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		h.writeError(w, r, notFound("token", id))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !h.check(w, r, p, auth.TokensRevoke, tok.User) {
		return
	}
	if tok.RevokedAt != nil {
		h.writeError(w, r, api.Errorf(api.CodeConflict, "token %s was already revoked", id))
		return
	}
	if err := h.cfg.Store.RevokeToken(r.Context(), id, h.cfg.Clock().UTC()); err != nil {
		h.audit(r.Context(), r, p, "token.revoke", id, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "token.revoke", id, api.OutcomeSuccess, "", map[string]string{"user": tok.User})
	w.WriteHeader(http.StatusNoContent)
}
