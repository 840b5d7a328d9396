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
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// HeaderRecordingFormat names the recording format of a watch answer.
const HeaderRecordingFormat = "X-Onepam-Recording-Format"

// watchSession answers GET /v1/sessions/{id}/watch?live=0|1 (who may:
// recordingSession; audited as session.watch): the session's recording as its inner stream
// (recordings.Inner of the stored bytes: for terminals the asciicast stored
// form), streamed as it grows. live=0 (default) starts at the beginning;
// live=1 starts now: for terminal recordings the answer is the header
// followed by the events recorded from now on. The answer ends when the
// recording is final or the session ended (plus a short grace for the
// agent's last chunk); the client then reads the session to say how it
// ended. A running session carried by another live control node is
// watched there (its agent uploads the recording to that node, whose
// memory holds the live chunks and the session's end); when that node
// cannot be reached it is watched here from storage. An ended session
// that another node ran, whose recording this node's storage does not
// hold, is watched on that node (recordingElsewhere).
func (h *handler) watchSession(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if h.forwardToCarrier(w, r, p, auth.SessionsReplay, nil, func(string) { h.watchHere(w, r, p) }) {
		return
	}
	h.watchHere(w, r, p)
}

// watchHere serves watchSession on this node.
func (h *handler) watchHere(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	live := false
	switch v := r.URL.Query().Get("live"); v {
	case "", "0", "false":
	case "1", "true":
		live = true
	default:
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "live=%q: want 0 or 1", v))
		return
	}
	if h.cfg.Live == nil {
		h.writeError(w, r, api.Errorf(api.CodeUnavailable, "live watching is not enabled on this control server"))
		return
	}
	// Session events first, then the recording's chunks, then the state:
	// an ending between the steps is never missed.
	events, unsubscribe := h.cfg.Sessions.Subscribe()
	defer unsubscribe()
	s, ok := h.recordingSession(w, r, p, "session.watch")
	if !ok {
		return
	}
	fields := map[string]string{"live": strconv.FormatBool(live)}
	fail := func(err error) {
		h.audit(r.Context(), r, p, "session.watch", s.ID, api.OutcomeError, err.Error(), fields)
		h.writeError(w, r, err)
	}
	format := recordingFormat(s)
	if live && format != api.FormatAsciicast {
		h.writeError(w, r, api.Errorf(api.CodeInvalid, "live=1 is available for terminal (asciicast) recordings; watch this %s recording from its start", format))
		return
	}
	if s.Recording.State == api.RecordingExpired {
		fail(h.expiredError(r.Context(), s))
		return
	}
	if s.Status.Terminal() && h.ranElsewhere(s) {
		// Ended on another node: its recording may be in that node's
		// own storage (dir), read there.
		blob, err := h.openBlob(r.Context(), s, format)
		if err != nil {
			if !h.recordingElsewhere(w, r, s, err, fail) {
				fail(err)
			}
			return
		}
		blob.Close()
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	fo, err := h.cfg.Live.Follow(ctx, recordings.FollowConfig{
		Store: h.cfg.Recordings, SessionID: s.ID, Format: format,
		Complete: s.Recording.State == api.RecordingComplete,
	})
	if err != nil {
		fail(err)
		return
	}
	defer fo.Close()
	if s.Status.Terminal() {
		fo.SessionEnded()
	} else {
		go h.followEnd(ctx, s.ID, events, fo)
	}

	var skip int
	if live {
		if skip, err = h.storedRecords(ctx, s.ID, format); err != nil {
			fail(fmt.Errorf("session %s: %w", s.ID, err))
			return
		}
	}
	h.audit(r.Context(), r, p, "session.watch", s.ID, api.OutcomeSuccess, "", fields)
	h.cfg.Logger.Info("session watch started", "request_id", requestID(ctx), "session_id", s.ID, "watcher", p.User, "live", live)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HeaderRecordingFormat, string(format))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	_ = fw.rc.Flush()
	inner := recordings.Inner(fo)
	if live {
		err = copyTerminalFrom(fw, inner, skip)
	} else {
		_, err = io.Copy(fw, inner)
	}
	if err != nil && ctx.Err() == nil {
		h.cfg.Logger.Warn("session watch ended with an error", "request_id", requestID(ctx), "session_id", s.ID, "err", err)
		return
	}
	h.cfg.Logger.Info("session watch ended", "request_id", requestID(ctx), "session_id", s.ID, "watcher", p.User)
}

// followEnd tells fo when session id ends. A subscription dropped for
// lagging is renewed and the stored state checked again.
func (h *handler) followEnd(ctx context.Context, id string, events <-chan sessions.Event, fo *recordings.Follower) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if ok {
				if ev.Session.ID == id && ev.Session.Status.Terminal() {
					fo.SessionEnded()
					return
				}
				continue
			}
			// Dropped (too slow) or shutting down: subscribe again, then
			// check whether the end was missed meanwhile.
			again, unsubscribe := h.cfg.Sessions.Subscribe()
			defer unsubscribe()
			if s, err := h.cfg.Store.GetSession(ctx, id); err != nil || s.Status.Terminal() {
				fo.SessionEnded()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond): // not in a tight loop when shutting down
			}
			events = again
		}
	}
}

// storedRecords counts the complete events of the terminal recording
// stored so far (what a live=1 watcher skips).
func (h *handler) storedRecords(ctx context.Context, id string, format api.RecordingFormat) (int, error) {
	rc, err := h.cfg.Recordings.Open(ctx, id, format)
	if errors.Is(err, recordings.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	rd, err := asciicast.NewReader(recordings.Inner(rc))
	if errors.Is(err, asciicast.ErrTruncated) {
		return 0, nil // not even the header yet
	}
	if err != nil {
		return 0, fmt.Errorf("read the recording: %w", err)
	}
	n := 0
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, asciicast.ErrTruncated) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read the recording: %w", err)
		}
		n++
	}
}

// copyTerminalFrom writes a terminal recording's stored form read from src
// to dst without its first skip events: the header, then the events from
// there on, each pushed to dst as it is read.
func copyTerminalFrom(dst io.Writer, src io.Reader, skip int) error {
	rd, err := asciicast.NewReader(src)
	if err != nil {
		return err
	}
	rec, err := asciicast.NewRecorder(dst, rd.Header())
	if err != nil {
		return err
	}
	if err := rec.Flush(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rec.Close()
		}
		if err != nil {
			rec.Close()
			return err
		}
		if i < skip {
			continue
		}
		switch ev.Type {
		case asciicast.TypeOutput:
			err = rec.Output(ev.Time, ev.Data)
		case asciicast.TypeInput:
			err = rec.Input(ev.Time, ev.Data)
		case asciicast.TypeResize:
			err = rec.Resize(ev.Time, ev.Cols, ev.Rows)
		case asciicast.TypeMarker:
			err = rec.Marker(ev.Time, string(ev.Data))
		}
		if err == nil {
			err = rec.Flush()
		}
		if err != nil {
			return err
		}
	}
}

// flushWriter pushes every write to the client at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	if err := f.rc.Flush(); err != nil {
		return n, err
	}
	return n, nil
}
