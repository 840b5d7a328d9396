package spool

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Config configures a Spool. Zero fields take the defaults of withDefaults.
type Config struct {
	Dir    string // the spool directory (created if missing); required
	Logger *slog.Logger
	// FlushDelay bounds how long written bytes stay in the writer's buffer
	// before they reach the data file (and the uploader). Default 20 ms.
	FlushDelay time.Duration
	// SyncInterval is the longest time between fsyncs while data flows.
	// Default 1 s.
	SyncInterval time.Duration
	// BufferSize is the writer buffer; larger writes go straight to the
	// file. Default 64 KiB.
	BufferSize int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FlushDelay <= 0 {
		c.FlushDelay = 20 * time.Millisecond
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = time.Second
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 64 << 10
	}
	return c
}

// ErrExists is returned by Create when the spool already holds a recording
// of that session.
var ErrExists = errors.New("recording already spooled")

// Spool is a directory of recordings. It is safe for concurrent use.
type Spool struct {
	cfg   Config
	mu    sync.Mutex
	recs  map[string]*Recording
	added chan struct{} // closed (and replaced) when a recording is created
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidID reports whether id can name a spooled recording (it becomes part
// of a file name, so it is restricted to letters, digits, '-' and '_').
func ValidID(id string) bool { return idPattern.MatchString(id) }

var formats = []api.RecordingFormat{api.FormatAsciicast, api.FormatDeskproto, api.FormatQuerylog, api.FormatHAR, api.FormatConnlog}

func validFormat(f api.RecordingFormat) bool {
	for _, v := range formats {
		if v == f {
			return true
		}
	}
	return false
}

// Open opens (creating if needed) the spool directory, repairs torn
// sidecars and finalises as cut every recording left unfinished by a
// previous run.
func Open(cfg Config) (*Spool, error) {
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("spool: no directory given")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	s := &Spool{cfg: cfg, recs: map[string]*Recording{}, added: make(chan struct{})}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("read spool directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasSuffix(name, metaSuffix) {
			continue
		}
		id, format, ok := strings.Cut(name, ".")
		if !ok || !ValidID(id) || !validFormat(api.RecordingFormat(format)) {
			cfg.Logger.Warn("ignoring unknown file in the spool", "file", name)
			continue
		}
		rec, err := s.recover(id, api.RecordingFormat(format))
		if err != nil {
			return nil, err
		}
		s.recs[id] = rec
	}
	return s, nil
}

const metaSuffix = ".meta"

func (s *Spool) paths(id string, f api.RecordingFormat) (data, meta string) {
	data = filepath.Join(s.cfg.Dir, id+"."+string(f))
	return data, data + metaSuffix
}

// recover loads one recording found on disk.
func (s *Spool) recover(id string, format api.RecordingFormat) (*Recording, error) {
	dataPath, metaPath := s.paths(id, format)
	log := s.cfg.Logger.With("session", id, "format", format)
	if _, err := os.Stat(metaPath); errors.Is(err, os.ErrNotExist) {
		// Crash between creating the two files.
		if err := os.WriteFile(metaPath, nil, 0o600); err != nil {
			return nil, fmt.Errorf("create spool sidecar: %w", err)
		}
	}
	recs, cut, err := readSidecar(metaPath)
	if err != nil {
		return nil, err
	}
	if cut {
		log.Warn("cut a torn record from a spool sidecar")
	}
	st, err := os.Stat(dataPath)
	if err != nil {
		return nil, fmt.Errorf("stat spooled recording: %w", err)
	}
	size := st.Size()
	rec := &Recording{ID: id, Format: format, dataPath: dataPath, metaPath: metaPath, changed: make(chan struct{})}
	var last sideRecord
	if len(recs) > 0 {
		last = recs[len(recs)-1]
	}
	if last.kind == kindFinal || last.kind == kindCut {
		if size < last.length {
			log.Warn("spooled recording is shorter than its final length; data was lost on disk", "have", size, "want", last.length)
		} else if size > last.length {
			if err := os.Truncate(dataPath, last.length); err != nil {
				return nil, fmt.Errorf("trim spooled recording: %w", err)
			}
			size = last.length
		}
		rec.size, rec.final, rec.cut = size, true, last.kind == kindCut
		return rec, nil
	}
	if last.kind == kindSynced && size < last.length {
		log.Warn("spooled recording is shorter than its last synced length; data was lost on disk", "have", size, "want", last.length)
	}
	// The agent stopped while this session ran: finalise it as cut.
	f, err := os.OpenFile(metaPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open spool sidecar: %w", err)
	}
	err = appendRecord(f, sideRecord{kind: kindCut, length: size})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	log.Info("finalised a recording interrupted by an agent stop as cut", "size", size)
	rec.size, rec.final, rec.cut = size, true, true
	return rec, nil
}

// Create starts a new recording for a session.
func (s *Spool) Create(sessionID string, format api.RecordingFormat) (*Writer, error) {
	if !ValidID(sessionID) {
		return nil, fmt.Errorf("spool: invalid session id %q", sessionID)
	}
	if !validFormat(format) {
		return nil, fmt.Errorf("spool: unknown recording format %q", format)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[sessionID]; ok {
		return nil, fmt.Errorf("spool: session %s: %w", sessionID, ErrExists)
	}
	dataPath, metaPath := s.paths(sessionID, format)
	data, err := os.OpenFile(dataPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: create recording: %w", err)
	}
	meta, err := os.OpenFile(metaPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		data.Close()
		os.Remove(dataPath)
		return nil, fmt.Errorf("spool: create recording sidecar: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		data.Close()
		meta.Close()
		os.Remove(dataPath)
		os.Remove(metaPath)
		return nil, err
	}
	rec := &Recording{ID: sessionID, Format: format, dataPath: dataPath, metaPath: metaPath, changed: make(chan struct{}), writing: true}
	s.recs[sessionID] = rec
	close(s.added)
	s.added = make(chan struct{})
	return newWriter(s, rec, data, meta), nil
}

// Recordings returns every spooled recording, ordered by session id.
func (s *Spool) Recordings() []*Recording {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Recording, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IDs returns the session ids of every spooled recording (for the hello).
func (s *Spool) IDs() []string {
	recs := s.Recordings()
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// Get returns the spooled recording of a session.
func (s *Spool) Get(id string) (*Recording, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	return r, ok
}

// Added returns a channel closed when the next recording is created.
func (s *Spool) Added() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.added
}

// Remove deletes a recording that is final (uploaded and acknowledged).
func (s *Spool) Remove(id string) error {
	s.mu.Lock()
	rec, ok := s.recs[id]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if _, final, _ := rec.State(); !final {
		return fmt.Errorf("spool: recording %s is still being written", id)
	}
	return s.drop(rec)
}

func (s *Spool) drop(rec *Recording) error {
	s.mu.Lock()
	delete(s.recs, rec.ID)
	s.mu.Unlock()
	err := errors.Join(removeIfExists(rec.dataPath), removeIfExists(rec.metaPath))
	if err != nil {
		return fmt.Errorf("spool: remove recording %s: %w", rec.ID, err)
	}
	return syncDir(s.cfg.Dir)
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

// Recording is one spooled recording. Its state is updated by its Writer
// and read by the uploader.
type Recording struct {
	ID       string
	Format   api.RecordingFormat
	dataPath string
	metaPath string

	mu      sync.Mutex
	size    int64 // bytes in the data file that readers may read
	final   bool
	cut     bool
	writing bool
	changed chan struct{} // closed (and replaced) on every state change
}

// State returns the readable size, whether the recording is final, and a
// channel closed at the next change.
func (r *Recording) State() (size int64, final bool, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size, r.final, r.changed
}

// Cut reports whether a final recording ended abnormally.
func (r *Recording) Cut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

func (r *Recording) update(size int64, final, cut bool) {
	r.mu.Lock()
	r.size, r.final, r.cut = size, final, cut
	if final {
		r.writing = false
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Reader opens the recording's data file for reading; read only below the
// size State reports.
func (r *Recording) Reader() (io.ReaderAt, io.Closer, error) {
	f, err := os.Open(r.dataPath)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: open recording %s: %w", r.ID, err)
	}
	return f, f, nil
}
