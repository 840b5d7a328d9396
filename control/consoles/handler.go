package consoles

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Consoles serves the console routes (see the package comment) and keeps
// the open terminals and database consoles.
type Consoles struct {
	cfg Config
	mux *http.ServeMux

	mu        sync.Mutex
	terminals map[string]*terminal  // session id → open web terminal
	dbs       map[string]*dbConsole // session id → open database console
	openMu    sync.Mutex            // serialises opening database consoles
	closed    bool
}

// New returns the consoles. Call Close on shutdown.
func New(cfg Config) (*Consoles, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Consoles{cfg: cfg, mux: http.NewServeMux(), terminals: map[string]*terminal{}, dbs: map[string]*dbConsole{}}
	c.handle("GET /v1/sessions/{id}/terminal", api.TypeSSH, c.terminal)
	c.handle("POST /v1/sessions/{id}/terminal/files", api.TypeSSH, c.upload)
	c.handle("GET /v1/sessions/{id}/terminal/files", api.TypeSSH, c.download)
	c.handle("GET /v1/sessions/{id}/vnc", api.TypeVNC, c.vnc)
	c.handle("POST /v1/sessions/{id}/query", api.TypeDB, c.query)
	c.handle("DELETE /v1/sessions/{id}/query", api.TypeDB, c.endQuery)
	return c, nil
}

// handle serves pattern, a route of a session of type typ, to
// authenticated callers: here, or on the control node that carries the
// session (forwardToCarrier).
func (c *Consoles) handle(pattern string, typ api.SessionType, fn func(w http.ResponseWriter, r *http.Request, p auth.Principal)) {
	c.mux.Handle(pattern, c.cfg.Auth.Middleware(writeError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		if !ok {
			writeError(w, r, api.Errorf(api.CodeUnauthenticated, "not logged in"))
			return
		}
		if c.forwardToCarrier(w, r, p, typ) {
			return
		}
		fn(w, r, p)
	})))
}

// forwardToCarrier sends r to the live control node that carries its
// session when that is another node (a console's session runs where the
// resource's agent is attached: its terminal, VNC relay or database
// connection can only be served there), and reports whether it answered
// r. A request this node refuses (not the owner, wrong session type, a
// finished session) is answered here, without a hop. When the carrier
// cannot be forwarded to, r is answered other_node with why: a
// WebSocket is accepted and closed with it (close code 4421, which the
// page shows), anything else gets the JSON error.
func (c *Consoles) forwardToCarrier(w http.ResponseWriter, r *http.Request, p auth.Principal, typ api.SessionType) bool {
	id := r.PathValue("id")
	if _, err := c.ownSession(r.Context(), p, id, typ); err != nil {
		return false
	}
	node, ok := c.cfg.Sessions.Carrier(r.Context(), id)
	if !ok {
		return false
	}
	refuse := func(why string) {
		err := api.Errorf(api.CodeOtherNode, "session %s is carried by control node %s, not by this one: connect through that node (not forwarded: %s)",
			id, node.Label(), why)
		c.cfg.Logger.Info("console request not forwarded", "session_id", id, "path", r.URL.Path, "to_node", node.ID, "reason", why)
		if !isWebSocket(r) {
			writeError(w, r, err)
			return
		}
		if ws, ok := c.accept(w, r); ok {
			closeWith(ws, err)
		}
	}
	if c.cfg.Forward == nil {
		refuse("this control node does not forward requests")
		return true
	}
	c.cfg.Forward.Forward(w, r, node, refuse)
	return true
}

// isWebSocket reports whether r asks for a WebSocket.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Wrap returns a handler that serves the console routes and hands every
// other request to next (control's API handler).
func (c *Consoles) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := c.mux.Handler(r); pattern != "" {
			c.mux.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Close ends every open database console (their sessions complete). Web
// terminals and VNC viewers end with their WebSockets, which the HTTP
// server's shutdown and the session manager's close cut.
func (c *Consoles) Close() {
	c.mu.Lock()
	c.closed = true
	dbs := make([]*dbConsole, 0, len(c.dbs))
	for _, d := range c.dbs {
		dbs = append(dbs, d)
	}
	c.mu.Unlock()
	for _, d := range dbs {
		d.close("control shut down")
	}
}

// writeError answers err as the API does: {"error": {"code", "message"}}.
func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	code := api.CodeOf(err)
	msg := err.Error()
	if code == api.CodeInternal {
		msg = "internal error: " + msg
	}
	writeJSON(w, code.HTTPStatus(), api.ErrorBody{Error: &api.Error{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// checkWebSocketCSRF refuses a cookie-authenticated WebSocket request
// whose ?csrf= is not the web session's CSRF token. Bearer-token requests
// pass.
func (c *Consoles) checkWebSocketCSRF(r *http.Request) error {
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	ck, err := r.Cookie(auth.CookieSession)
	if err != nil {
		return api.Errorf(api.CodeUnauthenticated, "not logged in")
	}
	ws, err := c.cfg.Auth.WebSession(r.Context(), ck.Value)
	if err != nil {
		return err
	}
	got := r.URL.Query().Get("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ws.CSRF)) != 1 {
		return api.Errorf(api.CodeForbidden, "missing or wrong csrf query parameter: a console WebSocket opened with the cookie must carry the CSRF token")
	}
	return nil
}

// ownSession returns session id when p owns it and it is of type typ.
func (c *Consoles) ownSession(ctx context.Context, p auth.Principal, id string, typ api.SessionType) (api.Session, error) {
	s, err := c.cfg.Store.GetSession(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid):
		return s, api.Errorf(api.CodeNotFound, "session %s not found", id)
	case err != nil:
		return s, fmt.Errorf("get session %s: %w", id, err)
	case s.User != p.User:
		return s, api.Errorf(api.CodeForbidden, "session %s belongs to user %q: only its owner can use it", id, s.User)
	case s.Type != typ:
		return s, api.Errorf(api.CodeInvalid, "session %s is a %s session, not %s", id, s.Type, typ)
	}
	return s, nil
}

// attachPipe attaches a connection of session id (channel data or events)
// and serves it on one end of an in-memory pipe, whose other end it
// returns: what control writes there goes to the agent as if a CLI had
// sent it. Closing the returned end ends the connection.
func (c *Consoles) attachPipe(ctx context.Context, p auth.Principal, id, channel, clientAddr string) (net.Conn, error) {
	c.cfg.Sessions.MarkWebConsole(id)
	a, err := c.cfg.Sessions.Attach(ctx, p, id, channel, clientAddr)
	if err != nil {
		return nil, err
	}
	ours, theirs := net.Pipe()
	go a.Serve(theirs, nil)
	return ours, nil
}
