package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// search answers GET /v1/search?q=TEXT&type=&since=&user=&input=1&limit=:
// lines of recorded terminal output (or typed input with input=1) holding
// the words of q as a phrase, newest sessions first. A user role only ever
// searches its own sessions.
func (h *handler) search(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := auth.CheckAny(p, auth.SessionsReplay); err != nil {
		h.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	sq := store.SearchQuery{Text: strings.TrimSpace(q.Get("q"))}
	if sq.Text == "" {
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "q is required: the text to search for"))
		return
	}
	var err error
	if sq.Types, err = parseTypes(q); err != nil {
		h.writeError(w, r, err)
		return
	}
	if sq.Since, err = parseTime(q, api.QuerySince); err != nil {
		h.writeError(w, r, err)
		return
	}
	if sq.Limit, err = parseLimit(q, 50); err != nil {
		h.writeError(w, r, err)
		return
	}
	switch v := q.Get("input"); v {
	case "", "0", "false":
	case "1", "true":
		sq.Input = true
	default:
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "input=%q: want 0 or 1", v))
		return
	}
	sq.Users = listParam(q, api.QueryUser)
	if auth.ScopeOf(p.Role, auth.SessionsReplay) != auth.ScopeAll {
		sq.Users = []string{p.User}
	}
	found, err := h.cfg.Store.SearchRecordings(r.Context(), sq)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hits := make([]api.SearchHit, 0, len(found))
	sessions := map[string]*api.Session{}
	for _, f := range found {
		s, ok := sessions[f.SessionID]
		if !ok {
			got, err := h.cfg.Store.GetSession(r.Context(), f.SessionID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				h.writeError(w, r, err)
				return
			}
			if err == nil {
				s = &got
			}
			sessions[f.SessionID] = s
		}
		if s == nil {
			continue // deleted meanwhile
		}
		hits = append(hits, api.SearchHit{
			SessionID: f.SessionID, OffsetSeconds: f.At.Seconds(), Input: f.Input, Line: f.Line,
			User: s.User, Resource: s.Resource, Type: s.Type, CreatedAt: s.CreatedAt,
		})
	}
	h.audit(r.Context(), r, p, "session.search", sq.Text, api.OutcomeSuccess, "", map[string]string{"hits": strconv.Itoa(len(hits))})
	writeJSON(w, http.StatusOK, hits)
}

// files answers GET /v1/sessions/{id}/files?op=upload,download: the
// session's file activity (SFTP, scp), oldest first.
func (h *handler) files(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ops := listParam(r.URL.Query(), "op")
	for _, op := range ops {
		if !validFileOp(op) {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "op=%q: want one of %s", op, strings.Join(api.FileOps, ", ")))
			return
		}
	}
	s, ok := h.loadSession(w, r, p, auth.SessionsShow)
	if !ok {
		return
	}
	evs, err := h.cfg.Store.ListFileEvents(r.Context(), s.ID, ops)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if evs == nil {
		evs = []api.FileEvent{}
	}
	writeJSON(w, http.StatusOK, evs)
}

func validFileOp(op string) bool {
	for _, o := range api.FileOps {
		if o == op {
			return true
		}
	}
	return false
}
