package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// RecordingAdmin is what the recording routes need beyond the blob store:
// agents' signing keys (verify), the retention notice of expired
// recordings, and the storage and retention settings. control/recordings'
// Admin implements it.
type RecordingAdmin interface {
	AgentSigningKeys(ctx context.Context, agentID string) ([][]byte, error)
	// ExpiredNotice says why a recording is gone: "recording expired
	// under the N-day retention of plan X: ...".
	ExpiredNotice(ctx context.Context) string
	SettingsAdmin
}

// GET /v1/sessions/{id}/recording (who may: recordingSession)
//
//	format=stored (default) or inner: the inner-format stream (recording
//	    containers decoded; what players and `sessions replay` read)
//	format=native: the native file (.cast, .jsonl, .har, .dpr), as a
//	    download; audited as recording.export
//	format=container: the stored container as it is (evidence); audited
//	    as recording.export
//	from=SECONDS (with the inner stream): start at the frame holding that
//	    session time, reading no frame before it. The stream then starts
//	    at a frame boundary, which may be inside an inner record:
//	    X-Onepam-Raw-Offset gives its offset in the whole inner stream and
//	    X-Onepam-Frame-Time the session time of its first byte (seconds).
//
// X-Onepam-Raw-Size gives the inner stream's size when the container
// knows it (exports show progress with it).
//
// A recording this node's storage does not hold, of a session another
// control node ran, is read on that node (recordingElsewhere; dir storage
// is each node's own), as is a verification's.
func (h *handler) readRecording(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	q := r.URL.Query()
	want := q.Get("format")
	action := "recording.read"
	switch want {
	case "", "stored", "inner":
		want = "inner"
	case "native", "container":
		action = "recording.export"
	default:
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "format=%q: want inner, native or container", want))
		return
	}
	s, ok := h.recordingSession(w, r, p, action)
	if !ok {
		return
	}
	fields := map[string]string{"format": want}
	fail := func(err error) {
		h.audit(r.Context(), r, p, action, s.ID, api.OutcomeError, err.Error(), fields)
		h.writeError(w, r, err)
	}
	var from time.Duration
	if v := q.Get("from"); v != "" {
		sec, err := strconv.ParseFloat(v, 64)
		if err != nil || sec < 0 || sec > 1e9 || want != "inner" {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "from=%q: want seconds (0 or more) with the inner stream", v))
			return
		}
		from, fields["from"] = time.Duration(sec*float64(time.Second)), v
	}
	format := recordingFormat(s)
	blob, err := h.openBlob(r.Context(), s, format)
	if err != nil {
		if !h.recordingElsewhere(w, r, s, err, fail) {
			fail(err)
		}
		return
	}
	defer blob.Close()
	head := make([]byte, len(container.Magic))
	n, _ := blob.ReadAt(head, 0)
	isContainer := n == len(head) && recordings.IsContainer(head)
	var rd *container.Reader
	if isContainer {
		if rd, err = container.Open(blob, blob.Size()); err != nil {
			fail(api.Errorf(api.CodeInternal, "session %s: the stored recording is damaged: %v (see onepam sessions verify %s)", s.ID, err, s.ID))
			return
		}
		w.Header().Set("X-Onepam-Raw-Size", strconv.FormatInt(rd.RawSize(), 10))
	}
	w.Header().Set("Cache-Control", "no-store")
	var body io.Reader
	switch {
	case want == "container":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(blob.Size(), 10))
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+".oprec"))
		body = blob
	case want == "native":
		w.Header().Set("Content-Type", recordingContentType(format))
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", s.ID+recordings.NativeExt(format)))
		h.audit(r.Context(), r, p, action, s.ID, api.OutcomeSuccess, "", fields)
		w.WriteHeader(http.StatusOK)
		if err := recordings.Export(format, w, recordings.Inner(blob)); err != nil {
			h.cfg.Logger.Warn("export recording", "request_id", requestID(r.Context()), "session_id", s.ID, "err", err)
		}
		return
	case fields["from"] != "":
		if rd == nil {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "session %s: its recording was stored before recordings were containers and cannot be read from a time; read it whole", s.ID))
			return
		}
		sk, err := recordings.SeekInner(blob, blob.Size(), from)
		if err != nil {
			fail(err)
			return
		}
		w.Header().Set("X-Onepam-Raw-Offset", strconv.FormatInt(sk.RawOffset, 10))
		w.Header().Set("X-Onepam-Frame-Time", strconv.FormatFloat(sk.FrameTime.Seconds(), 'f', 6, 64))
		body = sk.Inner
	case rd != nil:
		body = rd.StreamFrom(0)
	default:
		body = blob // a legacy raw recording is its inner stream
	}
	if want != "container" {
		w.Header().Set("Content-Type", recordingContentType(format))
	}
	h.audit(r.Context(), r, p, action, s.ID, api.OutcomeSuccess, "", fields)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, body); err != nil {
		h.cfg.Logger.Warn("send recording", "request_id", requestID(r.Context()), "session_id", s.ID, "err", err)
	}
}

