package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// SettingsAdmin reads and changes the recording storage and retention
// settings (stored in the database; control's flags are the defaults).
type SettingsAdmin interface {
	RecordingStorage(ctx context.Context) (api.RecordingStorage, error)
	SetRecordingStorage(ctx context.Context, s api.RecordingStorage, by string) (api.RecordingStorage, error)
	// TestRecordingStorage writes, reads back and deletes a probe object
	// in s (the current storage when s is nil).
	TestRecordingStorage(ctx context.Context, s *api.RecordingStorage) api.StorageTestResult
	Retention(ctx context.Context) (api.RetentionSettings, error)
	SetRetention(ctx context.Context, r api.RetentionSettings, by string) (api.RetentionSettings, error)
	// RecordingAccess says whether users may read the recordings of
	// their own sessions (admins and auditors always may).
	RecordingAccess(ctx context.Context) (api.RecordingAccess, error)
	SetRecordingAccess(ctx context.Context, a api.RecordingAccess, by string) (api.RecordingAccess, error)
}

// settingsRoutes registers the settings API (admins change, admins and
// auditors read; every change and test is audited).
func (h *handler) settingsRoutes(authed func(string, func(http.ResponseWriter, *http.Request, auth.Principal))) {
	authed("GET /v1/settings/recording-storage", h.getRecordingStorage)
	authed("PUT /v1/settings/recording-storage", h.putRecordingStorage)
	authed("POST /v1/settings/recording-storage/test", h.testRecordingStorage)
	authed("GET /v1/settings/retention", h.getRetention)
	authed("PUT /v1/settings/retention", h.putRetention)
	authed("GET /v1/settings/recording-access", h.getRecordingAccess)
	authed("PUT /v1/settings/recording-access", h.putRecordingAccess)
}

func (h *handler) settingsAdmin(w http.ResponseWriter, r *http.Request, p auth.Principal, action auth.Action) (SettingsAdmin, bool) {
	if !h.check(w, r, p, action, "") {
		return nil, false
	}
	if h.cfg.RecordingAdmin == nil {
		h.writeError(w, r, api.Errorf(api.CodeUnavailable, "recording settings are not available on this control server"))
		return nil, false
	}
	return h.cfg.RecordingAdmin, true
}

func (h *handler) getRecordingStorage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsShow)
	if !ok {
		return
	}
	s, err := a.RecordingStorage(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) putRecordingStorage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsChange)
	if !ok {
		return
	}
	var req api.RecordingStorage
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	s, err := a.SetRecordingStorage(r.Context(), req, p.User)
	if err != nil {
		h.audit(r.Context(), r, p, "settings.recording_storage", req.Kind, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "settings.recording_storage", s.Kind, api.OutcomeSuccess, storageName(s), nil)
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) testRecordingStorage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsChange)
	if !ok {
		return
	}
	var req *api.RecordingStorage
	if r.ContentLength != 0 {
		req = new(api.RecordingStorage)
		if err := decodeJSON(w, r, req); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	res := a.TestRecordingStorage(r.Context(), req)
	outcome := api.OutcomeSuccess
	if !res.OK {
		outcome = api.OutcomeError
	}
	h.audit(r.Context(), r, p, "settings.recording_storage.test", "", outcome, res.Message, nil)
	writeJSON(w, http.StatusOK, res)
}

func (h *handler) getRetention(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsShow)
	if !ok {
		return
	}
	s, err := a.Retention(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) putRetention(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsChange)
	if !ok {
		return
	}
	var req api.RetentionSettings
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	s, err := a.SetRetention(r.Context(), req, p.User)
	if err != nil {
		h.audit(r.Context(), r, p, "settings.retention", req.Plan, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "settings.retention", s.Plan, api.OutcomeSuccess, "", map[string]string{"effective_days": strconv.Itoa(s.EffectiveDays)})
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) getRecordingAccess(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsShow)
	if !ok {
		return
	}
	s, err := a.RecordingAccess(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *handler) putRecordingAccess(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, ok := h.settingsAdmin(w, r, p, auth.SettingsChange)
	if !ok {
		return
	}
	var req api.RecordingAccess
	if err := decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	fields := map[string]string{"users_own": strconv.FormatBool(req.UsersOwn)}
	s, err := a.SetRecordingAccess(r.Context(), req, p.User)
	if err != nil {
		h.audit(r.Context(), r, p, "settings.recording_access", "", api.OutcomeError, err.Error(), fields)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "settings.recording_access", "", api.OutcomeSuccess, "", fields)
	writeJSON(w, http.StatusOK, s)
}

// storageName names a storage setting for the audit log (no secrets).
func storageName(s api.RecordingStorage) string {
	if s.Kind == "s3" && s.S3 != nil {
		return "s3://" + s.S3.Endpoint + "/" + s.S3.Bucket + "/" + s.S3.Prefix
	}
	return s.Kind
}
