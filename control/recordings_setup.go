package control

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
)

// openRecordings opens the recording stores (the local directory and the
// storage setting in force, see recordings.Router), the retention job and
// the Admin serving verification and settings.
func (s *Server) openRecordings(ctx context.Context) (*recordings.Admin, error) {
	dir, err := recordings.NewDir(filepath.Join(s.cfg.DataDir, "recordings"))
	if err != nil {
		return nil, fmt.Errorf("open the recordings directory: %w", err)
	}
	if s.recs, err = recordings.NewRouter(ctx, dir, s.store, s.cfg.RecordingStorage, s.cfg.Clock); err != nil {
		return nil, err
	}
	admin, err := recordings.NewAdmin(recordings.AdminConfig{Store: s.store, Router: s.recs,
		DefaultStorage: s.cfg.RecordingStorage, DefaultRetention: s.cfg.Retention, Clock: s.cfg.Clock})
	if err != nil {
		return nil, fmt.Errorf("recording retention: %w", err)
	}
	s.retention, err = recordings.NewRetentionJob(recordings.RetentionConfig{
		Store: s.store, Blobs: s.recs, Settings: admin.Retention, Interval: s.cfg.RetentionInterval,
		Clock: s.cfg.Clock, Logger: s.log.With("component", "retention"), NewID: store.NewID,
	})
	if err != nil {
		return nil, err
	}
	return admin, nil
}
