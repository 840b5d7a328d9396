package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// SetPasswordRequest is the body of PUT /v1/users/{name}/password. (It
// lives here, not in pkg/api, which this change may not touch.)
type SetPasswordRequest struct {
	// Password is the user's new console password (1..72 bytes); "" removes
	// it, leaving token login only.
	Password string `json:"password"`
}

// passwordSetter is the store's console-password method (the sqlite store
// has it; Store does not declare it).
type passwordSetter interface {
	SetUserPassword(ctx context.Context, name, password string) error
}

// PUT /v1/users/{name}/password sets a user's console password (POST
// /web/login with {user, password}): an admin for anyone, a person for
// themself. Audited as user.password (the password never is).
func (h *handler) setUserPassword(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	name := r.PathValue("name")
	if name != p.User && !h.check(w, r, p, auth.UsersCreate, "") {
		return
	}
	var req SetPasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	ps, ok := h.cfg.Store.(passwordSetter)
	if !ok {
		h.writeError(w, r, api.Errorf(api.CodeUnavailable, "this control's store does not keep passwords"))
		return
	}
	if err := ps.SetUserPassword(r.Context(), name, req.Password); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = notFound("user", name)
		case errors.Is(err, store.ErrInvalid):
			err = api.Errorf(api.CodeInvalid, "password not accepted: at most 72 bytes")
		}
		h.audit(r.Context(), r, p, "user.password", name, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	detail := "set"
	if req.Password == "" {
		detail = "removed"
	}
	h.audit(r.Context(), r, p, "user.password", name, api.OutcomeSuccess, detail, nil)
	w.WriteHeader(http.StatusNoContent)
}
