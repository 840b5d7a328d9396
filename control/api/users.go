package api

import (
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// userNamePattern is what a user name may look like.
var userNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.UsersCreate, "") {
		return
	}
	var req api.CreateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	if !userNamePattern.MatchString(req.Name) {
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "bad user name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", req.Name))
		return
	}
	if req.Role == "" {
		req.Role = api.RoleUser
	}
	role, err := api.ParseRole(string(req.Role))
	if err != nil {
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "%v", err))
		return
	}
	u := api.User{Name: req.Name, Role: role, CreatedAt: h.cfg.Clock().UTC()}
	if err := h.cfg.Store.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			err = api.Errorf(api.CodeConflict, "user %q already exists", req.Name)
		}
		h.audit(r.Context(), r, p, "user.create", req.Name, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	resp := api.CreateUserResponse{User: u}
	if req.TokenTTLSeconds > 0 {
		tok, err := h.cfg.Tokens.Create(r.Context(), u.Name, time.Duration(req.TokenTTLSeconds)*time.Second, "first token")
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		resp.Token = &tok
	}
	h.audit(r.Context(), r, p, "user.create", u.Name, api.OutcomeSuccess, "", map[string]string{"role": string(role)})
	writeJSON(w, http.StatusCreated, resp)
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.UsersList, "") {
		return
	}
	us, err := h.cfg.Store.ListUsers(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if us == nil {
		us = []api.User{}
	}
	writeJSON(w, http.StatusOK, us)
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.UsersDelete, "") {
		return
	}
	name := r.PathValue("name")
	if name == p.User {
		h.writeError(w, r, api.Errorf(api.CodeConflict, "you cannot remove yourself (%q): ask another admin", name))
		return
	}
	if err := h.cfg.Store.DeleteUser(r.Context(), name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = notFound("user", name)
		}
		h.audit(r.Context(), r, p, "user.delete", name, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "user.delete", name, api.OutcomeSuccess, "", nil)
	w.WriteHeader(http.StatusNoContent)
}
