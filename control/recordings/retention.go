package recordings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Plans maps each plan to its retention period in days (-1: unlimited).
var Plans = map[string]int{"free": 7, "team": 90, "enterprise": -1}

// DefaultRetention is the retention when nothing is configured.
var DefaultRetention = api.RetentionSettings{Plan: "free"}

// CheckRetention validates r and fills in EffectiveDays.
func CheckRetention(r api.RetentionSettings) (api.RetentionSettings, error) {
	days, ok := Plans[r.Plan]
	if !ok {
		names := make([]string, 0, len(Plans))
		for n := range Plans {
			names = append(names, n)
		}
		sort.Strings(names)
		return r, fmt.Errorf("unknown plan %q (want %s)", r.Plan, strings.Join(names, ", "))
	}
	switch {
	case r.Days < -1:
		return r, fmt.Errorf("retention days %d: want a number of days, 0 for the plan's or -1 for unlimited", r.Days)
	case r.Days != 0:
		days = r.Days
	}
	r.EffectiveDays = days
	return r, nil
}

// ExpiredNotice is what readers of an expired recording are told.
func ExpiredNotice(r api.RetentionSettings) string {
	return fmt.Sprintf("recording expired under the %d-day retention of plan %s: change the plan or the retention with onepam settings retention set", r.EffectiveDays, r.Plan)
}

// expiryStore is what the retention job needs of the database.
type expiryStore interface {
	ExpirableRecordings(ctx context.Context, before time.Time, limit int) ([]api.Session, error)
	SetRecording(ctx context.Context, id string, r api.Recording) error
	AddAudit(ctx context.Context, e api.AuditEvent) error
}

// RetentionConfig configures a RetentionJob.
type RetentionConfig struct {
	Store    expiryStore
	Blobs    Deleter                                                  // where the recordings are
	Settings func(ctx context.Context) (api.RetentionSettings, error) // the retention in force
	Interval time.Duration                                            // between runs (default 1 h)
	Batch    int                                                      // recordings per query (default 500)
	Clock    func() time.Time
	Logger   *slog.Logger
	NewID    func() string // audit event ids
}

// Deleter deletes a session's recording.
type Deleter interface {
	Delete(ctx context.Context, sessionID string) error
}

func (c RetentionConfig) withDefaults() (RetentionConfig, error) {
	if c.Store == nil || c.Blobs == nil || c.Settings == nil || c.NewID == nil {
		return c, errors.New("recordings: RetentionConfig needs Store, Blobs, Settings and NewID")
	}
	if c.Interval <= 0 {
		c.Interval = time.Hour
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// RetentionJob deletes recordings older than the retention period: the
// blob goes, the session keeps its metadata with recording state
// "expired", and an audit event recording.expire names it.
type RetentionJob struct{ cfg RetentionConfig }

// NewRetentionJob returns a job; Run it in the background.
func NewRetentionJob(cfg RetentionConfig) (*RetentionJob, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &RetentionJob{cfg: cfg}, nil
}

// Run runs the job now and every Interval until ctx ends.
func (j *RetentionJob) Run(ctx context.Context) {
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	for {
		if n, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.cfg.Logger.Error("recording retention", "err", err, "expired", n)
		} else if n > 0 {
			j.cfg.Logger.Info("recordings expired by retention", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce expires every recording due now and returns how many. A
// recording that cannot be deleted (its store unreachable, say) is
// skipped for this run and named in the error; the others still expire.
func (j *RetentionJob) RunOnce(ctx context.Context) (int, error) {
	r, err := j.cfg.Settings(ctx)
	if err != nil {
		return 0, err
	}
	if r, err = CheckRetention(r); err != nil {
		return 0, err
	}
	if r.EffectiveDays < 0 {
		return 0, nil
	}
	before := j.cfg.Clock().Add(-time.Duration(r.EffectiveDays) * 24 * time.Hour)
	n := 0
	failed := map[string]bool{}
	var errs []error
	for {
		limit := j.cfg.Batch + len(failed)
		ss, err := j.cfg.Store.ExpirableRecordings(ctx, before, limit)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		progress := false
		for _, s := range ss {
			if failed[s.ID] {
				continue
			}
			progress = true
			if err := j.cfg.Blobs.Delete(ctx, s.ID); err != nil {
				failed[s.ID] = true
				errs = append(errs, fmt.Errorf("delete the recording of session %s: %w", s.ID, err))
				continue
			}
			rec := s.Recording
			rec.State, rec.Available = api.RecordingExpired, false
			if err := j.cfg.Store.SetRecording(ctx, s.ID, rec); err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			e := api.AuditEvent{ID: j.cfg.NewID(), Time: j.cfg.Clock().UTC(), Actor: "system", Action: "recording.expire",
				Target: s.ID, Outcome: api.OutcomeSuccess, Detail: ExpiredNotice(r)}
			if err := j.cfg.Store.AddAudit(ctx, e); err != nil {
				j.cfg.Logger.Error("write audit event", "action", e.Action, "err", err)
			}
			n++
		}
		if len(ss) < limit || !progress {
			return n, errors.Join(errs...)
		}
	}
}
