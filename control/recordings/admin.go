package recordings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// adminStore is what Admin needs of the database.
type adminStore interface {
	AgentSigningKeys(ctx context.Context, agentID string) ([][]byte, error)
	GetSetting(ctx context.Context, key string) (string, bool, error)
	PutSetting(ctx context.Context, key, value, by string, at time.Time) error
}

// AdminConfig configures an Admin.
type AdminConfig struct {
	Store  adminStore
	Router *Router
	// DefaultStorage and DefaultRetention apply until changed through the
	// API (control's flags).
	DefaultStorage   api.RecordingStorage
	DefaultRetention api.RetentionSettings
	Clock            func() time.Time
}

// Admin serves the recording routes' needs beyond the blob store (control
// API's RecordingAdmin): signing keys, retention and storage settings.
type Admin struct{ cfg AdminConfig }

// NewAdmin returns an Admin.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if cfg.Store == nil || cfg.Router == nil {
		return nil, errors.New("recordings: AdminConfig needs Store and Router")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.DefaultRetention.Plan == "" {
		cfg.DefaultRetention = DefaultRetention
	}
	if _, err := CheckRetention(cfg.DefaultRetention); err != nil {
		return nil, err
	}
	return &Admin{cfg: cfg}, nil
}

// AgentSigningKeys returns an agent's recording signing keys.
func (a *Admin) AgentSigningKeys(ctx context.Context, agentID string) ([][]byte, error) {
	return a.cfg.Store.AgentSigningKeys(ctx, agentID)
}

// ExpiredNotice says why expired recordings are gone, under the retention
// in force.
func (a *Admin) ExpiredNotice(ctx context.Context) string {
	r, err := a.Retention(ctx)
	if err != nil {
		return "the recording was deleted by retention"
	}
	return ExpiredNotice(r)
}

const retentionKey = "retention"

// Retention returns the retention in force.
func (a *Admin) Retention(ctx context.Context) (api.RetentionSettings, error) {
	r := a.cfg.DefaultRetention
	v, ok, err := a.cfg.Store.GetSetting(ctx, retentionKey)
	if err != nil {
		return r, err
	}
	if ok {
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return r, fmt.Errorf("retention setting: %w", err)
		}
	}
	return CheckRetention(r)
}

// SetRetention changes the retention.
func (a *Admin) SetRetention(ctx context.Context, r api.RetentionSettings, by string) (api.RetentionSettings, error) {
	r, err := CheckRetention(r)
	if err != nil {
		return r, api.Errorf(api.CodeInvalid, "%v", err)
	}
	b, _ := json.Marshal(api.RetentionSettings{Plan: r.Plan, Days: r.Days})
	if err := a.cfg.Store.PutSetting(ctx, retentionKey, string(b), by, a.cfg.Clock()); err != nil {
		return r, err
	}
	return r, nil
}

// RecordingStorage returns the storage of new recordings, secret hidden.
func (a *Admin) RecordingStorage(ctx context.Context) (api.RecordingStorage, error) {
	s, err := a.cfg.Router.Storage(ctx, a.cfg.DefaultStorage)
	return redact(s), err
}

func redact(s api.RecordingStorage) api.RecordingStorage {
	if s.Kind == "" {
		s.Kind = DirStore
	}
	if s.S3 != nil {
		c := *s.S3
		if c.SecretKey != "" {
			c.SecretKey = "********"
		}
		s.S3 = &c
	}
	return s
}

// checkStorage validates a storage setting; a secret given as "********"
// (from a show) keeps the current one.
func (a *Admin) checkStorage(ctx context.Context, s api.RecordingStorage) (api.RecordingStorage, error) {
	switch s.Kind {
	case "", DirStore:
		return api.RecordingStorage{Kind: DirStore}, nil
	case "s3":
	default:
		return s, api.Errorf(api.CodeInvalid, "recording storage kind %q: want dir or s3", s.Kind)
	}
	if s.S3 == nil || s.S3.Endpoint == "" || s.S3.Bucket == "" {
		return s, api.Errorf(api.CodeInvalid, "s3 storage needs an endpoint and a bucket")
	}
	c := *s.S3
	if c.SecretKey == "********" {
		cur, err := a.cfg.Router.Storage(ctx, a.cfg.DefaultStorage)
		if err != nil {
			return s, err
		}
		c.SecretKey = ""
		if cur.S3 != nil {
			c.SecretKey = cur.S3.SecretKey
		}
	}
	if !c.EnvCredentials && (c.AccessKey == "" || c.SecretKey == "") {
		return s, api.Errorf(api.CodeInvalid, "s3 storage needs an access key and secret key, or env_credentials")
	}
	s.S3 = &c
	return s, nil
}

// SetRecordingStorage switches the storage of new recordings after a
// successful probe; recordings stored before stay where they are.
func (a *Admin) SetRecordingStorage(ctx context.Context, s api.RecordingStorage, by string) (api.RecordingStorage, error) {
	s, err := a.checkStorage(ctx, s)
	if err != nil {
		return s, err
	}
	if s.Kind == "s3" {
		if res := a.probe(ctx, s); !res.OK {
			return s, api.Errorf(api.CodeInvalid, "recording storage not changed: %s", res.Message)
		}
	}
	s, err = a.cfg.Router.SetActive(ctx, s, by, true)
	if err != nil {
		return s, api.Errorf(api.CodeInvalid, "recording storage not changed: %v", err)
	}
	return redact(s), nil
}

// TestRecordingStorage probes s, or the storage in force when s is nil.
func (a *Admin) TestRecordingStorage(ctx context.Context, s *api.RecordingStorage) api.StorageTestResult {
	var cur api.RecordingStorage
	var err error
	if s == nil {
		cur, err = a.cfg.Router.Storage(ctx, a.cfg.DefaultStorage)
	} else {
		cur, err = a.checkStorage(ctx, *s)
	}
	if err != nil {
		return api.StorageTestResult{Message: err.Error()}
	}
	return a.probe(ctx, cur)
}

// probe writes, reads and deletes a probe object in s.
func (a *Admin) probe(ctx context.Context, s api.RecordingStorage) api.StorageTestResult {
	if s.Kind != "s3" {
		return a.cfg.Router.dir.Probe()
	}
	st, err := openStore(s, a.cfg.Router.dir)
	if err != nil {
		return api.StorageTestResult{Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return st.(*Bucket).Probe(ctx)
}
