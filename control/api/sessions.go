package api

import (
	"errors"
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func (h *handler) createSession(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req api.CreateSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	s, err := h.cfg.Sessions.Create(r.Context(), p, req, clientIP(r))
	if err != nil {
		// The agent is attached to another node: that node creates it.
		h.answerOrForward(w, r, err, body)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

// sessionFilter parses the query of GET /v1/sessions.
func sessionFilter(r *http.Request, p auth.Principal) (store.SessionFilter, error) {
	q := r.URL.Query()
	var f store.SessionFilter
	for _, v := range listParam(q, api.QueryStatus) {
		st, err := api.ParseSessionStatus(v)
		if err != nil {
			return f, api.Errorf(api.CodeInvalid, "status: %v", err)
		}
		f.Statuses = append(f.Statuses, st)
	}
	var err error
	if f.Types, err = parseTypes(q); err != nil {
		return f, err
	}
	f.Users = listParam(q, api.QueryUser)
	if auth.ScopeOf(p.Role, auth.SessionsList) != auth.ScopeAll {
		f.Users = []string{p.User} // a user only ever sees its own sessions
	}
	f.Resources = listParam(q, api.QueryResource)
	if f.Since, err = parseTime(q, api.QuerySince); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q, api.QueryUntil); err != nil {
		return f, err
	}
	if f.Limit, err = parseLimit(q, 50); err != nil {
		return f, err
	}
	f.Cursor = q.Get(api.QueryCursor)
	return f, nil
}

func (h *handler) listSessions(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := auth.CheckAny(p, auth.SessionsList); err != nil {
		h.writeError(w, r, err)
		return
	}
	f, err := sessionFilter(r, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, next, err := h.cfg.Store.ListSessions(r.Context(), f)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) && f.Cursor != "" {
			err = api.Errorf(api.CodeInvalid, "cursor=%q: not a cursor from a previous page (%v)", f.Cursor, err)
		}
		h.writeError(w, r, err)
		return
	}
	if page == nil {
		page = []api.Session{}
	}
	for i := range page {
		h.cfg.Sessions.Overlay(&page[i])
	}
	writeJSON(w, http.StatusOK, api.SessionList{Sessions: page, NextCursor: next})
}

// findSession returns session {id}, or answers the error (404 for an
// unknown or malformed id) and returns false.
func (h *handler) findSession(w http.ResponseWriter, r *http.Request) (api.Session, bool) {
	id := r.PathValue("id")
	s, err := h.cfg.Store.GetSession(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		h.writeError(w, r, api.Errorf(api.CodeNotFound, "session %s not found", id))
		return s, false
	}
	if err != nil {
		h.writeError(w, r, err)
		return s, false
	}
	return s, true
}

// loadSession returns a session p may act on with action, or answers the
// error and returns false.
func (h *handler) loadSession(w http.ResponseWriter, r *http.Request, p auth.Principal, action auth.Action) (api.Session, bool) {
	s, ok := h.findSession(w, r)
	if !ok || !h.check(w, r, p, action, s.User) {
		return s, false
	}
	h.cfg.Sessions.Overlay(&s)
	return s, true
}

func (h *handler) getSession(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if s, ok := h.loadSession(w, r, p, auth.SessionsShow); ok {
		if s.Recording.State == api.RecordingExpired && h.cfg.RecordingAdmin != nil {
			s.Recording.Notice = h.cfg.RecordingAdmin.ExpiredNotice(r.Context())
		}
		writeJSON(w, http.StatusOK, s)
	}
}

func (h *handler) killSession(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	body, err := readBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var req api.KillSessionRequest
	if len(body) != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	kill := func() {
		s, err := h.cfg.Sessions.Kill(r.Context(), p, r.PathValue("id"), req.Reason, clientIP(r))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, s)
	}
	// A session another live node carries is killed there, so that it
	// ends at once; when that node cannot be reached the kill writes the
	// row here, and that node ends the session at its next sweep.
	if h.forwardToCarrier(w, r, p, auth.SessionsKill, body, func(string) { kill() }) {
		return
	}
	kill()
}

func (h *handler) connect(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := sessions.CheckUpgrade(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if r.URL.Query().Get("channel") == api.ChannelMux {
		h.connectMux(w, r, p)
		return
	}
	a, err := h.cfg.Sessions.Attach(r.Context(), p, r.PathValue("id"), r.URL.Query().Get("channel"), r.RemoteAddr)
	if err != nil {
		// Another node carries the session: the connection goes there.
		h.answerOrForward(w, r, err, nil)
		return
	}
	if err := a.Upgrade(w); err != nil {
		h.cfg.Logger.Warn("session upgrade failed", "request_id", requestID(r.Context()), "session_id", a.SessionID(), "err", err)
	}
}

// connectMux serves a channel=mux connection: many data connections of
// one session over one upgraded connection.
func (h *handler) connectMux(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	x, err := h.cfg.Sessions.AttachMux(r.Context(), p, r.PathValue("id"), r.RemoteAddr)
	if err != nil {
		h.answerOrForward(w, r, err, nil)
		return
	}
	if err := x.Upgrade(w); err != nil {
		h.cfg.Logger.Warn("session mux upgrade failed", "request_id", requestID(r.Context()), "session_id", r.PathValue("id"), "err", err)
	}
}

// recordingContentType is the media type of each native format.
func recordingContentType(f api.RecordingFormat) string {
	switch f {
	case api.FormatAsciicast:
		return "application/x-asciicast"
	case api.FormatConnlog, api.FormatQuerylog:
		return "application/x-ndjson"
	case api.FormatHAR:
		return "application/json"
	}
	return "application/octet-stream"
}
