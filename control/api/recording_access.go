package api

import (
	"context"
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
)

// recordingSession loads session {id} for a read of its recording
// (replay, export, verify, watch, file activity): admins and auditors may,
// a user for its own sessions when the recording-access setting allows it
// (auth.CheckRecording). A refusal is answered 403 with its reason and
// audited as action with outcome denied; a missing session is a 404. It
// reports whether to go on; the caller audits the access itself.
func (h *handler) recordingSession(w http.ResponseWriter, r *http.Request, p auth.Principal, action string) (api.Session, bool) {
	s, ok := h.findSession(w, r)
	if !ok {
		return s, false
	}
	if err := auth.CheckRecording(p, s.User, h.usersOwn(r.Context())); err != nil {
		h.audit(r.Context(), r, p, action, s.ID, api.OutcomeDenied, err.Error(), nil)
		h.writeError(w, r, err)
		return s, false
	}
	h.cfg.Sessions.Overlay(&s)
	return s, true
}

// usersOwn reports whether users may read their own sessions' recordings
// (the recording-access setting; its default without a RecordingAdmin). A
// setting that cannot be read refuses users.
func (h *handler) usersOwn(ctx context.Context) bool {
	if h.cfg.RecordingAdmin == nil {
		return recordings.DefaultRecordingAccess.UsersOwn
	}
	a, err := h.cfg.RecordingAdmin.RecordingAccess(ctx)
	if err != nil {
		h.cfg.Logger.Error("read the recording access setting; users are refused", "request_id", requestID(ctx), "err", err)
		return false
	}
	return a.UsersOwn
}
