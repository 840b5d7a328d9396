package recordings

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
)

// DefaultRecordingAccess is the recording access until changed: users
// read the recordings of their own sessions (as they always could).
var DefaultRecordingAccess = api.RecordingAccess{UsersOwn: true}

const recordingAccessKey = "recording_access"

// RecordingAccess returns who besides admins and auditors may read
// recordings.
func (a *Admin) RecordingAccess(ctx context.Context) (api.RecordingAccess, error) {
	r := DefaultRecordingAccess
	v, ok, err := a.cfg.Store.GetSetting(ctx, recordingAccessKey)
	if err != nil || !ok {
		return r, err
	}
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return DefaultRecordingAccess, fmt.Errorf("recording access setting: %w", err)
	}
	return r, nil
}

// SetRecordingAccess changes who besides admins and auditors may read
// recordings.
func (a *Admin) SetRecordingAccess(ctx context.Context, r api.RecordingAccess, by string) (api.RecordingAccess, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	return r, a.cfg.Store.PutSetting(ctx, recordingAccessKey, string(b), by, a.cfg.Clock())
}
