package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// HeaderForwardedBy is set on a request one control node forwards to
// another, to the forwarding node's id. A request that carries it is
// never forwarded again: the node that gets it answers other_node (or,
// for a kill, ends the session through the database) instead.
const HeaderForwardedBy = "X-OnePAM-Forwarded-By"

// Forwarder sends a person's request to another control node: the one
// that holds the agent of the resource asked for, or carries the session.
// Control has one (control/forward.go), shared by the API, the web
// consoles and the published apps.
type Forwarder interface {
	// Forward serves r by sending it to node's URL, the person's
	// Authorization, cookies, Host and other headers kept,
	// HeaderForwardedBy and X-Forwarded-For added, upgrades passed
	// through. When r carries HeaderForwardedBy already (the loop guard),
	// node advertises no URL or cannot be reached, it calls fail with
	// why, before anything was written to w, and fail answers.
	Forward(w http.ResponseWriter, r *http.Request, node store.ControlNode, fail func(why string))
}

// forward sends r to node when this node forwards requests; otherwise,
// or when the forwarder refuses r or cannot reach node, it calls fail
// with why. body is r's body as read by the handler (nil for none).
func (h *handler) forward(w http.ResponseWriter, r *http.Request, node store.ControlNode, body []byte, fail func(why string)) {
	if h.cfg.Forward == nil {
		fail("this control node does not forward requests")
		return
	}
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	h.cfg.Forward.Forward(w, r, node, fail)
}

// answerOrForward answers err, unless it is an *sessions.OtherNodeError:
// that request is forwarded to the node that holds the agent or session,
// or answered other_node with why it was not.
func (h *handler) answerOrForward(w http.ResponseWriter, r *http.Request, err error, body []byte) {
	var oe *sessions.OtherNodeError
	if !errors.As(err, &oe) {
		h.writeError(w, r, err)
		return
	}
	h.forward(w, r, oe.Node, body, func(why string) { h.writeError(w, r, oe.Reason(why)) })
}

// forwardToCarrier forwards r to the live control node that carries
// unfinished session {id} when this node does not run it, for p allowed
// action on it, and reports whether it did; otherwise (or when that node
// cannot be reached) the caller serves r here. Allowed only: a denial is
// answered here, without a hop.
func (h *handler) forwardToCarrier(w http.ResponseWriter, r *http.Request, p auth.Principal, action auth.Action, body []byte, local func(why string)) bool {
	if h.cfg.Forward == nil || auth.ScopeOf(p.Role, action) == auth.ScopeNone {
		return false
	}
	node, ok := h.cfg.Sessions.Carrier(r.Context(), r.PathValue("id"))
	if !ok {
		return false
	}
	h.forward(w, r, node, body, local)
	return true
}

// readBody reads r's body (at most maxBody bytes) and puts it back for
// decodeJSON, returning it to forward.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, api.Errorf(api.CodeInvalid, "request body larger than %d bytes", maxBody)
		}
		return nil, api.Errorf(api.CodeInvalid, "read request body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// ranElsewhere reports whether session s ran on another control node of
// a shared database, whose recording storage may be its own (dir
// storage: that node's data dir).
func (h *handler) ranElsewhere(s api.Session) bool {
	return h.cfg.Node.Shared && s.NodeID != "" && s.NodeID != h.cfg.Node.ID
}

// recordingElsewhere serves a read of session s's recording that this
// node's recording storage does not hold (err, the local read's answer,
// is not found) when s ran on another control node: with dir storage
// each node keeps the recordings of the sessions it carried in its own
// data dir. The request is forwarded to that node when it is live;
// when it is not, advertises no URL, cannot be reached or the request
// was forwarded already, fail gets other_node naming the node and why.
// It reports whether it answered; false (err is another error, the
// recording expired, s ran here or its node is unknown) leaves err to
// the caller. Called only after a local read failed, it costs nothing
// when the recording is here (S3 storage, shared by every node, or a
// session this node ran).
func (h *handler) recordingElsewhere(w http.ResponseWriter, r *http.Request, s api.Session, err error, fail func(error)) bool {
	if api.CodeOf(err) != api.CodeNotFound || s.Recording.State == api.RecordingExpired || !h.ranElsewhere(s) {
		return false
	}
	failWhy := func(label, why string) {
		fail(api.Errorf(api.CodeOtherNode, "session %s ran on control node %s, which keeps its recording in its own recording storage (dir), "+
			"not on this one (%s); it could not be fetched from there: %s. Control nodes that read each other's recordings "+
			"should share S3 recording storage (onepam settings recording-storage set --kind s3 ...)",
			s.ID, label, store.NodeLabel(h.cfg.Node.ID, h.cfg.Node.Name), why))
	}
	node, gerr := h.cfg.Store.GetNode(r.Context(), s.NodeID)
	switch {
	case errors.Is(gerr, store.ErrNotFound):
		failWhy(s.NodeID, "that node is not running (its row of control nodes is gone: it shut down, or stopped and was removed)")
		return true
	case gerr != nil:
		failWhy(s.NodeID, fmt.Sprintf("its row of control nodes could not be read: %v", gerr))
		return true
	}
	if age := h.cfg.Clock().Sub(node.HeartbeatAt); age > h.cfg.Node.Timeout {
		failWhy(node.Label(), fmt.Sprintf("that node is not running (its last heartbeat is %s old, more than %s)", age.Round(time.Second), h.cfg.Node.Timeout))
		return true
	}
	h.forward(w, r, node, nil, func(why string) { failWhy(node.Label(), why) })
	return true
}
