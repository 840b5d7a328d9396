package api

import (
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func (h *handler) listAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.AuditList, "") {
		return
	}
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action")}
	var err error
	if f.Since, err = parseTime(q, "since"); err != nil {
		h.writeError(w, r, err)
		return
	}
	if f.Limit, err = parseLimit(q, 100); err != nil {
		h.writeError(w, r, err)
		return
	}
	evs, err := h.cfg.Store.ListAudit(r.Context(), f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if evs == nil {
		evs = []api.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, evs)
}