func recordingFormat(s api.Session) api.RecordingFormat {
	if s.Recording.Format != "" {
		return s.Recording.Format
	}
	return api.RecordingFormatFor(s.Type)
}

// openBlob opens a session's stored recording for random access, with the
// retention notice for an expired one.
func (h *handler) openBlob(ctx context.Context, s api.Session, format api.RecordingFormat) (recordings.Blob, error) {
	if s.Recording.State == api.RecordingExpired {
		return nil, h.expiredError(ctx, s)
	}
	rc, err := h.cfg.Recordings.Open(ctx, s.ID, format)
	if err != nil {
		if errors.Is(err, recordings.ErrNotFound) || api.CodeOf(err) == api.CodeNotFound {
			return nil, api.Errorf(api.CodeNotFound, "session %s has no stored recording (recording state: %s)", s.ID, s.Recording.State)
		}
		return nil, err
	}
	blob, err := recordings.AsBlob(rc)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return blob, nil
}

// expiredError is the answer to a read of a recording deleted by
// retention: not found, with the retention notice.
func (h *handler) expiredError(ctx context.Context, s api.Session) error {
	notice := "the recording was deleted by retention"
	if h.cfg.RecordingAdmin != nil {
		notice = h.cfg.RecordingAdmin.ExpiredNotice(ctx)
	}
	return api.Errorf(api.CodeNotFound, "session %s: %s", s.ID, notice)
}

// GET /v1/sessions/{id}/verify: api.RecordingVerification (who may:
// recordingSession). Audited as recording.verify.
func (h *handler) verifyRecording(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	s, ok := h.recordingSession(w, r, p, "recording.verify")
	if !ok {
		return
	}
	fail := func(err error) {
		h.audit(r.Context(), r, p, "recording.verify", s.ID, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
	}
	blob, err := h.openBlob(r.Context(), s, recordingFormat(s))
	if err != nil {
		if !h.recordingElsewhere(w, r, s, err, fail) {
			fail(err)
		}
		return
	}
	defer blob.Close()
	var keys [][]byte
	if h.cfg.RecordingAdmin != nil {
		if id, ok := h.agentID(r.Context(), s.Agent); ok {
			if keys, err = h.cfg.RecordingAdmin.AgentSigningKeys(r.Context(), id); err != nil {
				fail(err)
				return
			}
		}
	}
	v, err := recordings.VerifySession(blob, s, keys)
	if err != nil {
		fail(err)
		return
	}
	outcome := api.OutcomeSuccess
	if !v.Intact {
		outcome = api.OutcomeError
	}
	h.audit(r.Context(), r, p, "recording.verify", s.ID, outcome, v.Message, map[string]string{"status": v.Status})
	writeJSON(w, http.StatusOK, v)
}

// agentID resolves a session's agent (its id or name) to an id.
func (h *handler) agentID(ctx context.Context, agent string) (string, bool) {
	if a, err := h.cfg.Store.GetAgent(ctx, agent); err == nil {
		return a.ID, true
	}
	if a, err := h.cfg.Store.GetAgentByName(ctx, agent); err == nil {
		return a.ID, true
	} else if !errors.Is(err, store.ErrNotFound) {
		h.cfg.Logger.Warn("look up agent", "agent", agent, "err", err)
	}
	return "", false
}
