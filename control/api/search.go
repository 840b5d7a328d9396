package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// search answers GET /v1/search?q=TEXT&type=&since=&user=&input=1&limit=:
// lines of recorded terminal output (or typed input with input=1) holding
// the words of q as a phrase, newest sessions first. A user role only ever
// searches its own sessions, and only when the recording-access setting
// lets users read their own recordings. Audited as session.search, with
// the sessions found.
func (h *handler) search(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	sq := store.SearchQuery{Text: strings.TrimSpace(q.Get("q"))}
	if sq.Text == "" {
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "q is required: the text to search for"))
		return
	}
	// Users search only their own sessions' recordings, when allowed.
	if err := auth.CheckRecording(p, p.User, h.usersOwn(r.Context())); err != nil {
		h.audit(r.Context(), r, p, "session.search", sq.Text, api.OutcomeDenied, err.Error(), nil)
		h.writeError(w, r, err)
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
	ids := make([]string, 0, len(sessions))
	for _, hit := range hits {
		if !slices.Contains(ids, hit.SessionID) {
			ids = append(ids, hit.SessionID)
		}
	}
	h.audit(r.Context(), r, p, "session.search", sq.Text, api.OutcomeSuccess, "",
		map[string]string{"hits": strconv.Itoa(len(hits)), "sessions": strings.Join(ids, ",")})
	writeJSON(w, http.StatusOK, hits)
}

// files answers GET /v1/sessions/{id}/files?op=upload,download: the
// session's file activity (SFTP, scp), oldest first. Part of the
// recording: who may is recordingSession's rule; audited as
// recording.files.
func (h *handler) files(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ops := listParam(r.URL.Query(), "op")
	for _, op := range ops {
		if !validFileOp(op) {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "op=%q: want one of %s", op, strings.Join(api.FileOps, ", ")))
			return
		}
	}
	s, ok := h.recordingSession(w, r, p, "recording.files")
	if !ok {
		return
	}
	evs, err := h.cfg.Store.ListFileEvents(r.Context(), s.ID, ops)
	if err != nil {
		h.audit(r.Context(), r, p, "recording.files", s.ID, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	if evs == nil {
		evs = []api.FileEvent{}
	}
	h.audit(r.Context(), r, p, "recording.files", s.ID, api.OutcomeSuccess, "", map[string]string{"events": strconv.Itoa(len(evs))})
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
