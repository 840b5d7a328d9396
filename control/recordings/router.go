package recordings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// DirStore is the name of the local directory store.
const DirStore = "dir"

// locationStore is what a Router needs of the database: where each
// recording is, and the settings holding every store's configuration.
type locationStore interface {
	SetRecordingLocation(ctx context.Context, sessionID, store string, at time.Time) error
	RecordingLocation(ctx context.Context, sessionID string) (string, bool, error)
	GetSetting(ctx context.Context, key string) (string, bool, error)
	PutSetting(ctx context.Context, key, value, by string, at time.Time) error
}

// Router is the Store control uses: it writes new recordings to the
// active store (the local directory or an S3-compatible bucket, see
// SetActive) and reads, sizes and deletes each recording in the store that
// took its first chunk (recorded in the database), so switching the
// storage keeps older recordings readable where they are. Recordings with
// no recorded location (stored before locations were recorded) are in the
// local directory.
type Router struct {
	dir   *Dir
	db    locationStore
	clock func() time.Time

	mu     sync.Mutex
	active string
	stores map[string]Store
	where  map[string]string // session id → store name (cache)
}

var _ Store = (*Router)(nil)

// NewRouter returns a Router over the local directory dir, with the
// active storage from the database (or def when none was set).
func NewRouter(ctx context.Context, dir *Dir, db locationStore, def api.RecordingStorage, clock func() time.Time) (*Router, error) {
	if clock == nil {
		clock = time.Now
	}
	r := &Router{dir: dir, db: db, clock: clock, active: DirStore, stores: map[string]Store{DirStore: dir}, where: map[string]string{}}
	cur, err := r.Storage(ctx, def)
	if err != nil {
		return nil, err
	}
	if _, err := r.SetActive(ctx, cur, "", false); err != nil {
		return nil, fmt.Errorf("recording storage: %w", err)
	}
	return r, nil
}

const storageKey = "recording_storage"

// StoreName names a storage setting: "dir" or "s3:<endpoint>/<bucket>/<prefix>".
func StoreName(s api.RecordingStorage) string {
	if s.Kind == "s3" && s.S3 != nil {
		return "s3:" + s.S3.Endpoint + "/" + s.S3.Bucket + "/" + s.S3.Prefix
	}
	return DirStore
}

// Storage returns the storage setting in force (def when none was set).
func (r *Router) Storage(ctx context.Context, def api.RecordingStorage) (api.RecordingStorage, error) {
	v, ok, err := r.db.GetSetting(ctx, storageKey)
	if err != nil || !ok {
		return def, err
	}
	var s api.RecordingStorage
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return def, fmt.Errorf("recording storage setting: %w", err)
	}
	return s, nil
}

// openStore opens the store of a setting.
func openStore(s api.RecordingStorage, dir *Dir) (Store, error) {
	switch s.Kind {
	case "", DirStore:
		return dir, nil
	case "s3":
		if s.S3 == nil {
			return nil, errors.New("s3 storage without its settings")
		}
		return NewBucket(BucketConfig{S3: *s.S3, Staging: filepath.Join(dir.Root(), ".s3-staging")})
	}
	return nil, fmt.Errorf("unknown recording storage kind %q (want dir or s3)", s.Kind)
}

// SetActive makes s the storage of new recordings (opening it), records
// its configuration so recordings stored there stay readable, and, with
// save, stores it as the setting in force. It returns s as stored.
func (r *Router) SetActive(ctx context.Context, s api.RecordingStorage, by string, save bool) (api.RecordingStorage, error) {
	if s.Kind == "" {
		s.Kind = DirStore
	}
	st, err := openStore(s, r.dir)
	if err != nil {
		return s, err
	}
	name := StoreName(s)
	b, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	now := r.clock()
	if err := r.db.PutSetting(ctx, "store:"+name, string(b), by, now); err != nil {
		return s, err
	}
	if save {
		if err := r.db.PutSetting(ctx, storageKey, string(b), by, now); err != nil {
			return s, err
		}
	}
	r.mu.Lock()
	r.stores[name], r.active = st, name
	r.mu.Unlock()
	return s, nil
}

// Active returns the name of the store new recordings go to.
func (r *Router) Active() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active
}

// storeOf returns the store holding a recording and its name; create
// assigns the active store to a recording that has none yet.
func (r *Router) storeOf(ctx context.Context, sessionID string, create bool) (Store, string, error) {
	if err := CheckSessionID(sessionID); err != nil {
		return nil, "", err
	}
	r.mu.Lock()
	name, ok := r.where[sessionID]
	r.mu.Unlock()
	if !ok {
		var err error
		name, ok, err = r.db.RecordingLocation(ctx, sessionID)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			name = DirStore
			if create {
				name = r.Active()
				if err := r.db.SetRecordingLocation(ctx, sessionID, name, r.clock()); err != nil {
					return nil, "", err
				}
			}
		}
		if ok || create {
			r.mu.Lock()
			r.where[sessionID] = name
			r.mu.Unlock()
		}
	}
	st, err := r.store(ctx, name)
	return st, name, err
}

// store returns the named store, opening it from its recorded settings.
func (r *Router) store(ctx context.Context, name string) (Store, error) {
	r.mu.Lock()
	st, ok := r.stores[name]
	r.mu.Unlock()
	if ok {
		return st, nil
	}
	v, ok, err := r.db.GetSetting(ctx, "store:"+name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("recording store %q is not configured any more", name)
	}
	var s api.RecordingStorage
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("recording store %q: %w", name, err)
	}
	if st, err = openStore(s, r.dir); err != nil {
		return nil, fmt.Errorf("recording store %q: %w", name, err)
	}
	r.mu.Lock()
	r.stores[name] = st
	r.mu.Unlock()
	return st, nil
}

// WriteAt implements Store: a new recording goes to the active store.
func (r *Router) WriteAt(ctx context.Context, sessionID string, format api.RecordingFormat, off int64, data []byte, final bool) (int64, error) {
	st, _, err := r.storeOf(ctx, sessionID, off == 0)
	if err != nil {
		return 0, err
	}
	return st.WriteAt(ctx, sessionID, format, off, data, final)
}

// Size implements Store.
func (r *Router) Size(ctx context.Context, sessionID string, format api.RecordingFormat) (int64, error) {
	st, _, err := r.storeOf(ctx, sessionID, false)
	if err != nil {
		return 0, err
	}
	return st.Size(ctx, sessionID, format)
}

// Open implements Store.
func (r *Router) Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error) {
	st, _, err := r.storeOf(ctx, sessionID, false)
	if err != nil {
		return nil, err
	}
	return st.Open(ctx, sessionID, format)
}

// Delete implements Store.
func (r *Router) Delete(ctx context.Context, sessionID string) error {
	st, _, err := r.storeOf(ctx, sessionID, false)
	if err != nil {
		return err
	}
	return st.Delete(ctx, sessionID)
}

// Location returns the name of the store holding a recording.
func (r *Router) Location(ctx context.Context, sessionID string) (string, error) {
	_, name, err := r.storeOf(ctx, sessionID, false)
	return name, err
}
