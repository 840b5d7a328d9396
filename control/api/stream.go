package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/onepam/onepam/control/auth"
)

// streamPing is how often an idle event stream gets a comment line, so
// that proxies and browsers keep it open and a gone client is noticed.
const streamPing = 25 * time.Second

// sessionStream answers GET /v1/sessions/stream: server-sent events, one
// "session" event (data: {"kind": "created"|"changed"|"ended", "session":
// {…}}) per change of a session the caller may list. On a shared
// PostgreSQL database the events are those of every control node's
// sessions (sessions.EventRelay), not only this node's. The stream ends
// when the client goes, when control shuts down, when the client reads
// too slowly, or when this node may have missed other nodes' events (its
// listening connection to the database was lost): the browser's
// EventSource reconnects after "retry" ms and the console reloads what
// it may have missed.
func (h *handler) sessionStream(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := auth.CheckAny(p, auth.SessionsList); err != nil {
		h.writeError(w, r, err)
		return
	}
	all := auth.ScopeOf(p.Role, auth.SessionsList) == auth.ScopeAll
	events, cancel := h.cfg.Sessions.Subscribe()
	defer cancel()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !all && ev.Session.User != p.User {
				continue
			}
			h.cfg.Sessions.Overlay(&ev.Session)
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			if _, err := fmt.Fprintf(w, "event: session\ndata: %s\n\n", b); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
